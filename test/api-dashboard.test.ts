// The dashboard and charts API over real HTTP with a real catalog: the
// dashboard's exact values for a known catalog (last runs, last successes,
// next due times, running runs and their tasks, leases, the ten newest
// alerts, failures of the last 24 hours), protection states ok/stale/never
// moved by a ManualClock (and failing: a unit its last run skipped or failed,
// from real runs), chart points of a plan's finished runs, repository
// size samples (stored, taken on demand when an hour old, and by the
// sampling loop), and the 400/401/404 answers.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ManualClock } from '../src/core/clock.ts';
import type { CommandTarget, Plan } from '../src/config/types.ts';
import { runPlan } from '../src/plans/run/runner.ts';
import { RepoSizeStore } from '../src/catalog/repo-sizes.ts';
import { startRepoSizeSampling } from '../src/api/http/repo-size-sampler.ts';
import { DASHBOARD_CACHE_MS } from '../src/api/http/routes-dashboard.ts';
import { activity } from './helpers/plan-fixtures.ts';
import { apiRig } from './helpers/api-rig.ts';
import type { ApiRig } from './helpers/api-rig.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const H = 3_600_000;
const M = 60_000;
const T0 = Date.UTC(2026, 2, 10, 12, 0, 0); // a Tuesday, 12:00 UTC

async function json(res: Response, status: number): Promise<Json> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text) as Json;
}

function dirBytes(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return n;
}

