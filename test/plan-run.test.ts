// Plan runs end to end (S3 + S4) against appliance simulators, a real
// repository and a real catalog, starting with the DPOD manual's example.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runPlan } from '../src/plans/run/runner.ts';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { listSnapshots } from '../src/repo/snapshot.ts';
import { PASSWORD, activity, hook, planWorld, taskLog } from './helpers/plan-fixtures.ts';

describe('plan run: the DPOD example', () => {
  it('creates exactly six tasks in order, backs up QA1-QA3, exports TEST8 DOMAIN1/2, skips TEST9 DOMAIN*', async (t) => {
    const w = await planWorld(
      {
        QA1: {},
        QA2: {},
        QA3: {},
        TEST8: { units: ['DOMAIN1', 'DOMAIN2', 'OTHER'] },
        TEST9: { available: false },
      },
      {
        activities: [
          activity('secure-backup', 'backup', 'QA*', null),
          activity('export-domains', 'export', 'TEST[89]', 'DOMAIN*'),
        ],
      },
    );
    t.after(() => w.close());
    const r = await runPlan({
      config: w.config,
      plan: 'nightly',
      trigger: 'on-demand',
      catalog: w.catalog,
      pollMs: 20,
    });
    assert.deepEqual(
      r.tasks.map((x) => [x.seq, x.activity, x.target, x.unit, x.status]),
      [
        [1, 'secure-backup', 'QA1', null, 'succeeded'],
        [2, 'secure-backup', 'QA2', null, 'succeeded'],
        [3, 'secure-backup', 'QA3', null, 'succeeded'],
        [4, 'export-domains', 'TEST8', 'DOMAIN1', 'succeeded'],
        [5, 'export-domains', 'TEST8', 'DOMAIN2', 'succeeded'],
        [6, 'export-domains', 'TEST9', 'DOMAIN*', 'skipped'],
      ],
    );
    assert.equal(r.tasks[5]!.reason, 'target TEST9 is unavailable: TEST9 answers that it is not available');
    assert.equal(r.status, 'partial');
    // Tasks ran in creation order: their start times do not decrease.
    const starts = r.tasks.slice(0, 5).map((x) => x.startedAt!);
    assert.deepEqual(
      [...starts].sort((a, b) => a - b),
      starts,
    );
    // Every snapshot is in the repository, tagged with plan, target and unit.
    const repo = await Repository.open(new LocalBackend(w.repoPath), PASSWORD);
    const snaps = await listSnapshots(repo);
    assert.equal(snaps.length, 5);
    assert.ok(
      snaps.some(
        (s) => s.tags.includes('target:TEST8') && s.tags.includes('unit:DOMAIN2') && s.tags.includes('state:persisted'),
      ),
    );
    assert.ok(
      !w.appliances.TEST9!.state.calls.some((c) => c.op === 'backup'),
      'nothing asked of the unavailable device but its health',
    );
    assert.deepEqual(r.tasks.flatMap((x) => x.snapshots).sort(), snaps.map((s) => s.id).sort());
  });
});

describe('plan run: admission (S3)', () => {
  const one = { activities: [activity('secure-backup', 'backup', 'QA*', null)] };

  it('S3.1 the global switch refuses the run before anything else', async (t) => {
    const w = await planWorld({ QA1: {} }, one, {
      backupsEnabled: false,
      window: { type: 'ranges', timezone: 'UTC', ranges: [] },
    });
    t.after(() => w.close());
    const r = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(r.status, 'refused');
    assert.equal(
      r.reason,
      'backups are disabled (settings.backups)',
      'refused for the switch, not the (also closed) window',
    );
    assert.deepEqual(w.appliances.QA1!.state.calls, [], 'no device was contacted');
  });

  it('S3.2 outside the maintenance window the run is refused, before the destination is looked at', async (t) => {
    const w = await planWorld({ QA1: {} }, one, {
      window: { type: 'ranges', timezone: 'UTC', ranges: [] },
      destination: { path: '/nonexistent/repo' },
    });
    t.after(() => w.close());
    const r = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(r.status, 'refused');
    assert.match(r.reason!, /outside the maintenance window/);
  });

  it('ignoring the window is for on-demand runs only: a scheduled run asking for it is a usage error, nothing recorded', async (t) => {
    const w = await planWorld({ QA1: {} }, one, { window: { type: 'ranges', timezone: 'UTC', ranges: [] } });
    t.after(() => w.close());
    const asked = { ignoreWindow: { by: 'ops' } };
    await assert.rejects(
      runPlan({ config: w.config, plan: 'nightly', trigger: 'scheduled', catalog: w.catalog, ...asked }),
      (e: Error & { code?: string }) => e.code === 'USAGE' && /only an on-demand run/.test(e.message),
    );
    assert.deepEqual(w.catalog.planRuns().listRuns({}), []);
    assert.deepEqual(w.catalog.audit().list(), []);
  });

  it('S3.3 an unreachable destination refuses the run, before free space and expansion', async (t) => {
    const w = await planWorld({ QA1: {} }, one, {
      destination: { path: '/nonexistent/repo', minFree: { bytes: Number.MAX_SAFE_INTEGER } },
    });
    t.after(() => w.close());
    const r = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(r.status, 'refused');
    assert.match(r.reason!, /not reachable/);
    assert.deepEqual(w.appliances.QA1!.state.calls, [], 'no expansion happened');
  });

  it('S3.4 too little free space refuses the run, before expansion', async (t) => {
    const w = await planWorld({ QA1: {} }, one, { destination: { minFree: { bytes: Number.MAX_SAFE_INTEGER } } });
    t.after(() => w.close());
    const r = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(r.status, 'refused');
    assert.match(r.reason!, /below the threshold/);
    assert.deepEqual(w.appliances.QA1!.state.calls, []);
  });

  it('S3.6 when every task is skipped the run stops, and the pre-plan hook does not run', async (t) => {
    // The path is in the script itself: hooks get no variables of ours but the allow-listed ones.
    const markDir = fs.mkdtempSync(path.join(os.tmpdir(), 'shtest-mark-'));
    t.after(() => fs.rmSync(markDir, { recursive: true, force: true }));
    const mark = path.join(markDir, 'pre-plan-ran');
    const w = await planWorld({ QA1: { available: false } }, { ...one, prePlan: hook('mark', `touch '${mark}'`) });
    t.after(() => w.close());
    const r = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(r.status, 'skipped');
    assert.equal(r.reason, 'all 1 task(s) were skipped');
    assert.equal(fs.existsSync(mark), false);
  });

  it('S3.7 a failing pre-plan hook stops the run after expansion and before any task', async (t) => {
    const w = await planWorld({ QA1: {} }, { ...one, prePlan: hook('check', 'echo nope >&2; exit 3') });
    t.after(() => w.close());
    const r = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(r.status, 'failed');
    assert.equal(r.reason, 'pre-plan hook check exited with 3');
    assert.deepEqual(
      r.tasks.map((x) => x.status),
      ['cancelled'],
    );
    assert.ok(!w.appliances.QA1!.state.calls.some((c) => c.op === 'backup'));
    const lines = w.catalog
      .planRuns()
      .logLines(r.id)
      .map((l) => l.message);
    assert.ok(
      lines.some((l) => l === 'pre-plan stderr: nope'),
      'hook output is in the run log',
    );
  });
});

