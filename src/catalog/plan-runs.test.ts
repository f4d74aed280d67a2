// Tests of the plan-run store: runs, tasks in creation order, log lines,
// prefix lookup, and quiesces and runs left behind by a dead process.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from './catalog.ts';
import { ManualClock } from '../core/clock.ts';
import { isSafeholdError } from '../core/errors.ts';

function tempCatalog(
  t: { after: (fn: () => void) => void },
  clock = new ManualClock(),
): { dir: string; catalog: Catalog; clock: ManualClock } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-planruns-'));
  const catalog = Catalog.open(dir, clock);
  t.after(() => {
    catalog.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, catalog, clock };
}

describe('plan run store', () => {
  it('records a run with its tasks in creation order, their outcomes and the log', async (t) => {
    const { catalog, clock } = tempCatalog(t);
    const store = catalog.planRuns();
    const run = store.startRun({ plan: 'nightly', trigger: 'on-demand', configFile: '/etc/safehold.yaml' });
    const a = store.addTask(run, {
      seq: 1,
      activity: 'secure',
      kind: 'backup',
      target: 'QA1',
      unit: null,
      status: 'pending',
    });
    const b = store.addTask(run, {
      seq: 2,
      activity: 'export',
      kind: 'export',
      target: 'TEST9',
      unit: 'DOMAIN*',
      status: 'skipped',
      reason: 'target TEST9 is unavailable',
    });
    store.log(run, 'info', 'admitted');
    await clock.advance(1000);
    store.startTask(a);
    store.log(run, 'info', 'backing up QA1', a);
    await clock.advance(2000);
    store.finishTask(a, { status: 'succeeded', snapshots: ['abc'], bytes: 42 });
    store.finishRun(run, 'partial', '1 task skipped');

    const r = store.getRun(run)!;
    assert.equal(r.status, 'partial');
    assert.equal(r.reason, '1 task skipped');
    assert.equal(r.finishedAt! - r.startedAt, 3000);
    assert.equal(r.trigger, 'on-demand');
    const tasks = store.tasks(run);
    assert.deepEqual(
      tasks.map((x) => [x.seq, x.target, x.unit, x.status]),
      [
        [1, 'QA1', null, 'succeeded'],
        [2, 'TEST9', 'DOMAIN*', 'skipped'],
      ],
    );
    assert.deepEqual(tasks[0]!.snapshots, ['abc']);
    assert.equal(tasks[0]!.finishedAt! - tasks[0]!.startedAt!, 2000);
    assert.equal(tasks[1]!.reason, 'target TEST9 is unavailable');
    assert.equal(b, `${run}-2`);
    assert.deepEqual(
      store.logLines(run).map((l) => [l.seq, l.taskId, l.message]),
      [
        [1, null, 'admitted'],
        [2, a, 'backing up QA1'],
      ],
    );
  });

  it('finds runs by unique prefix and lists newest first', async (t) => {
    const { catalog, clock } = tempCatalog(t);
    const store = catalog.planRuns();
    const first = store.startRun({ plan: 'p', trigger: 'scheduled' });
    await clock.advance(1);
    const second = store.startRun({ plan: 'p', trigger: 'retry' });
    assert.deepEqual(
      store.listRuns().map((r) => r.id),
      [second, first],
    );
    assert.equal(store.findRun(first.slice(0, 12)).id, first);
    assert.throws(
      () => store.findRun('zzzz'),
      (e: unknown) => isSafeholdError(e, 'NOT_FOUND'),
    );
    assert.throws(
      () => store.findRun(''),
      (e: unknown) => isSafeholdError(e, 'NOT_FOUND'),
    );
  });

  it('finds a quiesce a dead process left behind, and marks its run failed', (t) => {
    const { dir, catalog } = tempCatalog(t);
    // A child process starts a run, records a quiesce and dies without releasing it.
    const script = `
      import { Catalog } from ${JSON.stringify(path.resolve(import.meta.dirname, 'catalog.ts'))};
      const c = Catalog.open(${JSON.stringify(dir)});
      const s = c.planRuns();
      const run = s.startRun({ plan: 'p', trigger: 'on-demand' });
      s.addTask(run, { seq: 1, activity: 'a', kind: 'backup', target: 'QA1', unit: 'D1', status: 'running' });
      s.recordQuiesce({ runId: run, taskId: run + '-1', target: 'QA1', unit: 'D1' });
      c.close();`;
    const r = spawnSync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    const store = catalog.planRuns();
    const mine = store.startRun({ plan: 'mine', trigger: 'on-demand' });
    store.recordQuiesce({ runId: mine, taskId: null, target: 'QA2', unit: null });
    const left = store.abandonedQuiesces();
    assert.deepEqual(
      left.map((q) => [q.target, q.unit]),
      [['QA1', 'D1']],
      "only the dead process's quiesce, not this process's own",
    );
    store.releaseQuiesce(left[0]!.id, 'unquiesced at start');
    assert.deepEqual(store.abandonedQuiesces(), []);
    assert.equal(store.markAbandonedRuns().length, 1);
    const dead = store.listRuns().find((x) => x.plan === 'p')!;
    assert.equal(dead.status, 'failed');
    assert.match(dead.reason!, /died while running/);
    assert.equal(store.tasks(dead.id)[0]!.status, 'failed');
    assert.equal(store.getRun(mine)!.status, 'running', 'a live run is left alone');
  });
});