describe('GET /api/dashboard and /api/charts over a known catalog', () => {
  let r: ApiRig;
  const clock = new ManualClock(T0);
  const ids: Record<string, string> = {};
  before(async () => {
    r = await apiRig({
      core: false,
      clock,
      setup: (w) => {
        const base = w.config.plans.nightly!;
        const plan = (name: string, over: Partial<Plan>): Plan => ({
          ...base,
          name,
          description: `${name} plan`,
          ...over,
        });
        Object.assign(w.config.plans, {
          hourly: plan('hourly', {
            schedule: { cron: '0 * * * *', timezone: 'UTC' },
            activities: [activity('db', 'backup', 'DB', 'x')],
          }),
          weekly: plan('weekly', {
            schedule: { cron: '0 3 * * 1', timezone: 'Europe/Zurich' },
            activities: [activity('ex', 'export', 'HOST', 'docs')],
          }),
        });
        Object.assign(w.config.destinations, {
          gens: {
            type: 'directory',
            name: 'gens',
            path: path.join(w.dir, 'gens'),
            generations: { keep: 3, naming: 'numbered' },
            requireMount: false,
            minFree: null,
            site: null,
          },
        });
      },
    });
    const s = r.w.catalog.planRuns();
    const at = (t: number) => clock.set(t);
    const task = (run: string, seq: number, kind: string, target: string, unit: string | null) =>
      s.addTask(run, { seq, activity: kind, kind, target, unit, status: 'pending' });
    // nightly (no schedule: stale after 26 h)
    at(T0 - 48 * H);
    ids.a0 = s.startRun({ plan: 'nightly', trigger: 'scheduled' });
    at(T0 - 47 * H);
    s.finishRun(ids.a0, 'failed', 'old failure');
    at(T0 - 30 * H);
    ids.a = s.startRun({ plan: 'nightly', trigger: 'scheduled' });
    const ta = task(ids.a, 1, 'backup', 'HOST', 'docs');
    at(T0 - 30 * H + 50_000);
    s.finishTask(ta, { status: 'succeeded', snapshots: ['s1'], bytes: 100 });
    at(T0 - 30 * H + 60_000);
    s.finishRun(ids.a, 'succeeded');
    at(T0 - 3 * H);
    ids.b = s.startRun({ plan: 'nightly', trigger: 'on-demand' });
    const tb = task(ids.b, 1, 'backup', 'HOST', 'logs');
    at(T0 - 3 * H + 5_000);
    s.finishTask(tb, { status: 'failed', reason: 'disk' });
    at(T0 - 3 * H + 10_000);
    s.finishRun(ids.b, 'failed', 'boom');
    // hourly (stale after 2 h)
    at(T0 - 40 * 24 * H);
    ids.g = s.startRun({ plan: 'hourly', trigger: 'scheduled' });
    at(T0 - 40 * 24 * H + 1000);
    s.finishRun(ids.g, 'succeeded');
    at(T0 - 20 * H);
    ids.f = s.startRun({ plan: 'hourly', trigger: 'scheduled' });
    const tf = task(ids.f, 1, 'backup', 'DB', 'x');
    at(T0 - 20 * H + 20_000);
    s.finishTask(tf, { status: 'succeeded', snapshots: ['f1'], bytes: 7 });
    at(T0 - 20 * H + 30_000);
    s.finishRun(ids.f, 'partial', 'one unit failed');
    at(T0 - 90 * M);
    ids.c = s.startRun({ plan: 'hourly', trigger: 'scheduled' });
    const [c1, c2, c3] = [
      task(ids.c, 1, 'backup', 'DB', 'x'),
      task(ids.c, 2, 'backup', 'DB', 'y'),
      task(ids.c, 3, 'purge', 'DB', 'x'),
    ];
    at(T0 - 89 * M - 30_000);
    s.finishTask(c1, { status: 'succeeded', snapshots: ['c1', 'c2'], bytes: 10 });
    s.finishTask(c2, { status: 'failed', reason: 'dump failed' });
    s.finishTask(c3, { status: 'succeeded', bytes: 5 });
    at(T0 - 89 * M);
    s.finishRun(ids.c, 'succeeded');
    at(T0 - 5 * M);
    ids.d = s.startRun({ plan: 'hourly', trigger: 'scheduled' });
    const d1 = task(ids.d, 1, 'backup', 'DB', 'x');
    task(ids.d, 2, 'backup', 'DB', 'y');
    s.startTask(d1);
    at(T0 - 4 * M);
    ids.e = s.recordCoalesced({ plan: 'hourly', scheduledFor: T0 - 4 * M, into: ids.d });
    r.w.catalog
      .leases()
      .acquire(['unit:DB/x', 'destination:local'], { kind: 'backup', holder: 'server-1', runId: ids.d });
    const alerts = r.w.catalog.alerts();
    for (let i = 0; i < 12; i++) {
      at(T0 - (12 - i) * M);
      ids[`alert${i}`] = alerts.record({
        event: 'run-failed',
        severity: i % 2 ? 'critical' : 'warning',
        summary: `alert ${i}`,
        details: {},
      });
    }
    at(T0);
  });
  after(() => r.close());

  it('answers the exact dashboard of the catalog', async () => {
    const d = await json(await r.get('/api/dashboard'), 200);
    const brief = (id: string) => {
      const x = r.w.catalog.planRuns().getRun(id)!;
      return {
        id,
        status: x.status,
        trigger: x.trigger,
        startedAt: x.startedAt,
        finishedAt: x.finishedAt,
        reason: x.reason,
      };
    };
    assert.deepEqual(d.plans, [
      {
        name: 'nightly',
        description: '',
        schedule: null,
        nextDue: null,
        lastRun: brief(ids.b!),
        lastSuccessAt: T0 - 30 * H + 60_000,
      },
      {
        name: 'hourly',
        description: 'hourly plan',
        schedule: '0 * * * *',
        nextDue: T0 + H,
        // The run still going, not the scheduled run coalesced into it (nor a refused click).
        lastRun: brief(ids.d!),
        lastSuccessAt: T0 - 89 * M,
      },
      // Monday 2026-03-16 03:00 in Zurich (UTC+1) is 02:00 UTC.
      {
        name: 'weekly',
        description: 'weekly plan',
        schedule: '0 3 * * 1 (Europe/Zurich)',
        nextDue: Date.UTC(2026, 2, 16, 2, 0, 0),
        lastRun: null,
        lastSuccessAt: null,
      },
    ]);
    assert.deepEqual(d.running, [
      {
        runId: ids.d,
        plan: 'hourly',
        startedAt: T0 - 5 * M,
        tasks: [
          { seq: 1, target: 'DB', unit: 'x', status: 'running' },
          { seq: 2, target: 'DB', unit: 'y', status: 'pending' },
        ],
      },
    ]);
    assert.deepEqual(d.locks, [
      {
        scope: 'destination:local',
        kind: 'backup',
        holder: 'server-1',
        runId: ids.d,
        createdAt: T0 - 4 * M,
        heartbeatAt: T0 - 4 * M,
      },
      {
        scope: 'unit:DB/x',
        kind: 'backup',
        holder: 'server-1',
        runId: ids.d,
        createdAt: T0 - 4 * M,
        heartbeatAt: T0 - 4 * M,
      },
    ]);
    assert.deepEqual(
      d.alerts,
      [11, 10, 9, 8, 7, 6, 5, 4, 3, 2].map((i) => ({
        id: ids[`alert${i}`],
        at: T0 - (12 - i) * M,
        event: 'run-failed',
        severity: i % 2 ? 'critical' : 'warning',
        summary: `alert ${i}`,
      })),
    );
    assert.equal(d.failures24h, 2, 'the failed run 3 h ago and the partial one 20 h ago; not the failure of 47 h ago');
    assert.deepEqual(d.protection, [
      {
        plan: 'nightly',
        target: 'HOST',
        unit: 'docs',
        lastSnapshotAt: T0 - 30 * H + 50_000,
        ageMs: 30 * H - 50_000,
        state: 'stale',
        reason: null,
      },
      // The last run failed it: failing, whatever its age.
      {
        plan: 'nightly',
        target: 'HOST',
        unit: 'logs',
        lastSnapshotAt: null,
        ageMs: null,
        state: 'failing',
        reason: 'disk',
      },
      {
        plan: 'hourly',
        target: 'DB',
        unit: 'x',
        lastSnapshotAt: T0 - 89 * M - 30_000,
        ageMs: 89 * M + 30_000,
        state: 'ok',
        reason: null,
      },
      // Its last finished run (the running one and the coalesced one do not count) failed it.
      {
        plan: 'hourly',
        target: 'DB',
        unit: 'y',
        lastSnapshotAt: null,
        ageMs: null,
        state: 'failing',
        reason: 'dump failed',
      },
      { plan: 'weekly', target: 'HOST', unit: 'docs', lastSnapshotAt: null, ageMs: null, state: 'never', reason: null },
    ]);
  });

  it('moves protection states with the clock: ok within 2× the schedule interval (26 h unscheduled), stale after', async () => {
    const states = async () =>
      (await json(await r.get('/api/dashboard'), 200)).protection.map((p: Json) => `${p.plan} ${p.unit} ${p.state}`);
    try {
      clock.set(T0 - 89 * M - 30_000 + 2 * H);
      assert.deepEqual(
        await states(),
        ['nightly docs stale', 'nightly logs failing', 'hourly x ok', 'hourly y failing', 'weekly docs never'],
        'hourly x exactly 2 h old',
      );
      clock.set(T0 - 89 * M - 30_000 + 2 * H + DASHBOARD_CACHE_MS);
      assert.deepEqual(await states(), [
        'nightly docs stale',
        'nightly logs failing',
        'hourly x stale',
        'hourly y failing',
        'weekly docs never',
      ]);
      clock.set(T0 - 30 * H + 50_000 + 26 * H);
      assert.equal((await states())[0], 'nightly docs ok', 'nightly docs exactly 26 h old');
      clock.set(T0 - 30 * H + 50_000 + 26 * H + DASHBOARD_CACHE_MS);
      assert.equal((await states())[0], 'nightly docs stale');
    } finally {
      clock.set(T0);
    }
  });

  it('serves one computed dashboard for up to a second of the clock', async () => {
    try {
      clock.set(T0 + 10 * H);
      const first = await json(await r.get('/api/dashboard'), 200);
      r.w.catalog.alerts().record({ event: 'run-failed', severity: 'critical', summary: 'newest', details: {} });
      clock.set(T0 + 10 * H + DASHBOARD_CACHE_MS - 1);
      assert.deepEqual(await json(await r.get('/api/dashboard'), 200), first);
      clock.set(T0 + 10 * H + DASHBOARD_CACHE_MS);
      const next = await json(await r.get('/api/dashboard'), 200);
      assert.equal(next.alerts[0].summary, 'newest');
      assert.equal(next.alerts.length, 10);
    } finally {
      clock.set(T0);
    }
  });

  it('GET /api/charts gives the finished runs of the last days, oldest first, without skipped ones', async () => {
    const c = await json(await r.get('/api/charts?plan=hourly'), 200);
    assert.deepEqual(c, {
      plan: 'hourly',
      points: [
        { runId: ids.f, at: T0 - 20 * H + 30_000, durationMs: 30_000, bytesAdded: 7, status: 'partial' },
        { runId: ids.c, at: T0 - 89 * M, durationMs: M, bytesAdded: 10, status: 'succeeded' },
      ],
    });
    const long = await json(await r.get('/api/charts?plan=hourly&days=60'), 200);
    assert.deepEqual(
      long.points.map((p: Json) => [p.runId, p.durationMs, p.bytesAdded]),
      [
        [ids.g, 1000, 0],
        [ids.f, 30_000, 7],
        [ids.c, M, 10],
      ],
    );
    const day = await json(await r.get('/api/charts?plan=nightly&days=1'), 200);
    assert.deepEqual(
      day.points.map((p: Json) => [p.runId, p.status]),
      [[ids.b, 'failed']],
    );
    assert.deepEqual((await json(await r.get('/api/charts?plan=weekly'), 200)).points, []);
    assert.equal((await json(await r.get('/api/charts?plan=nope'), 404)).error.code, 'NOT_FOUND');
    assert.equal((await json(await r.get('/api/charts'), 400)).error.code, 'USAGE');
    assert.equal((await json(await r.get('/api/charts?plan=hourly&days=0'), 400)).error.code, 'USAGE');
  });

  it('GET /api/charts/repository gives size samples, taking one when the newest is an hour old', async () => {
    const data = path.join(r.w.repoPath, 'data');
    const store = RepoSizeStore.open(r.w.catalog.path, clock);
    try {
      store.record('local', 999, T0 - 40 * 24 * H);
      store.record('local', 1000, T0 - 3 * H);
      store.record('local', 2000, T0 - 2 * H);
      const size0 = dirBytes(data);
      const c = await json(await r.get('/api/charts/repository?destination=local'), 200);
      assert.deepEqual(c, {
        destination: 'local',
        points: [
          { at: T0 - 3 * H, bytes: 1000 },
          { at: T0 - 2 * H, bytes: 2000 },
          { at: T0, bytes: size0 },
        ],
      });
      fs.mkdirSync(path.join(data, 'ff'), { recursive: true });
      fs.writeFileSync(path.join(data, 'ff', 'pack-test'), Buffer.alloc(500));
      clock.set(T0 + 59 * M);
      const same = await json(await r.get('/api/charts/repository?destination=local'), 200);
      assert.equal(same.points.length, 3, 'the newest sample is younger than an hour: none taken');
      clock.set(T0 + H);
      const more = await json(await r.get('/api/charts/repository?destination=local&days=60'), 200);
      assert.deepEqual(
        more.points.map((p: Json) => [p.at, p.bytes]),
        [
          [T0 - 40 * 24 * H, 999],
          [T0 - 3 * H, 1000],
          [T0 - 2 * H, 2000],
          [T0, size0],
          [T0 + H, size0 + 500],
        ],
      );
      assert.deepEqual(store.latest('local'), { at: T0 + H, bytes: size0 + 500 });
      assert.equal((await json(await r.get('/api/charts/repository?destination=nope'), 404)).error.code, 'NOT_FOUND');
      assert.equal((await json(await r.get('/api/charts/repository?destination=gens'), 400)).error.code, 'USAGE');
    } finally {
      store.close();
      clock.set(T0);
    }
  });

  it('the sampling loop records every repository destination at start, and stops', async () => {
    const c2 = new ManualClock(T0 + 5 * H);
    const lines: object[] = [];
    const sampling = startRepoSizeSampling(r.w.catalog.path, r.w.config, c2, (l) => lines.push(l), 60_000);
    await sampling.stop();
    const store = RepoSizeStore.open(r.w.catalog.path, c2);
    try {
      assert.deepEqual(store.latest('local'), { at: T0 + 5 * H, bytes: dirBytes(path.join(r.w.repoPath, 'data')) });
      assert.equal(store.latest('gens'), null, 'directory destinations are not sampled');
    } finally {
      store.close();
    }
    assert.deepEqual(lines, []);
  });

  it('needs credentials: 401 without or with a wrong token; a viewer token is enough', async () => {
    for (const p of ['/api/dashboard', '/api/charts?plan=hourly', '/api/charts/repository?destination=local']) {
      assert.equal((await json(await r.get(p, null), 401)).error.code, 'UNAUTHORIZED', p);
      assert.equal(
        (await json(await r.get(p, null, { headers: { authorization: 'Bearer nope' } }), 401)).error.code,
        'UNAUTHORIZED',
        p,
      );
      for (const role of ['viewer', 'operator', 'admin'] as const) await json(await r.get(p, role), 200);
    }
  });

  it('documents both resources in the OpenAPI document with the viewer role', async () => {
    const doc = await json(await fetch(`${r.base}/api/openapi.json`), 200);
    assert.deepEqual(
      ['/api/dashboard', '/api/charts', '/api/charts/repository'].map((p) => [
        doc.paths[p].get.operationId,
        doc.paths[p].get['x-safehold-role'],
      ]),
      [
        ['getDashboard', 'viewer'],
        ['getRunChart', 'viewer'],
        ['getRepositoryChart', 'viewer'],
      ],
    );
    assert.ok(doc.components.schemas.Dashboard);
  });
});