describe('plan run: expansion and task order (S3.5, S3.8)', () => {
  it('S3.5 expansion probes the inventory only after admission passed, and logs the tasks it made', async (t) => {
    const w = await planWorld(
      { QA1: {}, QA2: { available: false } },
      { activities: [activity('secure-backup', 'backup', 'QA*', null)] },
    );
    t.after(() => w.close());
    const r = await runPlan({
      config: w.config,
      plan: 'nightly',
      trigger: 'on-demand',
      catalog: w.catalog,
      pollMs: 20,
    });
    // The run's own lines (not its tasks'): each admission step is recognised by its plain words.
    const admission: [string, RegExp][] = [
      ['switch', /^backups are enabled$/],
      ['window', /^inside the maintenance window$/],
      ['reachable', /^destination \S+ is reachable/],
      ['space', /^destination has enough free space$/],
      ['expansion', /^\d+ task\(s\) created, \d+ skipped$/],
    ];
    const steps = taskLog(w, r.id, null).flatMap((m) => admission.filter(([, re]) => re.test(m)).map(([name]) => name));
    assert.deepEqual(
      steps,
      ['switch', 'window', 'reachable', 'space', 'expansion'],
      'admission steps in order, then expansion',
    );
    assert.ok(taskLog(w, r.id, null).includes('2 task(s) created, 1 skipped'));
    assert.deepEqual(
      r.tasks.map((x) => [x.target, x.status]),
      [
        ['QA1', 'succeeded'],
        ['QA2', 'skipped'],
      ],
    );
    assert.deepEqual(
      w.appliances.QA2!.state.calls.map((c) => c.op),
      ['health'],
      'the unavailable device was only probed',
    );
  });

  it('S3.8 tasks execute one after another in creation order (activity order, then target and unit order)', async (t) => {
    const w = await planWorld(
      { B1: { units: ['U2', 'U1'] }, A1: {} },
      {
        activities: [activity('exports', 'export', 'B1', 'U*'), activity('backups', 'backup', 'A1', null)],
      },
    );
    t.after(() => w.close());
    const r = await runPlan({
      config: w.config,
      plan: 'nightly',
      trigger: 'on-demand',
      catalog: w.catalog,
      pollMs: 20,
    });
    assert.deepEqual(
      r.tasks.map((x) => `${x.seq}:${x.target}/${x.unit ?? '-'}`),
      ['1:B1/U1', '2:B1/U2', '3:A1/-'],
      'definition order of activities, natural order of units',
    );
    const backups = [
      ...w.appliances.B1!.state.calls.filter((c) => c.op === 'backup').map((c) => ({ at: c.at, what: `B1/${c.unit}` })),
      ...w.appliances.A1!.state.calls.filter((c) => c.op === 'backup').map((c) => ({ at: c.at, what: 'A1/-' })),
    ].sort((a, b) => a.at - b.at);
    assert.deepEqual(
      backups.map((b) => b.what),
      ['B1/U1', 'B1/U2', 'A1/-'],
    );
    for (let i = 1; i < r.tasks.length; i++)
      assert.ok(r.tasks[i]!.startedAt! >= r.tasks[i - 1]!.finishedAt!, 'a task starts after the previous one finished');
  });
});
