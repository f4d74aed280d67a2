// The task flow (SPEC S4, the DPOD manual's backup task), one test per
// numbered step, each failing if its step is skipped or moved: the appliance
// simulator's call log (in arrival order) and the run log's lines of each
// step (stepsLogged: recognised by their plain words, the log names no step
// numbers) show what was asked and done, and in which order.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPlan } from '../src/plans/run/runner.ts';
import type { RunPlanOptions } from '../src/plans/run/runner.ts';
import { systemClock } from '../src/core/clock.ts';
import type { Clock } from '../src/core/clock.ts';
import { freeSpace } from '../src/plans/run/destination-checks.ts';
import { listSnapshots } from '../src/repo/snapshot.ts';
import { applianceBackupContent } from './helpers/appliance-server.ts';
import type { ApplianceCall } from './helpers/appliance-server.ts';
import {
  activity,
  hook,
  openRepo,
  planWorld,
  quiesceRecords,
  stepsLogged,
  streamContent,
  taskLog,
} from './helpers/plan-fixtures.ts';
import type { PlanWorld } from './helpers/plan-fixtures.ts';
import { mountTmpfsOrSkip } from './helpers/root.ts';

const QUIESCE = { quiesce: true, quiesceTimeoutMs: 300 };

function run(w: PlanWorld, extra: Partial<RunPlanOptions> = {}) {
  return runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog, pollMs: 20, ...extra });
}

/** The calls a device received, optionally only those about one unit (null: the whole device). */
function calls(w: PlanWorld, device: string, unit?: string | null): ApplianceCall[] {
  const all = w.appliances[device]!.state.calls;
  return unit === undefined ? all : all.filter((c) => c.unit === unit);
}

function ops(cs: ApplianceCall[]): string[] {
  return cs.map((c) => c.op);
}

function index(cs: ApplianceCall[], op: string): number {
  const i = cs.findIndex((c) => c.op === op);
  assert.notEqual(i, -1, `a ${op} call in ${ops(cs).join(',')}`);
  return i;
}

/** A hook script line that writes the SAFEHOLD_* environment and the time (ms) to `file`. */
function recordEnv(file: string): string {
  return `env | grep ^SAFEHOLD_ | sort > '${file}'; echo "AT=$(date +%s%3N)" >> '${file}'`;
}

