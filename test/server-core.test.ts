// The server's scheduling and exclusion (S5) on an injected clock, with real
// appliance simulators, repositories and catalogs: exact retry times of a
// scheduled backup (10 min / 4 h) and a purge (10 min / 6 h), on-demand
// refusal with the holder, the 12-hour clearing, backup-vs-purge exclusion
// both ways, coalescing, parallel runs up to the limit, graceful stop with
// cleanup exactly once, task timeouts, and retries that do not repeat work.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { DatabaseSync } from 'node:sqlite';
import { ManualClock } from '../src/core/clock.ts';
import { OPT_IN_EVENTS } from '../src/core/alert-event.ts';
import type { AlertEvent } from '../src/core/alert-event.ts';
import type { Config, Plan } from '../src/config/types.ts';
import { ServerCore } from '../src/scheduler/server-core.ts';
import { runPlan } from '../src/plans/run/runner.ts';
import { listSnapshots } from '../src/repo/snapshot.ts';
import { activity, hook, openRepo, planWorld } from './helpers/plan-fixtures.ts';
import { alerter } from '../src/alerts/from-config.ts';
import { hasSnmptrapd, startSnmptrapd } from './helpers/snmptrapd.ts';
import type { PlanWorld } from './helpers/plan-fixtures.ts';
import { until } from './helpers/wait.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const T0 = Date.UTC(2026, 10, 25, 1, 59);
const DUE = Date.UTC(2026, 10, 25, 2, 0);

interface Rig {
  w: PlanWorld;
  clock: ManualClock;
  core: ServerCore;
  alerts: AlertEvent[];
  logs: string[];
  config: Config;
}

async function rig(
  t: { after(fn: () => Promise<void> | void): void },
  opts: {
    devices?: Parameters<typeof planWorld>[0];
    plans: Record<string, Partial<Plan> & { activities: Plan['activities'][number][] }>;
    maxParallelRuns?: number;
    shutdownGraceMs?: number;
    /** Also deliver alerts on these configured channels (real deliveries). */
    channels?: Config['alerts'];
  },
): Promise<Rig> {
  const clock = new ManualClock(T0);
  const first = Object.values(opts.plans)[0]!;
  const w = await planWorld(opts.devices ?? { QA1: {} }, first, { clock });
  const base = w.config.plans.nightly!;
  const plans = Object.fromEntries(Object.entries(opts.plans).map(([name, p]) => [name, { ...base, name, ...p }]));
  const config: Config = {
    ...w.config,
    settings: {
      ...w.config.settings,
      maxParallelRuns: opts.maxParallelRuns ?? 2,
      shutdownGraceMs: opts.shutdownGraceMs ?? 5000,
    },
    plans,
  };
  const alerts: AlertEvent[] = [];
  const logs: string[] = [];
  const send = alerter(w.catalog, opts.channels ?? [], clock);
  const core = new ServerCore({
    config,
    catalog: w.catalog,
    clock,
    alert: (e) => {
      if (!OPT_IN_EVENTS.includes(e.event)) alerts.push(e);
      send.alert(e);
    },
    log: (_l, m) => logs.push(m),
    pollMs: 5,
    sweepMs: HOUR,
  });
  t.after(async () => {
    await core.stop(0);
    await w.close();
  });
  return { w, clock, core, alerts, logs, config };
}

/** Holds `scope` as another live holder, heartbeat kept fresh as the manual clock moves. */
function holdScope(r: Rig, scope: string, kind: 'backup' | 'purge' = 'backup'): void {
  const leases = r.w.catalog.leases();
  assert.ok(leases.acquire([scope], { kind, holder: 'other-run', runId: 'feedc0de00000000' }).ok);
  r.clock.onAdvance = () => leases.heartbeat('other-run');
}

/** Attempt times (minutes after DUE) of a run: the clock time of each "target:… is held by …" log line (a lock attempt that found the scope taken). */
function attemptMinutes(r: Rig, runId: string): number[] {
  return r.w.catalog
    .planRuns()
    .logLines(runId)
    .filter((l) => /^(?:target|unit):\S+ is held by /.test(l.message))
    .map((l) => (l.at - DUE) / MIN);
}

function onlyRun(r: Rig) {
  const runs = r.w.catalog
    .planRuns()
    .listRuns({ limit: 100 })
    .filter((x) => x.coalescedInto === null);
  assert.equal(runs.length, 1, `one run: ${JSON.stringify(runs.map((x) => x.status))}`);
  return runs[0]!;
}