describe('GET /api/dashboard after real runs: a unit its last run did not protect is failing', () => {
  it('a target that became unavailable, and a unit pattern that matched nothing, show as failing with the reason', async (t) => {
    let flag = '';
    const r = await apiRig({
      core: false,
      setup: (w) => {
        flag = path.join(w.dir, 'db-up');
        fs.writeFileSync(flag, '');
        const db: CommandTarget = {
          kind: 'command',
          name: 'DB',
          site: null,
          listUnits: ['sh', '-c', 'echo shop; echo blog'],
          backup: ['sh', '-c', 'printf "dump of $SAFEHOLD_UNIT"'],
          restore: null,
          probe: ['test', '-f', flag],
          timeoutMs: 10_000,
          env: {},
        };
        Object.assign(w.config.targets, { DB: db });
        const base = w.config.plans.nightly!;
        Object.assign(w.config.plans, {
          dbs: { ...base, name: 'dbs', activities: [activity('db', 'backup', 'DB', 'shop')] },
          typo: { ...base, name: 'typo', activities: [activity('db', 'backup', 'DB', 'shopp')] },
        });
      },
    });
    t.after(() => r.close());
    const run = (plan: string) => runPlan({ config: r.w.config, plan, trigger: 'on-demand', catalog: r.w.catalog });
    assert.equal((await run('dbs')).status, 'succeeded');
    assert.equal((await run('typo')).status, 'failed');
    fs.rmSync(flag);
    assert.equal((await run('dbs')).status, 'skipped');
    const d = await json(await r.get('/api/dashboard'), 200);
    const rows = d.protection.filter((p: Json) => p.plan !== 'nightly');
    assert.deepEqual(
      rows.map((p: Json) => [p.plan, p.target, p.unit, p.state, p.reason]),
      [
        ['dbs', 'DB', 'shop', 'failing', 'target DB is unavailable: DB: the probe exited with 1'],
        ['typo', 'DB', 'shopp', 'failing', "no unit of DB matches 'shopp' (units: blog, shop)"],
      ],
    );
    assert.ok(rows[0].ageMs !== null && rows[0].ageMs < H, 'a fresh snapshot: by age alone it would be ok');
    assert.ok(d.plans.find((p: Json) => p.name === 'dbs').lastSuccessAt !== null);
  });
});
