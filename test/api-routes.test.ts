// The REST API over real HTTP on loopback with a real catalog, repository
// and ServerCore: every resource with real data, keyset pagination walked to
// the end (no repeats, no gaps, ties on the sort key), filters, the error
// shape and 400s, request ids and the JSON request log, audit entries of
// state changes, a real plan run (waited for, and started with wait=false
// then tailed), lock release, and a group restore into another place.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ManualClock } from '../src/core/clock.ts';
import type { Group } from '../src/config/types.ts';
import { activity } from './helpers/plan-fixtures.ts';
import { apiRig } from './helpers/api-rig.ts';
import type { ApiRig } from './helpers/api-rig.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function json(res: Response, status: number): Promise<Json> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text) as Json;
}

function assertError(body: Json, code: string, requestId?: string): void {
  assert.deepEqual(Object.keys(body), ['error']);
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  if (requestId) assert.equal(body.error.requestId, requestId);
  assert.doesNotMatch(JSON.stringify(body), /at .*\.ts:\d+/, 'no stack trace');
}

async function walk(r: ApiRig, p: string, limit: number): Promise<{ pages: number; items: Json[] }> {
  const items: Json[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const sep = p.includes('?') ? '&' : '?';
    const body = await json(
      await r.get(`${p}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`),
      200,
    );
    items.push(...body.items);
    cursor = body.nextCursor;
    pages++;
    assert.ok(pages < 100);
  } while (cursor);
  return { pages, items };
}

