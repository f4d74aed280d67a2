// A unit quiesced by a task is unquiesced even when the process dies (SPEC
// S4): a child process runs a plan and is killed with SIGKILL while the unit
// is quiesced (the device holds the backup); the appliance simulator lives in
// this process and outlives it. The next start finds the quiesce record left
// by the dead process, unquiesces the unit, releases the record, marks the
// dead run failed, and then runs normally.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { runPlan } from '../src/plans/run/runner.ts';
import { recoverAbandoned } from '../src/plans/run/recover.ts';
import { OPT_IN_EVENTS } from '../src/core/alert-event.ts';
import type { AlertEvent } from '../src/core/alert-event.ts';
import { buildTargets } from '../src/drivers/target/targets.ts';
import { effectiveState } from './helpers/appliance-server.ts';
import { activity, planWorld, quiesceRecords, taskLog } from './helpers/plan-fixtures.ts';

const SRC = path.join(import.meta.dirname, '..', 'src');

/** The child: runs the plan of the config file named in argv[2] against the catalog in its data dir. */
function childScript(): string {
  const url = (p: string) => JSON.stringify(pathToFileURL(path.join(SRC, p)).href);
  return `
import fs from 'node:fs';
import { runPlan } from ${url('plans/run/runner.ts')};
import { Catalog } from ${url('catalog/catalog.ts')};
const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const catalog = Catalog.open(config.settings.dataDir);
const r = await runPlan({ config, plan: 'nightly', trigger: 'scheduled', catalog, pollMs: 20 });
process.stdout.write(JSON.stringify(r) + '\\n');
`;
}

async function until(
  what: string,
  child: ChildProcess,
  stderr: () => string,
  cond: () => boolean,
  limitMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!cond()) {
    if (child.exitCode !== null) throw new Error(`the child exited (${child.exitCode}) before ${what}: ${stderr()}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('plan recovery', () => {
  it('kill -9 while a unit is quiesced: the next start unquiesces it, releases the record, fails the dead run, and runs', async (t) => {
    const w = await planWorld(
      { TEST8: { latencyMs: { backup: 60_000 } } },
      {
        activities: [activity('export', 'export', 'TEST8', 'DOMAIN1', { quiesce: true, quiesceTimeoutMs: 300 })],
      },
    );
    t.after(() => w.close());
    const dev = w.appliances.TEST8!.state;
    const configFile = path.join(w.dir, 'config.json');
    fs.writeFileSync(configFile, JSON.stringify(w.config));
    const script = path.join(w.dir, 'run-plan.mjs');
    fs.writeFileSync(script, childScript());

    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', script, configFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.resume();
    // Wait until the unit is quiesced and the device is (slowly) answering the export.
    await until(
      'the quiesce and the export request',
      child,
      () => stderr,
      () => effectiveState(dev, 'DOMAIN1', Date.now()) === 'quiesced' && dev.calls.some((c) => c.op === 'backup'),
    );
    child.kill('SIGKILL');
    await exited;
    assert.equal(child.signalCode, 'SIGKILL');
    const pid = child.pid!;

    // What the dead process left: a running run, a running task, a quiesce record it never released.
    const store = w.catalog.planRuns();
    const [dead] = store.listRuns();
    assert.equal(dead!.status, 'running');
    assert.equal(dead!.pid, pid);
    const left = quiesceRecords(w);
    assert.deepEqual(
      left.map((q) => [q.target, q.unit, q.pid, q.releasedAt, q.runId]),
      [['TEST8', 'DOMAIN1', pid, null, dead!.id]],
    );
    assert.equal(effectiveState(dev, 'DOMAIN1', Date.now()), 'quiesced');
    assert.ok(
      left[0]!.requestedAt <= dev.calls.find((c) => c.op === 'quiesce')!.at,
      'recorded before the quiesce was issued',
    );

    // A first start while the device refuses to unquiesce: nothing is released, the failure is logged.
    dev.failUnquiesce = true;
    const failed = await recoverAbandoned(store, buildTargets(w.config), w.catalog.leases());
    assert.deepEqual([failed.unquiesced, failed.notUndone, failed.runsFailed], [[], ['TEST8/DOMAIN1'], 1]);
    assert.equal(failed.leasesReleased, 1, "the dead run's lease is released");
    assert.deepEqual(w.catalog.leases().list(), []);
    assert.equal(quiesceRecords(w)[0]!.releasedAt, null, 'kept for the next start');
    assert.match(
      taskLog(w, dead!.id, left[0]!.taskId).at(-1)!,
      new RegExp(
        `^could not undo the quiesce of TEST8/DOMAIN1 left by process ${pid}: .*unquiesce failed on the device`,
      ),
    );

    // The next start, with the device well again: the unquiesce comes before anything else.
    dev.failUnquiesce = false;
    dev.latencyMs = {};
    const before = dev.calls.length;
    const alerts: AlertEvent[] = [];
    const r = await runPlan({
      config: w.config,
      plan: 'nightly',
      trigger: 'on-demand',
      catalog: w.catalog,
      pollMs: 20,
      alert: (e) => alerts.push(e),
    });
    assert.deepEqual(
      alerts.filter((a) => !OPT_IN_EVENTS.includes(a.event)).map((a) => [a.event, a.summary]),
      [['quiesce-repaired', `unquiesced TEST8/DOMAIN1 at start: left behind by process ${pid}, which died`]],
    );
    const after = dev.calls.slice(before).filter((c) => c.status < 400);
    assert.deepEqual(
      after.slice(0, 2).map((c) => [c.op, c.unit]),
      [
        ['unquiesce', 'DOMAIN1'],
        ['health', null],
      ],
      'recovery before expansion',
    );

    const recs = quiesceRecords(w);
    assert.equal(recs[0]!.id, left[0]!.id);
    assert.equal(recs[0]!.outcome, `unquiesced at start (left by process ${pid}, which died)`);
    assert.ok(recs[0]!.releasedAt !== null);
    assert.ok(
      taskLog(w, dead!.id, left[0]!.taskId).includes(
        `unquiesced TEST8/DOMAIN1 at start: the quiesce was left by process ${pid}, which died`,
      ),
    );
    const deadNow = store.getRun(dead!.id)!;
    assert.deepEqual([deadNow.status, deadNow.reason], ['failed', `process ${pid} died while running`]);
    assert.deepEqual(
      store.tasks(dead!.id).map((x) => [x.status, x.reason]),
      [['failed', 'the run was abandoned']],
    );

    // The new run went on normally: its own quiesce, export and unquiesce.
    assert.equal(r.status, 'succeeded');
    assert.deepEqual(
      r.tasks.map((x) => [x.unit, x.status, x.snapshots.length]),
      [['DOMAIN1', 'succeeded', 1]],
    );
    assert.deepEqual(
      after.filter((c) => c.op !== 'state').map((c) => c.op),
      ['unquiesce', 'health', 'units', 'unsaved', 'quiesce', 'backup', 'unquiesce'],
    );
    assert.deepEqual(
      recs.slice(1).map((q) => [q.runId, q.outcome]),
      [[r.id, 'unquiesced']],
    );
    assert.equal(effectiveState(dev, 'DOMAIN1', Date.now()), 'active');
    // Nothing left to recover.
    assert.deepEqual(await recoverAbandoned(store, buildTargets(w.config)), {
      runsFailed: 0,
      abandoned: [],
      unquiesced: [],
      repaired: [],
      notUndone: [],
      leasesReleased: 0,
    });
  });
});
