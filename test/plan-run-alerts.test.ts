// No run that did not fully succeed stays silent: a partial, skipped or
// refused run raises run-incomplete (warning) with every unfinished task's
// reason, a failed one run-failed (critical); a run that succeeded raises
// nothing.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runPlan } from '../src/plans/run/runner.ts';
import type { AlertEvent } from '../src/core/alert-event.ts';
import { activity, hook, planWorld, taskLog } from './helpers/plan-fixtures.ts';

async function run(w: Awaited<ReturnType<typeof planWorld>>) {
  const alerts: AlertEvent[] = [];
  const r = await runPlan({
    config: w.config,
    plan: 'nightly',
    trigger: 'on-demand',
    catalog: w.catalog,
    pollMs: 20,
    alert: (e) => alerts.push(e),
  });
  return { r, alerts: alerts.filter((a) => a.event === 'run-failed' || a.event === 'run-incomplete') };
}

const one = { activities: [activity('backup', 'backup', 'QA*', null)] };

describe('plan run alerts', () => {
  it('a partial run raises run-incomplete naming the skipped task and its reason', async (t) => {
    const w = await planWorld({ QA1: {}, QA2: { available: false } }, one);
    t.after(() => w.close());
    const { r, alerts } = await run(w);
    assert.equal(r.status, 'partial');
    assert.equal(alerts.length, 1);
    const a = alerts[0]!;
    assert.equal(a.event, 'run-incomplete');
    assert.equal(a.severity, 'warning');
    assert.match(
      a.summary,
      /^plan nightly: run \w{8} partial: .*QA2 skipped: target QA2 is unavailable: QA2 answers that it is not available/,
    );
    assert.deepEqual(a.details.tasks, [
      {
        seq: 2,
        activity: 'backup',
        target: 'QA2',
        unit: null,
        status: 'skipped',
        reason: 'target QA2 is unavailable: QA2 answers that it is not available',
      },
    ]);
    assert.equal(a.details.status, 'partial');
  });

  it('a skipped run and a refused run raise run-incomplete; a run that succeeded raises nothing', async (t) => {
    const skipped = await planWorld({ QA1: { available: false } }, one);
    t.after(() => skipped.close());
    const s = await run(skipped);
    assert.equal(s.r.status, 'skipped');
    assert.deepEqual(
      s.alerts.map((a) => [a.event, a.details.status]),
      [['run-incomplete', 'skipped']],
    );

    const refused = await planWorld({ QA1: {} }, one, { destination: { path: '/nonexistent/repo' } });
    t.after(() => refused.close());
    const f = await run(refused);
    assert.equal(f.r.status, 'refused');
    assert.equal(f.alerts.length, 1);
    assert.match(f.alerts[0]!.summary, /refused: .*not reachable/);

    const fine = await planWorld({ QA1: {} }, one);
    t.after(() => fine.close());
    const ok = await run(fine);
    assert.equal(ok.r.status, 'succeeded');
    assert.deepEqual(ok.alerts, []);
  });

  it('a failed run raises run-failed with the failed task reasons', async (t) => {
    const w = await planWorld(
      { QA1: {} },
      { activities: [activity('backup', 'backup', 'QA*', null, { preTask: hook('no', 'echo no >&2; exit 4') })] },
    );
    t.after(() => w.close());
    const { r, alerts } = await run(w);
    assert.equal(r.status, 'failed');
    assert.equal(alerts.length, 1);
    assert.equal(alerts[0]!.event, 'run-failed');
    assert.equal(alerts[0]!.severity, 'critical');
    assert.match(alerts[0]!.summary, /QA1 failed: pre-task hook no exited with 4/);
  });

  it('a target pattern that matches nothing is a failed task: the run is partial beside a good task, and alerts', async (t) => {
    const w = await planWorld(
      { QA1: {} },
      { activities: [activity('backup', 'backup', 'QA*', null), activity('typo', 'backup', 'QB*', null)] },
    );
    t.after(() => w.close());
    const { r, alerts } = await run(w);
    assert.equal(r.status, 'partial');
    assert.equal(r.reason, '1 task(s) failed, 0 cancelled, 1 succeeded, 0 skipped');
    assert.deepEqual(
      alerts.map((a) => [a.event, a.details.status]),
      [['run-incomplete', 'partial']],
    );
    assert.match(alerts[0]!.summary, /QB\* failed: no target matches 'QB\*'/);

    const allowed = await planWorld(
      { QA1: {} },
      {
        activities: [
          activity('backup', 'backup', 'QA*', null),
          activity('typo', 'backup', 'QB*', null, { allowEmpty: true }),
        ],
      },
    );
    t.after(() => allowed.close());
    const ok = await run(allowed);
    assert.equal(ok.r.status, 'succeeded');
    assert.deepEqual(ok.alerts, []);
    const log = taskLog(allowed, ok.r.id, null);
    assert.ok(log.includes("activity typo: no target matches 'QB*'; left out (allowEmpty)"), log.join('\n'));
  });
});