describe('API lists: pagination and filters over catalog data', () => {
  let r: ApiRig;
  const clock = new ManualClock(Date.UTC(2026, 2, 1));
  const runIds: string[] = [];
  before(async () => {
    r = await apiRig({ core: false, clock });
    const store = r.w.catalog.planRuns();
    for (let i = 0; i < 130; i++) {
      // Every third pair of runs shares its start time: ties broken by id.
      if (i % 3 !== 1) clock.set(Date.UTC(2026, 2, 1) + i * 60_000);
      const plan = i % 2 === 0 ? 'nightly' : 'weekly';
      const id = store.startRun({ plan, trigger: i % 5 === 0 ? 'scheduled' : 'on-demand' });
      runIds.push(id);
      if (i % 10 !== 9) store.finishRun(id, i % 4 === 0 ? 'failed' : 'succeeded', i % 4 === 0 ? 'boom' : null);
      const t = store.addTask(id, {
        seq: 1,
        activity: 'files',
        kind: 'backup',
        target: i % 2 ? 'HOST' : 'DB',
        unit: 'u1',
        status: 'pending',
      });
      if (i < 60)
        store.finishTask(t, {
          status: 'succeeded',
          snapshots: i % 6 === 0 ? [`s${i}a`, `s${i}b`] : [`s${i}`],
          bytes: 100 + i,
        });
      store.log(id, 'info', `line 1 of ${i}`);
      store.log(id, 'warn', `line 2 of ${i}`);
    }
    const alerts = r.w.catalog.alerts();
    for (let i = 0; i < 75; i++) {
      clock.set(Date.UTC(2026, 3, 1) + Math.floor(i / 2) * 1000);
      const id = alerts.record({
        event: i % 3 ? 'run-failed' : 'stale-lock-cleared',
        severity: i % 3 ? 'critical' : 'warning',
        summary: `alert ${i}`,
        details: { i },
      });
      if (i === 0) alerts.markDelivered(id, 'hook', false, 'HTTP 500');
    }
    const drills = r.w.catalog.drills();
    for (let i = 0; i < 7; i++) {
      drills.record({
        runId: null,
        taskId: null,
        plan: 'nightly',
        target: i < 4 ? 'DB' : 'HOST',
        unit: 'u1',
        snapshot: `s${i}`,
        startedAt: Date.UTC(2026, 4, 1) + i,
        finishedAt: Date.UTC(2026, 4, 1) + i + 10,
        restoreMs: 5,
        verifyMs: 3,
        status: i === 2 ? 'failed' : 'passed',
        summary: `drill ${i}`,
        details: null,
      });
    }
  });
  after(() => r.close());

  it('GET /api/runs walks 130 runs in pages of 50 without repeats or gaps, newest first', async () => {
    const { pages, items } = await walk(r, '/api/runs', 50);
    assert.equal(pages, 3);
    assert.equal(items.length, 130);
    assert.equal(new Set(items.map((x) => x.id)).size, 130);
    assert.deepEqual(new Set(items.map((x) => x.id)), new Set(runIds));
    for (let i = 1; i < items.length; i++) {
      const a = items[i - 1]!;
      const b = items[i]!;
      assert.ok(a.startedAt > b.startedAt || (a.startedAt === b.startedAt && a.id > b.id), `order at ${i}`);
    }
    const tiny = await walk(r, '/api/runs', 7);
    assert.deepEqual(
      tiny.items.map((x) => x.id),
      items.map((x) => x.id),
      'page size does not change the sequence',
    );
  });

  it('GET /api/runs filters by plan, status and trigger (and paginates the filtered list)', async () => {
    const weekly = await walk(r, '/api/runs?plan=weekly', 20);
    assert.equal(weekly.items.length, 65);
    assert.ok(weekly.items.every((x) => x.plan === 'weekly'));
    const failed = await json(await r.get('/api/runs?status=failed&limit=500'), 200);
    assert.equal(failed.items.length, 33);
    assert.ok(failed.items.every((x: Json) => x.status === 'failed' && x.reason === 'boom'));
    const running = await json(await r.get('/api/runs?status=running&plan=weekly'), 200);
    assert.equal(running.items.length, 13);
    const sched = await json(await r.get('/api/runs?trigger=scheduled&limit=500'), 200);
    assert.equal(sched.items.length, 26);
    assert.equal(sched.nextCursor, null);
  });

  it('GET /api/runs/:id gives the run with its tasks, by id or unique prefix; /log tails after a seq', async () => {
    const id = runIds[10]!;
    const one = await json(await r.get(`/api/runs/${id}`), 200);
    assert.equal(one.run.id, id);
    assert.deepEqual(
      one.tasks.map((t: Json) => [t.seq, t.target, t.status, t.snapshots]),
      [[1, 'DB', 'succeeded', ['s10']]],
    );
    const byPrefix = await json(await r.get(`/api/runs/${id.slice(0, 10)}`), 200);
    assert.equal(byPrefix.run.id, id);
    const log = await json(await r.get(`/api/runs/${id}/log`), 200);
    assert.deepEqual(
      log.items.map((l: Json) => [l.seq, l.level, l.message]),
      [
        [1, 'info', 'line 1 of 10'],
        [2, 'warn', 'line 2 of 10'],
      ],
    );
    assert.equal(log.last, 2);
    const tail = await json(await r.get(`/api/runs/${id}/log?after=1`), 200);
    assert.deepEqual(
      tail.items.map((l: Json) => l.seq),
      [2],
    );
    const none = await json(await r.get(`/api/runs/${id}/log?after=2`), 200);
    assert.deepEqual([none.items, none.last], [[], 2]);
  });

  it('GET /api/snapshots lists each snapshot of succeeded backup tasks, with filters and pagination', async () => {
    const all = await walk(r, '/api/snapshots', 13);
    assert.equal(all.items.length, 70, '60 tasks, 10 of them with two snapshots');
    assert.equal(new Set(all.items.map((s) => s.snapshot)).size, 70);
    const s10 = all.items.find((s) => s.snapshot === 's10')!;
    assert.deepEqual(
      [s10.plan, s10.target, s10.unit, s10.bytes, s10.runId, s10.destination],
      ['nightly', 'DB', 'u1', 110, runIds[10], 'local'],
    );
    const host = await walk(r, '/api/snapshots?target=HOST', 50);
    assert.equal(host.items.length, 30);
    assert.ok(host.items.every((s) => s.target === 'HOST' && s.plan === 'weekly'));
    const weekly = await json(await r.get('/api/snapshots?plan=weekly&limit=500'), 200);
    assert.equal(weekly.items.length, 30);
    const nounit = await json(await r.get('/api/snapshots?unit=nope'), 200);
    assert.deepEqual(nounit.items, []);
  });

  it('GET /api/alerts and /api/drills paginate (ties on time) and filter', async () => {
    const all = await walk(r, '/api/alerts', 10);
    assert.equal(all.items.length, 75);
    assert.equal(new Set(all.items.map((a) => a.id)).size, 75);
    const first = all.items.find((a) => a.summary === 'alert 0')!;
    assert.deepEqual(
      first.deliveries.map((d: Json) => [d.channel, d.ok, d.detail]),
      [['hook', false, 'HTTP 500']],
    );
    const stale = await walk(r, '/api/alerts?event=stale-lock-cleared', 10);
    assert.equal(stale.items.length, 25);
    const crit = await json(await r.get('/api/alerts?severity=critical&limit=500'), 200);
    assert.equal(crit.items.length, 50);
    const drills = await walk(r, '/api/drills', 3);
    assert.deepEqual(
      drills.items.map((d) => d.summary),
      ['drill 6', 'drill 5', 'drill 4', 'drill 3', 'drill 2', 'drill 1', 'drill 0'],
    );
    const failed = await json(await r.get('/api/drills?status=failed'), 200);
    assert.deepEqual(
      failed.items.map((d: Json) => d.summary),
      ['drill 2'],
    );
    const db = await json(await r.get('/api/drills?target=DB'), 200);
    assert.equal(db.items.length, 4);
  });

  it('bad queries are 400 USAGE naming the parameter; unknown ids and routes 404; one error shape', async () => {
    for (const q of ['limit=0', 'limit=501', 'limit=abc', 'status=bogus', 'trigger=x']) {
      const res = await r.get(`/api/runs?${q}`);
      const body = await json(res, 400);
      assertError(body, 'USAGE', res.headers.get('x-request-id')!);
      assert.match(body.error.message, /querystring\.(limit|status|trigger)/);
      assert.ok(body.error.issues.length >= 1);
    }
    assertError(await json(await r.get('/api/runs?cursor=garbage'), 400), 'USAGE');
    assertError(
      await json(await r.get(`/api/snapshots?cursor=${Buffer.from('[1,"a"]').toString('base64url')}`), 400),
      'USAGE',
    );
    assertError(await json(await r.get('/api/runs/ffffffffffff'), 404), 'NOT_FOUND');
    assertError(await json(await r.get('/api/plans/nope'), 404), 'NOT_FOUND');
    const res = await r.get('/api/nothing-here', null);
    assertError(await json(res, 404), 'NOT_FOUND', res.headers.get('x-request-id')!);
  });

  it('an ambiguous run id prefix is 409 AMBIGUOUS', async () => {
    const store = r.w.catalog.planRuns();
    // Find a one-character prefix shared by two runs.
    const counts = new Map<string, number>();
    for (const id of runIds) counts.set(id[0]!, (counts.get(id[0]!) ?? 0) + 1);
    const prefix = [...counts].find(([, n]) => n > 1)![0];
    assert.ok(store.listRuns({ limit: 500 }).filter((x) => x.id.startsWith(prefix)).length > 1);
    assertError(await json(await r.get(`/api/runs/${prefix}`), 409), 'AMBIGUOUS');
  });

  it('keeps an incoming X-Request-Id, makes one otherwise, and logs one JSON line per request', async () => {
    const res = await r.get('/api/locks', 'viewer', { headers: { 'x-request-id': 'trace-42' } });
    assert.equal(res.headers.get('x-request-id'), 'trace-42');
    await res.text();
    const line = r.logs.find((l) => l.requestId === 'trace-42')!;
    assert.deepEqual(
      [line.method, line.path, line.status, line.principal, line.msg],
      ['GET', '/api/locks', 200, 'token-viewer', 'http request'],
    );
    assert.equal(typeof line.ms, 'number');
    const gen = await r.get('/api/locks', 'viewer', { headers: { 'x-request-id': 'bad id with spaces' } });
    assert.match(gen.headers.get('x-request-id')!, /^[0-9a-f-]{36}$/);
    await gen.text();
  });

  it('without a scheduler, status and run-now are 503 UNAVAILABLE (audited)', async () => {
    assertError(await json(await r.get('/api/status'), 503), 'UNAVAILABLE');
    assertError(await json(await r.send('POST', '/api/plans/nightly/run', 'operator'), 503), 'UNAVAILABLE');
    const a = r.audits.at(-1)!;
    assert.deepEqual(
      [a.method, a.path, a.status, a.principal, a.role],
      ['POST', '/api/plans/nightly/run', 503, 'token-operator', 'operator'],
    );
  });
});