/** Moves the clock in `step` increments until `done()`, letting real I/O settle between steps. */
async function driveUntil(r: Rig, done: () => boolean, step: number, maxSteps: number): Promise<void> {
  for (let i = 0; i < maxSteps && !done(); i++) {
    await new Promise((res) => setTimeout(res, 5));
    await until(() => done() || r.clock.waiting >= 3, 'the run to sleep');
    if (!done()) await r.clock.advance(step);
  }
  await until(done, 'the end of the run');
}

const backupQA1 = {
  activities: [activity('secure-backup', 'backup', 'QA1', null)],
  schedule: { cron: '0 2 * * *', timezone: 'UTC' },
};

describe('server: retries by trigger (S5)', () => {
  it('a scheduled backup whose scope is held retries every 10 min for 4 h (25 attempts at exact times), then fails and alerts', async (t) => {
    const r = await rig(t, { plans: { nightly: backupQA1 } });
    holdScope(r, 'target:QA1');
    await r.core.start();
    await r.clock.advance(MIN);
    await until(() => r.w.catalog.planRuns().listRuns().length === 1, 'the scheduled run');
    const run = () => onlyRun(r);
    await driveUntil(r, () => run().status !== 'running', 10 * MIN, 40);
    const got = run();
    assert.equal(got.trigger, 'scheduled');
    assert.equal(got.scheduledFor, DUE);
    assert.deepEqual(
      attemptMinutes(r, got.id),
      Array.from({ length: 25 }, (_, k) => k * 10),
    );
    assert.equal(got.status, 'failed');
    assert.match(
      got.reason!,
      /^retries exhausted: target:QA1 is held by run feedc0de \(backup, pid \d+ on .+\) since .+ \(25 attempts over 4h\)$/,
    );
    assert.equal(got.finishedAt, DUE + 4 * HOUR);
    assert.deepEqual(
      r.alerts.map((a) => a.event),
      ['retries-exhausted', 'run-failed'],
    );
    assert.equal(r.alerts[0]!.details.attempts, 25);
    assert.deepEqual(
      r.w.appliances.QA1!.state.calls.filter((c) => c.op === 'backup'),
      [],
      'nothing was backed up',
    );
  });

  it('a purge whose scope is held by a backup retries every 10 min for 6 h (37 attempts), then fails', async (t) => {
    const r = await rig(t, {
      plans: {
        nightly: {
          ...backupQA1,
          retention: {
            keepLast: 1,
            keepHourly: null,
            keepDaily: null,
            keepWeekly: null,
            keepMonthly: null,
            keepYearly: null,
            keepWithinMs: null,
          },
          activities: [activity('purge', 'purge', 'QA1', null)],
        },
      },
    });
    holdScope(r, 'target:QA1', 'backup');
    await r.core.start();
    await r.clock.advance(MIN);
    await until(() => r.w.catalog.planRuns().listRuns().length === 1, 'the scheduled run');
    await driveUntil(r, () => onlyRun(r).status !== 'running', 10 * MIN, 50);
    const got = onlyRun(r);
    assert.deepEqual(
      attemptMinutes(r, got.id),
      Array.from({ length: 37 }, (_, k) => k * 10),
    );
    assert.equal(got.status, 'failed');
    assert.match(got.reason!, /held by run feedc0de \(backup, .*\(37 attempts over 6h\)$/);
    assert.equal(r.alerts[0]!.event, 'retries-exhausted');
  });

  it('retries succeed as soon as the scope is free: the third attempt runs the backup', async (t) => {
    const r = await rig(t, { plans: { nightly: backupQA1 } });
    holdScope(r, 'target:QA1');
    await r.core.start();
    await r.clock.advance(MIN);
    await until(() => attemptMinutes(r, onlyRun(r).id).length === 1, 'the first attempt');
    await driveUntil(r, () => attemptMinutes(r, onlyRun(r).id).length === 2, 10 * MIN, 3);
    r.w.catalog.leases().release('other-run');
    await driveUntil(r, () => onlyRun(r).status !== 'running', 10 * MIN, 3);
    await r.core.whenIdle();
    const got = onlyRun(r);
    assert.equal(got.status, 'succeeded');
    const locked = r.w.catalog
      .planRuns()
      .logLines(got.id)
      .find((l) => l.message.startsWith('locked '))!;
    assert.equal((locked.at - DUE) / MIN, 20);
    assert.deepEqual(r.w.catalog.leases().list(), [], 'released at the end');
  });

  it('when retries are exhausted, an SNMP v2c trap arrives at snmptrapd and the alert is stored with its delivery', {
    skip: !hasSnmptrapd() && 'snmptrapd is not installed',
  }, async (t) => {
    const trapd = await startSnmptrapd(t, 'safehold-test');
    const r = await rig(t, {
      plans: {
        nightly: {
          ...backupQA1,
          retry: {
            scheduled: { intervalMs: 10 * MIN, maxDurationMs: 20 * MIN },
            purge: { intervalMs: 10 * MIN, maxDurationMs: HOUR },
            onDemand: null,
          },
        },
      },
      channels: [
        {
          name: 'nms',
          type: 'snmp',
          events: ['retries-exhausted'],
          minSeverity: null,
          host: trapd.host,
          port: trapd.port,
          community: { source: 'inline', value: 'safehold-test' },
          timeoutMs: null,
        },
      ],
    });
    holdScope(r, 'target:QA1');
    await r.core.start();
    await r.clock.advance(MIN);
    await until(() => r.w.catalog.planRuns().listRuns().length === 1, 'the scheduled run');
    await driveUntil(r, () => onlyRun(r).status !== 'running', 10 * MIN, 5);
    assert.deepEqual(attemptMinutes(r, onlyRun(r).id), [0, 10, 20]);
    const trap = await trapd.waitForTrap(
      (x) => x.trapOid.endsWith('safeholdRetriesExhausted'),
      'the retries-exhausted trap',
    );
    const summary = Object.entries(trap.vars).find(([k]) => k.includes('safeholdAlertSummary'))![1];
    assert.match(summary, /plan nightly: gave up after 3 attempts: target:QA1 is held by run feedc0de/);
    await until(
      () =>
        r.w.catalog
          .alerts()
          .list()
          .some((a) => a.event === 'retries-exhausted' && a.deliveries.length === 1),
      'the delivery record',
    );
    const stored = r.w.catalog
      .alerts()
      .list()
      .find((a) => a.event === 'retries-exhausted')!;
    assert.deepEqual(
      stored.deliveries.map((d) => [d.channel, d.ok]),
      [['nms', true]],
    );
  });

  it('an on-demand run is refused at once, naming the holder and since when; nothing is retried', {
    timeout: 60_000,
  }, async (t) => {
    const r = await rig(t, { plans: { nightly: backupQA1 } });
    holdScope(r, 'target:QA1');
    const res = await r.core.runNow('nightly');
    assert.equal(res.status, 'refused');
    assert.match(
      res.reason!,
      /^target:QA1 is held by run feedc0de \(backup, pid \d+ on .+\) since 2026-11-25 01:59:00Z, 0ms ago; on-demand runs are not retried$/,
    );
    assert.deepEqual(
      res.tasks.map((x) => x.status),
      ['cancelled'],
    );
    // The manual clock never moves here, so a retry would leave the run asleep (caught by the timeout): one attempt, nothing waiting.
    assert.deepEqual(attemptMinutes(r, res.id), [-1], 'one attempt, at once');
    assert.equal(r.clock.waiting, 0, 'nothing sleeps until a retry');
    assert.deepEqual(
      r.w.catalog
        .planRuns()
        .listRuns()
        .map((x) => [x.id, x.trigger, x.status]),
      [[res.id, 'on-demand', 'refused']],
      'no retry run',
    );
  });
});

describe('server: stale locks', () => {
  it('a lock older than 12 h is cleared by the sweep even with a fresh heartbeat: logged and alerted', async (t) => {
    const r = await rig(t, { plans: { nightly: { activities: [activity('secure-backup', 'backup', 'QA1', null)] } } });
    holdScope(r, 'target:QA1');
    for (let h = 0; h < 11; h++) {
      await r.clock.advance(HOUR);
      r.core.sweep();
    }
    assert.equal(r.w.catalog.leases().list().length, 1, 'still held at 11 h');
    await r.clock.advance(HOUR);
    r.core.sweep();
    assert.deepEqual(r.w.catalog.leases().list(), []);
    assert.deepEqual(
      r.alerts.map((a) => [a.event, a.details.scope, a.details.why]),
      [['stale-lock-cleared', 'target:QA1', 'max-age']],
    );
    assert.ok(
      r.logs.some((l) =>
        /^cleared the lock on target:QA1 held by run feedc0de since 2026-11-25 01:59:00Z: older than the maximum age$/.test(
          l,
        ),
      ),
      r.logs.join('\n'),
    );
  });

  it('a run that finds a lock past 12 h clears it, logs it in the run and alerts, then runs', async (t) => {
    const r = await rig(t, { plans: { nightly: { activities: [activity('secure-backup', 'backup', 'QA1', null)] } } });
    holdScope(r, 'target:QA1');
    await r.clock.advance(12 * HOUR);
    const res = await r.core.runNow('nightly');
    assert.equal(res.status, 'succeeded');
    const lines = r.w.catalog
      .planRuns()
      .logLines(res.id)
      .map((l) => l.message);
    assert.ok(
      lines.includes('cleared the lock on target:QA1 held by run feedc0de: older than the maximum age (12h)'),
      lines.join('\n'),
    );
    assert.equal(r.alerts[0]!.event, 'stale-lock-cleared');
  });
});

describe('server: exclusion between plans (S5)', () => {
  const slow = { QA1: { latencyMs: { backup: 600 } }, QA2: {} };
  const retention = {
    keepLast: 1,
    keepHourly: null,
    keepDaily: null,
    keepWeekly: null,
    keepMonthly: null,
    keepYearly: null,
    keepWithinMs: null,
  };

  it('a running backup keeps an on-demand purge of the same scope out, and a running purge keeps a backup out', async (t) => {
    const dir = fs.mkdtempSync('/tmp/safehold-purge-');
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const flag = path.join(dir, 'go');
    const r = await rig(t, {
      devices: slow,
      plans: {
        nightly: { activities: [activity('secure-backup', 'backup', 'QA1', null)] },
        purge: {
          retention,
          activities: [
            activity('purge-src', 'purge', 'QA1', null, {
              purge: {
                type: 'command',
                command: ['sh', '-c', `while [ ! -e ${flag} ]; do sleep 0.02; done`],
                timeoutMs: 30_000,
              },
            }),
          ],
        },
        other: { activities: [activity('secure-backup', 'backup', 'QA2', null)] },
      },
    });
    // Backup first: the purge is refused, naming the backup.
    const backup = r.core.runNow('nightly');
    await until(() => r.w.catalog.leases().list().length === 1, 'the backup to hold its lock');
    const purge1 = await r.core.runNow('purge');
    assert.equal(purge1.status, 'refused');
    assert.match(purge1.reason!, /^target:QA1 is held by run [0-9a-f]{8} \(plan nightly: backup of QA1, /);
    const other = await r.core.runNow('other');
    assert.equal(other.status, 'succeeded', 'another scope is not blocked');
    assert.equal((await backup).status, 'succeeded');
    // Purge first: the backup is refused, naming the purge.
    const purge2 = r.core.runNow('purge');
    await until(() => r.w.catalog.leases().list().length === 1, 'the purge to hold its lock');
    const backup2 = await r.core.runNow('nightly');
    assert.equal(backup2.status, 'refused');
    assert.match(backup2.reason!, /^target:QA1 is held by run [0-9a-f]{8} \(plan purge: purge of QA1, /);
    fs.writeFileSync(flag, '');
    assert.equal((await purge2).status, 'succeeded');
  });
});

describe('server: scheduling', () => {
  it('a run due while the previous run of its plan still runs is coalesced and recorded as such', async (t) => {
    const r = await rig(t, {
      devices: { QA1: { latencyMs: { backup: 800 } } },
      plans: {
        nightly: {
          activities: [activity('b', 'backup', 'QA1', null)],
          schedule: { cron: '* * * * *', timezone: 'UTC' },
        },
      },
    });
    await r.core.start();
    await r.clock.advance(MIN);
    await until(() => r.w.catalog.planRuns().runningRuns().length === 1, 'the first run');
    const first = r.w.catalog.planRuns().runningRuns()[0]!;
    await r.clock.advance(MIN);
    await r.clock.advance(MIN);
    const runs = r.w.catalog.planRuns().listRuns();
    const coalesced = runs.filter((x) => x.coalescedInto !== null);
    assert.deepEqual(
      coalesced.map((x) => [x.status, x.coalescedInto, x.scheduledFor, x.reason]),
      [
        ['skipped', first.id, DUE + 2 * MIN, `coalesced: run ${first.id.slice(0, 8)} of this plan is still running`],
        ['skipped', first.id, DUE + MIN, `coalesced: run ${first.id.slice(0, 8)} of this plan is still running`],
      ],
    );
    await r.core.whenIdle();
    assert.equal(r.w.catalog.planRuns().getRun(first.id)!.status, 'succeeded');
    assert.equal(r.w.appliances.QA1!.state.calls.filter((c) => c.op === 'backup').length, 1, 'one backup, not three');
  });

  it('runs on different scopes go in parallel up to maxParallelRuns; the next waits for a slot', async (t) => {
    const dir = fs.mkdtempSync('/tmp/safehold-parallel-');
    t.after(() => fs.rmSync(dir, { recursive: true, force: true })); // also lets held hooks go if the test fails early
    const go = path.join(dir, 'go');
    // Each task's pre-task hook marks that its run is executing, then holds the run until `go` exists:
    // which runs execute together is decided by the core, not by how fast this machine is.
    const held = (plan: string, device: string) => ({
      activities: [
        activity('b', 'backup', device, null, {
          preTask: hook(
            'hold',
            `touch ${path.join(dir, plan)}; while [ -d ${dir} ] && [ ! -e ${go} ]; do sleep 0.02; done`,
            { timeoutMs: 60_000 },
          ),
        }),
      ],
    });
    const r = await rig(t, {
      devices: { QA1: {}, QA2: {}, QA3: {} },
      maxParallelRuns: 2,
      plans: { a: held('a', 'QA1'), b: held('b', 'QA2'), c: held('c', 'QA3') },
    });
    const pending = ['a', 'b', 'c'].map((p) => r.core.runNow(p));
    await until(
      () => fs.existsSync(path.join(dir, 'a')) && fs.existsSync(path.join(dir, 'b')),
      'a and b to execute at the same time',
    );
    const now = r.core.status();
    assert.deepEqual(
      now.running.map((x) => x.plan),
      ['a', 'b'],
      'two runs at once',
    );
    assert.deepEqual(
      now.queued.map((x) => x.plan),
      ['c'],
      'the third waits for a slot',
    );
    assert.deepEqual(
      r.w.catalog
        .planRuns()
        .listRuns()
        .map((x) => x.plan)
        .sort(),
      ['a', 'b'],
      'c has not started',
    );
    assert.equal(fs.existsSync(path.join(dir, 'c')), false, "c's task has not started");
    // Time moves on the injected clock while a and b hold both slots, then they are let go.
    await r.clock.advance(3 * MIN);
    fs.writeFileSync(go, '');
    const done = await Promise.all(pending);
    assert.deepEqual(
      done.map((x) => x.status),
      ['succeeded', 'succeeded', 'succeeded'],
    );
    const runs = done.map((x) => r.w.catalog.planRuns().getRun(x.id));
    assert.deepEqual(
      runs.map((x) => x && [x.plan, x.status, x.startedAt - T0, x.finishedAt! - T0]),
      [
        ['a', 'succeeded', 0, 3 * MIN],
        ['b', 'succeeded', 0, 3 * MIN],
        ['c', 'succeeded', 3 * MIN, 3 * MIN],
      ],
      'a and b ran side by side from the start; c started only when they had finished',
    );
    for (const n of ['QA1', 'QA2', 'QA3']) {
      assert.equal(r.w.appliances[n]!.state.calls.filter((x) => x.op === 'backup').length, 1, `one backup of ${n}`);
    }
  });
});

describe('server: stopping, timeouts and retries after a crash', () => {
  it('on stop, a running task gets the grace, then is cancelled: unquiesce and the always hook run exactly once, locks released', async (t) => {
    const dir = fs.mkdtempSync('/tmp/safehold-stop-');
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const marks = path.join(dir, 'post');
    const r = await rig(t, {
      devices: { QA1: { latencyMs: { backup: 60_000 } } },
      shutdownGraceMs: 300,
      plans: {
        nightly: {
          activities: [
            activity('b', 'backup', 'QA1', null, {
              quiesce: true,
              postTask: hook('post', `echo ran >> ${marks}`, { always: true }),
            }),
          ],
        },
      },
    });
    const run = r.core.runNow('nightly');
    await until(() => r.w.appliances.QA1!.state.calls.some((c) => c.op === 'backup'), 'the backup to start');
    const t0 = Date.now();
    await r.core.stop(300);
    const res = await run;
    assert.ok(Date.now() - t0 >= 290, 'the grace was given');
    assert.ok(Date.now() - t0 < 10_000, 'and not the whole backup');
    assert.equal(res.status, 'cancelled');
    assert.deepEqual(
      res.tasks.map((x) => [x.status, x.reason]),
      [['cancelled', 'cancelled: the server is shutting down']],
    );
    const ops = r.w.appliances.QA1!.state.calls.map((c) => c.op);
    assert.equal(ops.filter((o) => o === 'unquiesce').length, 1);
    assert.equal(fs.readFileSync(marks, 'utf8'), 'ran\n');
    assert.deepEqual(r.w.catalog.leases().list(), []);
    assert.deepEqual(fs.readdirSync(path.join(r.w.repoPath, 'locks')), []);
    assert.deepEqual(await listSnapshots(await openRepo(r.w)), [], 'no snapshot of a cancelled backup');
  });

  it('a task past its timeout is cancelled (injected clock) and the run goes on with the next task', async (t) => {
    const r = await rig(t, {
      devices: { QA1: { latencyMs: { backup: 60_000 } }, QA2: {} },
      plans: {
        nightly: {
          activities: [
            activity('b', 'backup', 'QA1', null, { timeoutMs: 30 * MIN }),
            activity('c', 'backup', 'QA2', null),
          ],
        },
      },
    });
    const run = r.core.runNow('nightly');
    await until(() => r.w.appliances.QA1!.state.calls.some((c) => c.op === 'backup'), 'the backup to start');
    await r.clock.advance(30 * MIN);
    const res = await run;
    assert.deepEqual(
      res.tasks.map((x) => [x.target, x.status, x.reason]),
      [
        ['QA1', 'cancelled', 'task 1 (backup QA1) timed out after 30m'],
        ['QA2', 'succeeded', null],
      ],
    );
    assert.equal(res.status, 'partial');
  });

  it('a run whose process died is marked failed and retried; the retry does not repeat a snapshot already written', async (t) => {
    const r = await rig(t, {
      devices: { QA1: {}, QA2: {} },
      plans: {
        nightly: {
          activities: [activity('b', 'backup', 'QA*', null)],
          schedule: { cron: '0 2 * * *', timezone: 'UTC' },
        },
      },
    });
    await r.clock.advance(MIN);
    const first = await runPlan({
      config: r.config,
      plan: 'nightly',
      trigger: 'scheduled',
      scheduledFor: DUE,
      catalog: r.w.catalog,
      clock: r.clock,
    });
    assert.equal(first.status, 'succeeded');
    // Make it look as if the process died after QA1's snapshot, before QA2's: running, a dead pid, QA2's snapshot gone.
    const dead = spawnSync('true').pid!;
    const db = new DatabaseSync(r.w.catalog.path);
    db.prepare("UPDATE plan_runs SET status = 'running', finished_at = NULL, pid = ? WHERE id = ?").run(dead, first.id);
    db.prepare("UPDATE tasks SET status = 'running' WHERE run_id = ? AND target = 'QA2'").run(first.id);
    db.close();
    const repo = await openRepo(r.w);
    const qa2 = first.tasks[1]!.snapshots[0]!;
    fs.rmSync(path.join(r.w.repoPath, 'snapshots', qa2));
    await r.clock.advance(5 * MIN);
    await r.core.start();
    await until(
      () =>
        r.w.catalog
          .planRuns()
          .listRuns()
          .some((x) => x.trigger === 'retry' && x.status !== 'running'),
      'the retry',
    );
    const retry = r.w.catalog
      .planRuns()
      .listRuns()
      .find((x) => x.trigger === 'retry')!;
    assert.equal(r.w.catalog.planRuns().getRun(first.id)!.status, 'failed');
    assert.equal(retry.retryOf, first.id);
    assert.equal(retry.scheduledFor, DUE);
    assert.equal(retry.status, 'succeeded');
    const tasks = r.w.catalog.planRuns().tasks(retry.id);
    assert.deepEqual(
      tasks.map((x) => [x.target, x.status]),
      [
        ['QA1', 'succeeded'],
        ['QA2', 'succeeded'],
      ],
    );
    assert.equal(
      tasks[0]!.reason,
      `already completed by run ${first.id.slice(0, 8)}: snapshot ${first.tasks[0]!.snapshots[0]!.slice(0, 8)} (not repeated)`,
    );
    assert.deepEqual(tasks[0]!.snapshots, first.tasks[0]!.snapshots);
    assert.notEqual(tasks[1]!.snapshots[0], qa2, 'QA2 was backed up again');
    assert.equal((await listSnapshots(repo)).length, 2, 'one snapshot per device, no duplicate');
    assert.equal(r.w.appliances.QA1!.state.calls.filter((c) => c.op === 'backup').length, 1);
  });
});