function readEnv(file: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('task flow (S4)', () => {
  it('S4.1 window re-check: when the window closes during a task, the next task is skipped before it touches anything', async (t) => {
    const w = await planWorld(
      { QA1: {}, QA2: {} },
      { activities: [activity('secure-backup', 'backup', 'QA*', null, QUIESCE)] },
      {
        window: {
          type: 'ranges',
          timezone: 'UTC',
          ranges: [{ days: [0, 1, 2, 3, 4, 5, 6], from: '02:00', to: '03:00' }],
        },
      },
    );
    t.after(() => w.close());
    // A clock inside the window (02:30 UTC) that jumps past its end (03:01) once QA1 has been backed up.
    const started = Date.now();
    const clock: Clock = {
      now: () =>
        Date.UTC(2026, 0, 1, 2, 30) +
        (Date.now() - started) +
        (calls(w, 'QA1').some((c) => c.op === 'backup') ? 31 * 60_000 : 0),
      sleep: systemClock.sleep,
    };
    const r = await run(w, { clock });
    assert.deepEqual(
      r.tasks.map((x) => [x.target, x.status]),
      [
        ['QA1', 'succeeded'],
        ['QA2', 'skipped'],
      ],
    );
    assert.match(r.tasks[1]!.reason!, /outside the maintenance window/);
    assert.deepEqual(
      ops(calls(w, 'QA2')),
      ['health'],
      'QA2 was only probed at expansion: no quiesce check, space query, quiesce or backup',
    );
    assert.deepEqual(stepsLogged(w, r.id, r.tasks[1]!.id), [], 'the re-check came first: no later step ran');
    assert.match(taskLog(w, r.id, r.tasks[1]!.id)[0]!, /^task skipped: .*outside the maintenance window/);
    assert.equal(stepsLogged(w, r.id, r.tasks[0]!.id)[0], 1, 'QA1 re-checked the window first too');
  });

  it('S4.2 destination free space: a task that finds the destination below the threshold fails before anything else', async (t) => {
    const mnt = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-s42-'));
    const unmount = mountTmpfsOrSkip(t, mnt, '4m');
    t.after(() => {
      unmount?.();
      fs.rmSync(mnt, { recursive: true, force: true });
    });
    if (!unmount) return;
    // Room for the admission check and the first backup (1.25 MiB, incompressible), not for the second's check.
    const threshold = freeSpace(mnt).free - 1024 * 1024;
    const dev = { backupBytes: 1.25 * 1024 * 1024 };
    const w = await planWorld(
      { QA1: dev, QA2: dev },
      { activities: [activity('secure-backup', 'backup', 'QA*', null, QUIESCE)] },
      {
        repoPath: path.join(mnt, 'repo'),
        destination: { minFree: { bytes: threshold } },
      },
    );
    t.after(() => w.close());
    const r = await run(w);
    assert.deepEqual(
      r.tasks.map((x) => [x.target, x.status]),
      [
        ['QA1', 'succeeded'],
        ['QA2', 'failed'],
      ],
    );
    assert.match(r.tasks[1]!.reason!, /^destination local has .* free, below the threshold of /);
    assert.deepEqual(ops(calls(w, 'QA2')), ['health'], 'no quiesce check, quiesce or backup on QA2');
    assert.deepEqual(stepsLogged(w, r.id, r.tasks[1]!.id), [1]);
    assert.deepEqual(stepsLogged(w, r.id, r.tasks[0]!.id).slice(0, 2), [1, 2]);
  });

  it('S4.3 quiesce preconditions: an already quiesced unit, or a device with any quiesced unit, fails the task without a quiesce or backup', async (t) => {
    const w = await planWorld(
      {
        TEST8: { units: { DOMAIN1: { quiesced: true }, DOMAIN2: {} } },
        QA1: { units: { DOMAIN1: {}, DOMAIN2: { quiesced: true } } },
        QA2: {},
      },
      {
        activities: [
          activity('export', 'export', 'TEST8', 'DOMAIN*', QUIESCE),
          activity('secure-backup', 'backup', 'QA*', null, QUIESCE),
          activity('no-quiesce', 'export', 'TEST8', 'DOMAIN1'),
        ],
      },
    );
    t.after(() => w.close());
    const r = await run(w);
    assert.deepEqual(
      r.tasks.map((x) => [x.target, x.unit, x.status, x.reason]),
      [
        ['TEST8', 'DOMAIN1', 'failed', 'unit DOMAIN1 of TEST8 is already quiesced'],
        ['TEST8', 'DOMAIN2', 'succeeded', null],
        ['QA1', null, 'failed', 'QA1 has quiesced units: DOMAIN2'],
        ['QA2', null, 'succeeded', null],
        ['TEST8', 'DOMAIN1', 'succeeded', null], // no quiesce requested: no precondition
      ],
    );
    // The first DOMAIN1 task asked its state and stopped: no unsaved query (S4.4), quiesce, backup or unquiesce.
    const d1 = calls(w, 'TEST8', 'DOMAIN1');
    assert.deepEqual(ops(d1.slice(0, 1)), ['state']);
    assert.equal(
      d1.filter((c) => c.op === 'quiesce' || c.op === 'unquiesce').length,
      0,
      'the quiesce is not ours: left alone',
    );
    assert.deepEqual(
      d1.filter((c) => c.op === 'backup').map((c) => c.state),
      ['persisted'],
      'only the third task exported DOMAIN1',
    );
    assert.equal(w.appliances.TEST8!.state.units.DOMAIN1!.quiesce, 'quiesced');
    // The whole-device task listed quiesced units and stopped: no space query (S4.5), quiesce or backup.
    assert.deepEqual(ops(calls(w, 'QA1')), ['health', 'quiesced']);
    assert.deepEqual(stepsLogged(w, r.id, r.tasks[0]!.id), [1, 2]);
    assert.deepEqual(stepsLogged(w, r.id, r.tasks[2]!.id), [1, 2]);
    assert.ok(stepsLogged(w, r.id, r.tasks[3]!.id).includes(3));
  });

  it('S4.4 unsaved changes: the unit gets two snapshots, of the persisted and of the running state, under one quiesce', async (t) => {
    const w = await planWorld(
      { TEST8: { units: { DOMAIN1: { unsaved: true }, DOMAIN2: {} } } },
      {
        activities: [activity('export', 'export', 'TEST8', 'DOMAIN*', QUIESCE)],
      },
    );
    t.after(() => w.close());
    const r = await run(w);
    assert.deepEqual(
      r.tasks.map((x) => [x.unit, x.status, x.snapshots.length]),
      [
        ['DOMAIN1', 'succeeded', 2],
        ['DOMAIN2', 'succeeded', 1],
      ],
    );
    const d1 = calls(w, 'TEST8', 'DOMAIN1');
    assert.ok(index(d1, 'unsaved') < index(d1, 'quiesce'), 'the unsaved-changes query comes before the quiesce');
    assert.deepEqual(
      d1.filter((c) => c.op === 'backup').map((c) => c.state),
      ['persisted', 'running'],
    );
    assert.deepEqual(
      ops(d1.filter((c) => c.op !== 'state')),
      ['unsaved', 'quiesce', 'backup', 'backup', 'unquiesce'],
      'both exports under one quiesce',
    );
    const repo = await openRepo(w);
    const exportBytes = w.appliances.TEST8!.state.exportBytes;
    for (const [i, state] of (['persisted', 'running'] as const).entries()) {
      const s = await streamContent(repo, r.tasks[0]!.snapshots[i]!);
      assert.ok(s.snapshot.tags.includes(`state:${state}`), `snapshot ${i} is tagged state:${state}`);
      assert.ok(!s.snapshot.tags.includes(`state:${state === 'persisted' ? 'running' : 'persisted'}`));
      assert.equal(s.name, `TEST8-DOMAIN1-${state}.bak`);
      assert.ok(
        s.bytes.equals(applianceBackupContent('TEST8', { unit: 'DOMAIN1', kind: 'export', state }, exportBytes)),
        `the ${state} export's bytes`,
      );
    }
    const d2 = await streamContent(repo, r.tasks[1]!.snapshots[0]!);
    assert.ok(d2.snapshot.tags.includes('state:persisted'));
    assert.deepEqual(
      calls(w, 'TEST8', 'DOMAIN2')
        .filter((c) => c.op === 'backup')
        .map((c) => c.state),
      ['persisted'],
    );
    const steps = stepsLogged(w, r.id, r.tasks[0]!.id);
    assert.ok(
      steps.indexOf(4) > steps.indexOf(3) && steps.indexOf(4) < steps.indexOf(7),
      `S4.4 between S4.3 and S4.7: ${steps.join(',')}`,
    );
    assert.ok(!stepsLogged(w, r.id, r.tasks[1]!.id).includes(4));
  });

  it('S4.5 device free space: too little room to stage a whole-device backup fails the task before the pre-task hook and the quiesce', async (t) => {
    const w = await planWorld({ QA1: { freeBytes: 1000, backupBytes: 65536 } }, { activities: [] });
    t.after(() => w.close());
    const mark = path.join(w.dir, 'pre-task-ran');
    Object.assign(w.config.plans.nightly!, {
      activities: [
        activity('secure-backup', 'backup', 'QA1', null, { ...QUIESCE, preTask: hook('mark', `touch '${mark}'`) }),
        activity('export', 'export', 'QA1', 'DOMAIN1', QUIESCE),
      ],
    });
    const r = await run(w);
    assert.deepEqual(
      r.tasks.map((x) => [x.unit, x.status, x.reason]),
      [
        [null, 'failed', 'QA1 has 1000 bytes free for staging, the backup needs 65536'],
        ['DOMAIN1', 'succeeded', null], // an export does not stage on the device
      ],
    );
    assert.equal(fs.existsSync(mark), false, 'the pre-task hook did not run');
    const whole = calls(w, 'QA1', null);
    assert.deepEqual(
      ops(whole.slice(0, whole.findIndex((c) => c.op === 'space') + 1)),
      ['health', 'units', 'quiesced', 'space'],
      'after the quiesce check',
    );
    assert.ok(!whole.some((c) => c.op === 'quiesce' || c.op === 'backup'));
    assert.equal(
      calls(w, 'QA1').filter((c) => c.op === 'space').length,
      2,
      'free space and backup size, for the whole-device task only',
    );
    assert.deepEqual(stepsLogged(w, r.id, r.tasks[0]!.id), [1, 2, 3]);
  });

  it('S4.6 pre-task hook: a non-zero exit fails the task before the quiesce; the hook sees the task in its environment', async (t) => {
    const w = await planWorld({ TEST8: {} }, { activities: [] });
    t.after(() => w.close());
    const envFile = path.join(w.dir, 'pre-env');
    const okFile = path.join(w.dir, 'pre-ok');
    Object.assign(w.config.plans.nightly!, {
      activities: [
        activity('export', 'export', 'TEST8', 'DOMAIN1', {
          ...QUIESCE,
          preTask: hook('check', `${recordEnv(envFile)}; echo refusing >&2; exit 4`),
        }),
        activity('export-ok', 'export', 'TEST8', 'DOMAIN2', { ...QUIESCE, preTask: hook('ok', recordEnv(okFile)) }),
      ],
    });
    const r = await run(w);
    assert.deepEqual(
      r.tasks.map((x) => [x.unit, x.status, x.reason]),
      [
        ['DOMAIN1', 'failed', 'pre-task hook check exited with 4'],
        ['DOMAIN2', 'succeeded', null],
      ],
    );
    assert.deepEqual(
      ops(calls(w, 'TEST8', 'DOMAIN1')),
      ['state', 'unsaved'],
      'steps 3 and 4 ran, no quiesce and no backup',
    );
    const env = readEnv(envFile);
    assert.deepEqual(
      { ...env, AT: undefined },
      {
        SAFEHOLD_PHASE: 'pre-task',
        SAFEHOLD_PLAN: 'nightly',
        SAFEHOLD_RUN: r.id,
        SAFEHOLD_TASK: r.tasks[0]!.id,
        SAFEHOLD_TARGET: 'TEST8',
        SAFEHOLD_UNIT: 'DOMAIN1',
        AT: undefined,
      },
    );
    assert.ok(taskLog(w, r.id, r.tasks[0]!.id).includes('pre-task stderr: refusing'), 'hook output is in the run log');
    // A passing hook ran, and finished, before the quiesce arrived.
    const at = Number(readEnv(okFile).AT);
    const quiesce = calls(w, 'TEST8', 'DOMAIN2').find((c) => c.op === 'quiesce')!;
    assert.ok(at <= quiesce.at, `hook at ${at}, quiesce at ${quiesce.at}`);
    assert.deepEqual(stepsLogged(w, r.id, r.tasks[1]!.id), [1, 2, 3, 6, 7, 8, 9]);
  });

  it('S4.7 quiesce: waits for quiesced before the backup; past timeout + grace it cancels, unquiesces and fails', async (t) => {
    const w = await planWorld(
      { TEST8: { quiesceDelayMs: 150 }, TEST9: { neverQuiesce: true } },
      {
        activities: [activity('export', 'export', 'TEST[89]', 'DOMAIN1', QUIESCE)],
      },
      { quiesceGraceMs: 200 },
    );
    t.after(() => w.close());
    const started = Date.now();
    const r = await run(w);
    const elapsed = Date.now() - started;
    assert.deepEqual(
      r.tasks.map((x) => [x.target, x.status]),
      [
        ['TEST8', 'succeeded'],
        ['TEST9', 'failed'],
      ],
    );
    // TEST8: quiesce, polls while 'quiescing', then the backup once 'quiesced'.
    const d = calls(w, 'TEST8', 'DOMAIN1');
    const q = index(d, 'quiesce');
    const b = index(d, 'backup');
    assert.equal(d[q]!.timeout, 1, 'the device-side timeout, in whole seconds');
    assert.ok(
      d.slice(q + 1, b).some((c) => c.op === 'state'),
      `state polled until quiesced: ${ops(d).join(',')}`,
    );
    assert.ok(d[b]!.at - d[q]!.at >= 150, 'the backup waited for the quiesce to finish');
    // TEST9: never quiesced: cancelled after timeout + grace (0.5 s), unquiesced, no backup.
    const n = calls(w, 'TEST9', 'DOMAIN1');
    assert.match(
      r.tasks[1]!.reason!,
      /^quiesce of TEST9\/DOMAIN1 did not finish within .* \(timeout \+ grace\); cancelled$/,
    );
    assert.ok(!n.some((c) => c.op === 'backup'));
    const nq = index(n, 'quiesce');
    const nu = index(n, 'unquiesce');
    assert.ok(nu > nq);
    assert.ok(n.slice(nq, nu).filter((c) => c.op === 'state').length >= 2, 'polled meanwhile');
    assert.ok(n[nu]!.at - n[nq]!.at >= 500, `cancelled after timeout + grace: ${n[nu]!.at - n[nq]!.at} ms`);
    assert.ok(n[nu]!.at - n[nq]!.at < 10_000, 'the configured grace, not the 3-minute default');
    assert.equal(w.appliances.TEST9!.state.units.DOMAIN1!.quiesce, 'active', 'the cancelled quiesce was undone');
    assert.deepEqual(
      quiesceRecords(w).map((x) => [x.target, x.outcome]),
      [
        ['TEST8', 'unquiesced'],
        ['TEST9', 'unquiesced'],
      ],
    );
    assert.ok(elapsed < 30_000, `took ${elapsed} ms`);
    assert.deepEqual(stepsLogged(w, r.id, r.tasks[1]!.id), [1, 2, 3, 9]);
  });

  it('S4.8 backup/export: the stream is stored as a snapshot with the plan, target, unit, state and activity tags', async (t) => {
    const w = await planWorld(
      { QA1: {}, TEST8: {} },
      {
        activities: [
          activity('secure-backup', 'backup', 'QA1', null, { ...QUIESCE, tags: ['weekly'] }),
          activity('export', 'export', 'TEST8', 'DOMAIN2'),
        ],
      },
    );
    t.after(() => w.close());
    const r = await run(w);
    assert.deepEqual(
      r.tasks.map((x) => x.status),
      ['succeeded', 'succeeded'],
    );
    const repo = await openRepo(w);
    assert.deepEqual((await listSnapshots(repo)).map((s) => s.id).sort(), r.tasks.flatMap((x) => x.snapshots).sort());
    const qa = await streamContent(repo, r.tasks[0]!.snapshots[0]!);
    assert.deepEqual(qa.snapshot.tags, ['plan:nightly', 'target:QA1', 'weekly', 'state:persisted', `run:${r.id}`]);
    assert.equal(qa.snapshot.kind, 'stream');
    assert.ok(
      qa.bytes.equals(
        applianceBackupContent(
          'QA1',
          { unit: null, kind: 'backup', state: 'persisted' },
          w.appliances.QA1!.state.backupBytes,
        ),
      ),
    );
    assert.equal(r.tasks[0]!.bytes! > 0, true);
    const ex = await streamContent(repo, r.tasks[1]!.snapshots[0]!);
    assert.deepEqual(ex.snapshot.tags, [
      'plan:nightly',
      'target:TEST8',
      'unit:DOMAIN2',
      'state:persisted',
      `run:${r.id}`,
    ]);
    assert.ok(
      ex.bytes.equals(
        applianceBackupContent(
          'TEST8',
          { unit: 'DOMAIN2', kind: 'export', state: 'persisted' },
          w.appliances.TEST8!.state.exportBytes,
        ),
      ),
    );
    const whole = calls(w, 'QA1', null).filter((c) => c.op === 'backup');
    assert.deepEqual(
      whole.map((c) => [c.kind, c.state]),
      [['backup', 'persisted']],
    );
    const steps = stepsLogged(w, r.id, r.tasks[0]!.id);
    assert.deepEqual(steps, [1, 2, 3, 5, 7, 8, 9]);
    assert.ok(
      taskLog(w, r.id, r.tasks[0]!.id).some(
        (m) => m === `backup of QA1 saved as snapshot ${qa.snapshot.id.slice(0, 8)}`,
      ),
    );
  });

  it('S4.9 unquiesce: after the backup, the record released; a stuck unquiesce fails the task but keeps its snapshot; a failed backup still unquiesces', async (t) => {
    const w = await planWorld(
      { TEST8: { unquiesceDelayMs: 60 }, TEST9: { neverUnquiesce: true }, QA1: { failBackup: true } },
      {
        activities: [
          activity('export', 'export', 'TEST[89]', 'DOMAIN1', QUIESCE),
          activity('secure-backup', 'backup', 'QA1', null, QUIESCE),
        ],
      },
      { quiesceGraceMs: 200 },
    );
    t.after(() => w.close());
    const r = await run(w);
    assert.deepEqual(
      r.tasks.map((x) => [x.target, x.status]),
      [
        ['TEST8', 'succeeded'],
        ['TEST9', 'failed'],
        ['QA1', 'failed'],
      ],
    );
    // TEST8: unquiesce after the backup, then polled until active.
    const d = calls(w, 'TEST8', 'DOMAIN1');
    const u = index(d, 'unquiesce');
    assert.ok(index(d, 'backup') < u);
    const polls = d.slice(u + 1).filter((c) => c.op === 'state');
    assert.ok(polls.length >= 1 && polls.at(-1)!.at - d[u]!.at >= 60, 'polled until the unquiesce finished (60 ms)');
    assert.equal(w.appliances.TEST8!.state.units.DOMAIN1!.quiesce, 'active');
    const recs = quiesceRecords(w);
    assert.deepEqual(
      recs.map((x) => [x.target, x.unit, x.taskId, x.outcome]),
      [
        ['TEST8', 'DOMAIN1', r.tasks[0]!.id, 'unquiesced'],
        ['TEST9', 'DOMAIN1', r.tasks[1]!.id, 'unquiesce requested, not confirmed'],
        ['QA1', null, r.tasks[2]!.id, 'unquiesced'],
      ],
    );
    assert.ok(recs.every((x) => x.releasedAt !== null && x.releasedAt >= x.requestedAt));
    // TEST9: the unquiesce never finishes: failed after timeout + grace, the snapshot kept.
    assert.match(
      r.tasks[1]!.reason!,
      /^unquiesce of TEST9\/DOMAIN1 did not finish within .*; the device goes on with it$/,
    );
    assert.equal(r.tasks[1]!.snapshots.length, 1);
    const repo = await openRepo(w);
    assert.ok(
      (await listSnapshots(repo)).some((s) => s.id === r.tasks[1]!.snapshots[0]),
      'the snapshot is in the repository',
    );
    const n = calls(w, 'TEST9', 'DOMAIN1');
    const nu = index(n, 'unquiesce');
    assert.ok(n.slice(nu).filter((c) => c.op === 'state').length >= 2, 'polled meanwhile');
    const gaveUp = r.tasks[1]!.finishedAt! - n[nu]!.at;
    assert.ok(
      gaveUp >= 500 && gaveUp < 10_000,
      `gave up after timeout + grace (the configured grace, not the 3-minute default): ${gaveUp} ms`,
    );
    // QA1: the backup failed, the device was unquiesced anyway.
    const qa = calls(w, 'QA1', null);
    const fb = index(qa, 'backup');
    assert.equal(qa[fb]!.status, 500);
    assert.ok(index(qa, 'unquiesce') > fb);
    assert.equal(w.appliances.QA1!.state.device.quiesce, 'active');
    assert.match(r.tasks[2]!.reason!, /backup failed on the device/);
    assert.deepEqual(r.tasks[2]!.snapshots, []);
    assert.deepEqual(stepsLogged(w, r.id, r.tasks[2]!.id), [1, 2, 3, 5, 7, 9]);
  });

  it('S4.10 post-task hook: after the unquiesce, with SAFEHOLD_SNAPSHOT; after a failure only when always is set', async (t) => {
    const w = await planWorld(
      { TEST8: { unquiesceDelayMs: 50 }, QA1: { failBackup: true }, QA2: { failBackup: true } },
      { activities: [] },
    );
    t.after(() => w.close());
    const okEnv = path.join(w.dir, 'post-ok');
    const plain = path.join(w.dir, 'post-plain');
    const always = path.join(w.dir, 'post-always');
    Object.assign(w.config.plans.nightly!, {
      activities: [
        activity('export', 'export', 'TEST8', 'DOMAIN1', {
          ...QUIESCE,
          postTask: hook('notify', `${recordEnv(okEnv)}; echo posted`),
        }),
        activity('backup-1', 'backup', 'QA1', null, { ...QUIESCE, postTask: hook('plain', `touch '${plain}'`) }),
        activity('backup-2', 'backup', 'QA2', null, {
          ...QUIESCE,
          postTask: hook('cleanup', recordEnv(always), { always: true }),
        }),
      ],
    });
    const r = await run(w);
    assert.deepEqual(
      r.tasks.map((x) => x.status),
      ['succeeded', 'failed', 'failed'],
    );
    const env = readEnv(okEnv);
    assert.equal(env.SAFEHOLD_PHASE, 'post-task');
    assert.equal(env.SAFEHOLD_SNAPSHOT, r.tasks[0]!.snapshots[0]);
    assert.equal(env.SAFEHOLD_UNIT, 'DOMAIN1');
    // The hook ran after the unit was back to active (the last poll saw it).
    const lastPoll = calls(w, 'TEST8', 'DOMAIN1').at(-1)!;
    assert.equal(lastPoll.op, 'state');
    assert.ok(Number(env.AT) >= lastPoll.at, 'after the unquiesce finished');
    const log = taskLog(w, r.id, r.tasks[0]!.id);
    const unquiesced = log.indexOf('TEST8/DOMAIN1 unquiesced');
    assert.ok(unquiesced >= 0 && log.indexOf('post-task stdout: posted') > unquiesced, log.join('\n'));
    assert.deepEqual(stepsLogged(w, r.id, r.tasks[0]!.id), [1, 2, 3, 7, 8, 9, 10]);
    // After a failure: the plain hook did not run, the `always` one did, without a snapshot.
    assert.equal(fs.existsSync(plain), false);
    const env2 = readEnv(always);
    assert.equal(env2.SAFEHOLD_PHASE, 'post-task');
    assert.equal(env2.SAFEHOLD_TARGET, 'QA2');
    assert.equal(env2.SAFEHOLD_SNAPSHOT, undefined);
    assert.ok(Number(env2.AT) >= calls(w, 'QA2', null).find((c) => c.op === 'unquiesce')!.at, 'after the unquiesce');
    assert.deepEqual(stepsLogged(w, r.id, r.tasks[2]!.id), [1, 2, 3, 5, 7, 9, 10]);
  });
});