describe('API with a running server core', () => {
  let r: ApiRig;
  let groupRun = '';
  before(async () => {
    r = await apiRig({
      setup: (w) => {
        const group: Group = {
          name: 'app',
          mode: 'quiesced',
          members: [{ target: 'HOST', units: ['docs'] }],
          stop: null,
          start: null,
          check: null,
          cleanup: null,
        };
        Object.assign(w.config, { groups: { app: group } });
        Object.assign(w.config.plans, {
          grp: {
            ...w.config.plans.nightly!,
            name: 'grp',
            activities: [activity('app', 'backup', '', null, { group: 'app' })],
          },
        });
      },
    });
  });
  after(() => r.close());

  it('GET /api/health and /api/status; /api/plans with the last run', async () => {
    assert.deepEqual(await json(await r.get('/api/health', null), 200), { ok: true });
    const st = await json(await r.get('/api/status'), 200);
    assert.deepEqual([st.pid, st.running, st.queued], [process.pid, [], []]);
    const plans = await json(await r.get('/api/plans'), 200);
    assert.deepEqual(
      plans.items.map((p: Json) => [p.name, p.destination, p.lastRun]),
      [
        ['nightly', 'local', null],
        ['grp', 'local', null],
      ],
    );
  });

  it('POST /api/plans/:name/run runs the plan and returns the run with its tasks; audited with the run id', async () => {
    const body = await json(await r.send('POST', '/api/plans/nightly/run', 'operator'), 200);
    assert.equal(body.run.status, 'succeeded', JSON.stringify(body));
    assert.deepEqual(
      body.tasks.map((t: Json) => [t.target, t.unit, t.status]),
      [['HOST', 'docs', 'succeeded']],
    );
    assert.equal(body.tasks[0].snapshots.length, 1);
    const a = r.audits.at(-1)!;
    assert.deepEqual(
      [a.principal, a.role, a.method, a.path, a.status, a.ip, a.detail],
      [
        'token-operator',
        'operator',
        'POST',
        '/api/plans/nightly/run',
        200,
        '127.0.0.1',
        `run ${body.run.id} succeeded`,
      ],
    );
    const plan = await json(await r.get('/api/plans/nightly'), 200);
    assert.equal(plan.lastRun.id, body.run.id);
    assert.equal(plan.lastSuccessAt, body.run.finishedAt);
    const snaps = await json(await r.get('/api/snapshots?plan=nightly'), 200);
    assert.deepEqual(
      snaps.items.map((s: Json) => s.snapshot),
      body.tasks[0].snapshots,
    );
    assertError(await json(await r.send('POST', '/api/plans/nope/run', 'operator'), 404), 'NOT_FOUND');
  });

  it('POST …/run?wait=false answers 202 with the run id at once; the log can be tailed until it ends', async () => {
    const started = await json(await r.send('POST', '/api/plans/grp/run?wait=false', 'operator'), 202);
    assert.match(started.runId, /^[0-9a-f]{16}$/);
    let after = 0;
    const lines: string[] = [];
    for (let i = 0; i < 500; i++) {
      const log = await json(await r.get(`/api/runs/${started.runId}/log?after=${after}`), 200);
      for (const l of log.items) {
        assert.equal(l.seq, after + 1, 'no gaps');
        after = l.seq;
        lines.push(l.message);
      }
      if (log.status !== 'running') break;
      await new Promise((res) => setTimeout(res, 20));
    }
    const run = await json(await r.get(`/api/runs/${started.runId}`), 200);
    assert.equal(run.run.status, 'succeeded', JSON.stringify(run));
    assert.ok(lines.length > 2, lines.join('\n'));
    groupRun = started.runId;
  });

  it('POST /api/restores: in place needs admin (403 for an operator); into another place an operator may', async () => {
    assert.ok(groupRun, 'the group was backed up by the previous test');
    const inPlace = await json(await r.send('POST', '/api/restores', 'operator', { group: 'app', from: 'local' }), 403);
    assertError(inPlace, 'FORBIDDEN');
    assert.match(inPlace.error.message, /admin/);
    assert.equal(r.audits.at(-1)!.status, 403);
    const to = path.join(r.w.dir, 'restored');
    fs.mkdirSync(to);
    const body = await json(
      await r.send('POST', '/api/restores', 'operator', {
        group: 'app',
        from: 'local',
        filesTo: to,
        safetyBackup: false,
      }),
      200,
    );
    assert.equal(body.ok, true, JSON.stringify(body));
    assert.equal(body.groupRun, `app/${groupRun}`);
    assert.equal(fs.readFileSync(path.join(to, r.srcDir, 'docs', 'a.txt'), 'utf8'), 'hello api\n');
    assert.ok(body.log.some((l: Json) => l.step === 'files'));
    assert.match(r.audits.at(-1)!.detail!, /^restore of group app from local/);
    assertError(
      await json(await r.send('POST', '/api/restores', 'operator', { group: 'nope', from: 'local', filesTo: to }), 404),
      'NOT_FOUND',
    );
    assertError(
      await json(await r.send('POST', '/api/restores', 'operator', { group: 'app', from: 'nope', filesTo: to }), 404),
      'NOT_FOUND',
    );
    const bad = await json(
      await r.send('POST', '/api/restores', 'operator', { group: 'app', from: 'local', force: 'yes', extra: 1 }),
      400,
    );
    assertError(bad, 'USAGE');
    assert.ok(
      bad.error.issues.some((i: Json) => i.path === 'body.force'),
      JSON.stringify(bad),
    );
  });

  it('GET /api/locks and DELETE /api/locks/:scope: a live lease needs force, a stale one is released; audited', async () => {
    const leases = r.w.catalog.leases();
    assert.ok(leases.acquire(['unit:HOST/docs'], { kind: 'backup', holder: 'someone', runId: 'feedc0de00000000' }).ok);
    const list = await json(await r.get('/api/locks'), 200);
    assert.deepEqual(
      list.items.map((l: Json) => [l.scope, l.holder, l.stale]),
      [['unit:HOST/docs', 'someone', null]],
    );
    const scope = encodeURIComponent('unit:HOST/docs');
    assertError(await json(await r.send('DELETE', `/api/locks/${scope}`, 'operator'), 403), 'FORBIDDEN');
    assertError(await json(await r.send('DELETE', `/api/locks/${scope}`, 'admin'), 409), 'LOCKED');
    const rel = await json(await r.send('DELETE', `/api/locks/${scope}?force=true`, 'admin'), 200);
    assert.equal(rel.released.scope, 'unit:HOST/docs');
    assert.deepEqual(leases.list(), []);
    const a = r.audits.at(-1)!;
    assert.deepEqual([a.principal, a.method, a.status], ['token-admin', 'DELETE', 200]);
    assert.match(a.detail!, /released lease unit:HOST\/docs of someone \(run feedc0de00000000\) \(live, forced\)/);
    assertError(await json(await r.send('DELETE', `/api/locks/${scope}`, 'admin'), 404), 'NOT_FOUND');
    assert.deepEqual(
      r.audits.slice(-4).map((x) => x.status),
      [403, 409, 200, 404],
    );
  });

  it('GET /api/locks: a lease left by a process that died is stale (holder-gone) and released without force', async () => {
    const catalogTs = path.resolve(import.meta.dirname, '..', 'src', 'catalog', 'catalog.ts');
    const script = `
      import { Catalog } from ${JSON.stringify(catalogTs)};
      const c = Catalog.open(${JSON.stringify(r.w.config.settings.dataDir)});
      if (!c.leases().acquire(['target:GONE'], { kind: 'backup', holder: 'dead-child' }).ok) process.exit(9);
      c.close();`;
    const child = spawnSync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    assert.equal(child.status, 0, child.stderr);
    const list = await json(await r.get('/api/locks'), 200);
    assert.deepEqual(
      list.items.map((l: Json) => [l.scope, l.holder, l.stale]),
      [['target:GONE', 'dead-child', 'holder-gone']],
    );
    const rel = await json(await r.send('DELETE', `/api/locks/${encodeURIComponent('target:GONE')}`, 'admin'), 200);
    assert.equal(rel.released.scope, 'target:GONE');
    assert.match(r.audits.at(-1)!.detail!, /\(stale: holder-gone\)/);
  });
});
