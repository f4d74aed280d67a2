// POST /api/restores/unit over real HTTP: a real plan run backs up a files
// target and a sqlite target (a real database file made with node:sqlite);
// one files snapshot is restored under another directory and one dump into
// a new database file by an operator; in place is refused (403) for an
// operator; errors map to their statuses. Then POST /api/restores of a group
// of a real PostgreSQL database and files: the dry run (and the viewer's
// preview) changes nothing and lists the effects, the hooks run only over
// live data, and the result says what became of the safety backup.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Group, Plan, ServerDbTarget, SqliteTarget } from '../src/config/types.ts';
import { runSql } from '../src/drivers/sql/sql-exec.ts';
import { listSnapshots } from '../src/repo/snapshot.ts';
import { apiRig } from './helpers/api-rig.ts';
import type { ApiRig } from './helpers/api-rig.ts';
import { activity, hook, openRepo } from './helpers/plan-fixtures.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function json(res: Response, status: number): Promise<Json> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text) as Json;
}

describe('POST /api/restores/unit', () => {
  let r: ApiRig;
  let dbDir: string;
  const snap: Record<string, string> = {};
  before(async () => {
    r = await apiRig({
      setup: (w) => {
        dbDir = path.join(w.dir, 'dbs');
        fs.mkdirSync(dbDir);
        const db = new DatabaseSync(path.join(dbDir, 'app.db'));
        db.exec(
          "CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t (v) VALUES ('one'), ('two'), ('three');",
        );
        db.close();
        const sqlite: SqliteTarget = {
          kind: 'sqlite',
          name: 'DB',
          site: null,
          dir: dbDir,
          files: '*.db',
          timeoutMs: 10_000,
        };
        Object.assign(w.config.targets, { DB: sqlite });
        const plan: Plan = { ...w.config.plans.nightly!, activities: [activity('all', 'backup', '*', '*')] };
        Object.assign(w.config.plans, { nightly: plan });
      },
    });
    const run = await json(await r.send('POST', '/api/plans/nightly/run', 'operator'), 200);
    assert.equal(run.run.status, 'succeeded', JSON.stringify(run));
    const snaps = await json(await r.get('/api/snapshots?plan=nightly'), 200);
    for (const s of snaps.items) snap[`${s.target}/${s.unit}`] = s.snapshot;
    assert.deepEqual(Object.keys(snap).sort(), ['DB/app.db', 'HOST/docs']);
  });
  after(() => r.close());

  it('restores a files snapshot under another directory as an operator; audited', async () => {
    const to = path.join(r.w.dir, 'restored');
    const body = await json(
      await r.send('POST', '/api/restores/unit', 'operator', {
        destination: 'local',
        snapshot: snap['HOST/docs']!.slice(0, 10),
        target: to,
      }),
      200,
    );
    assert.deepEqual(body, {
      snapshot: snap['HOST/docs'],
      kind: 'files',
      into: to,
      target: 'HOST',
      unit: 'docs',
      inPlace: false,
      overLiveData: [],
      safety: null,
      files: 1,
      bytes: 10,
    });
    assert.equal(fs.readFileSync(path.join(to, r.srcDir, 'docs', 'a.txt'), 'utf8'), 'hello api\n');
    const a = r.audits.at(-1)!;
    assert.deepEqual([a.principal, a.path, a.status], ['token-operator', '/api/restores/unit', 200]);
    assert.equal(
      a.detail,
      `restore of snapshot ${snap['HOST/docs']!.slice(0, 10)} from local: files HOST/docs into ${to}; new places only`,
    );
  });

  it('a files restore in place (target /) needs admin: 403 for an operator, nothing touched', async () => {
    fs.writeFileSync(path.join(r.srcDir, 'docs', 'a.txt'), 'changed\n');
    const res = await json(
      await r.send('POST', '/api/restores/unit', 'operator', {
        destination: 'local',
        snapshot: snap['HOST/docs']!,
        target: '/',
      }),
      403,
    );
    assert.equal(res.error.code, 'FORBIDDEN');
    assert.match(res.error.message, /admin/);
    assert.equal(fs.readFileSync(path.join(r.srcDir, 'docs', 'a.txt'), 'utf8'), 'changed\n');
    assert.equal(r.audits.at(-1)!.status, 403);
    assert.match(r.audits.at(-1)!.detail!, /refused or failed \(FORBIDDEN: .*files of HOST\/docs/);
  });

  it('an admin restores a files snapshot in place (clean)', async () => {
    fs.writeFileSync(path.join(r.srcDir, 'docs', 'stale.txt'), 'x');
    const body = await json(
      await r.send('POST', '/api/restores/unit', 'admin', {
        destination: 'local',
        snapshot: snap['HOST/docs']!,
        target: '/',
        clean: true,
      }),
      200,
    );
    assert.deepEqual([body.kind, body.into, body.inPlace, body.files], ['files', '/', true, 1]);
    assert.match(body.overLiveData[0], /files of HOST\/docs; exists already/);
    assert.match(body.safety, /^[0-9a-f]{64}$/, 'what was overwritten was saved first');
    assert.match(r.audits.at(-1)!.detail!, /over live data .*safety backup [0-9a-f]{64}$/);
    assert.equal(fs.readFileSync(path.join(r.srcDir, 'docs', 'a.txt'), 'utf8'), 'hello api\n');
    assert.equal(fs.existsSync(path.join(r.srcDir, 'docs', 'stale.txt')), false);
  });

  it('restores a sqlite dump into a new database file as an operator: the rows are there', async () => {
    const body = await json(
      await r.send('POST', '/api/restores/unit', 'operator', {
        destination: 'local',
        snapshot: snap['DB/app.db']!,
        into: 'copy.db',
      }),
      200,
    );
    assert.equal(body.kind, 'database');
    assert.deepEqual([body.into, body.target, body.unit, body.inPlace], ['copy.db', 'DB', 'app.db', false]);
    assert.ok(body.bytes > 0);
    const db = new DatabaseSync(path.join(dbDir, 'copy.db'), { readOnly: true });
    try {
      assert.deepEqual(
        db
          .prepare('SELECT id, v FROM t ORDER BY id')
          .all()
          .map((x) => [x.id, x.v]),
        [
          [1, 'one'],
          [2, 'two'],
          [3, 'three'],
        ],
      );
    } finally {
      db.close();
    }
    // copy.db exists now: overwriting it is a restore over live data.
    const again = await json(
      await r.send('POST', '/api/restores/unit', 'operator', {
        destination: 'local',
        snapshot: snap['DB/app.db']!,
        into: 'copy.db',
        clean: true,
      }),
      403,
    );
    assert.equal(again.error.code, 'FORBIDDEN');
    const admin = await json(
      await r.send('POST', '/api/restores/unit', 'admin', {
        destination: 'local',
        snapshot: snap['DB/app.db']!,
        into: 'copy.db',
      }),
      400,
    );
    assert.equal(admin.error.code, 'RESTORE_TARGET', 'an existing database is replaced only with clean');
  });

  it('a dump into its own name is in place: 403 for an operator', async () => {
    for (const into of [undefined, 'app.db']) {
      const res = await json(
        await r.send('POST', '/api/restores/unit', 'operator', {
          destination: 'local',
          snapshot: snap['DB/app.db']!,
          ...(into ? { into } : {}),
        }),
        403,
      );
      assert.equal(res.error.code, 'FORBIDDEN');
    }
  });

  it('errors: unknown destination or snapshot 404, wrong or missing place 400', async () => {
    const call = async (body: Json, status: number) =>
      (await json(await r.send('POST', '/api/restores/unit', 'operator', body), status)).error.code as string;
    assert.equal(await call({ destination: 'nope', snapshot: snap['HOST/docs']!, target: '/tmp/x' }, 404), 'NOT_FOUND');
    assert.equal(await call({ destination: 'local', snapshot: 'ffffffffffff', target: '/tmp/x' }, 404), 'NOT_FOUND');
    assert.equal(await call({ destination: 'local', snapshot: snap['HOST/docs']! }, 400), 'USAGE');
    assert.equal(
      await call({ destination: 'local', snapshot: snap['HOST/docs']!, target: 'relative/dir' }, 400),
      'USAGE',
    );
    assert.equal(await call({ destination: 'local', snapshot: snap['DB/app.db']!, target: '/tmp/x' }, 400), 'USAGE');
    assert.equal(
      await call({ destination: 'local', snapshot: snap['HOST/docs']!, target: '/tmp/x', extra: 1 }, 400),
      'USAGE',
    );
  });
});

const PG = 'postgres://postgres@127.0.0.1:5432';
const T = { timeoutMs: 20_000 };

describe('POST /api/restores of a PostgreSQL and files group: dry run, hooks, safety backup', () => {
  let r: ApiRig;
  const db = `shar_${randomBytes(4).toString('hex')}`;
  let hooksLog: string;
  let docs: string;
  const rows = async (name = db) => {
    const c = new pg.Client({ connectionString: `${PG}/${name}` });
    await c.connect();
    try {
      return (await c.query('SELECT v FROM t')).rows.map((x) => x.v as string);
    } finally {
      await c.end();
    }
  };
  const hooks = () => (fs.existsSync(hooksLog) ? fs.readFileSync(hooksLog, 'utf8').trim().split('\n') : []);
  /** The live state: rows, the files, the hooks run, the repository's snapshots. */
  const state = async () => {
    const repo = await openRepo(r.w);
    try {
      return {
        rows: await rows(),
        a: fs.readFileSync(path.join(docs, 'a.txt'), 'utf8'),
        stray: fs.existsSync(path.join(docs, 'stray.txt')),
        hooks: hooks(),
        snapshots: (await listSnapshots(repo)).length,
      };
    } finally {
      await repo.close();
    }
  };
  const body = (o: Json = {}) => ({ group: 'app', from: 'local', ...o });

  before(async () => {
    await runSql(`${PG}/postgres`, `CREATE DATABASE ${db}`, T);
    await runSql(`${PG}/${db}`, "CREATE TABLE t (v text); INSERT INTO t VALUES ('v1')", T);
    r = await apiRig({
      setup: (w) => {
        hooksLog = path.join(w.dir, 'hooks.log');
        const pgTarget: ServerDbTarget = {
          kind: 'postgres',
          name: 'PG',
          site: null,
          host: '127.0.0.1',
          port: 5432,
          user: 'postgres',
          password: null,
          databases: db,
          exclude: [],
          timeoutMs: 60_000,
        };
        const mark = (name: string) => hook(name, `echo ${name} >> ${hooksLog}`);
        const group: Group = {
          name: 'app',
          mode: 'quiesced',
          members: [
            { target: 'PG', units: [db] },
            { target: 'HOST', units: ['docs'] },
          ],
          stop: mark('stop'),
          start: mark('start'),
          check: mark('check'),
          cleanup: null,
        };
        Object.assign(w.config.targets, { PG: pgTarget });
        Object.assign(w.config, { groups: { app: group } });
        const plan: Plan = {
          ...w.config.plans.nightly!,
          name: 'grp',
          activities: [activity('app', 'backup', '', null, { group: 'app' })],
        };
        Object.assign(w.config.plans, { grp: plan });
      },
    });
    docs = path.join(r.srcDir, 'docs');
    const run = await json(await r.send('POST', '/api/plans/grp/run', 'operator'), 200);
    assert.equal(run.run.status, 'succeeded', JSON.stringify(run));
    fs.rmSync(hooksLog, { force: true });
    await runSql(`${PG}/${db}`, "UPDATE t SET v = 'v2'", T);
    fs.writeFileSync(path.join(docs, 'a.txt'), 'changed\n');
    fs.writeFileSync(path.join(docs, 'stray.txt'), 'new\n');
  });
  after(async () => {
    await r.close();
    for (const name of [db, `${db}_r`])
      await runSql(`${PG}/postgres`, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, T);
  });

  it('a dry run changes nothing and lists the effects; an operator may dry-run an in-place restore and sees it refused; a viewer may preview', async () => {
    const before = await state();
    assert.deepEqual([before.rows, before.a, before.stray, before.hooks], [['v2'], 'changed\n', true, []]);
    const dry = await json(await r.send('POST', '/api/restores', 'operator', body({ dryRun: true })), 200);
    assert.deepEqual(
      [dry.ok, dry.dryRun, dry.safety, dry.safetyState, dry.restored],
      [false, true, null, 'not-reached', []],
    );
    const plan = dry.plan;
    assert.equal(plan.touchesLive, true);
    assert.match(plan.refusal, /would overwrite live data .*needs the admin role/);
    assert.deepEqual(
      plan.hooks.map((h: Json) => [h.step, h.runs]),
      [
        ['stop', true],
        ['check', true],
        ['cleanup', false],
        ['start', true],
      ],
    );
    assert.deepEqual(plan.safetyBackup.saves, [`database ${db} of PG`, docs]);
    assert.deepEqual(
      plan.databases.map((d: Json) => [d.target, d.into, d.replaces]),
      [['PG', db, true]],
    );
    assert.deepEqual(
      plan.files.map((f: Json) => [f.places, f.deletes, f.deleteCount]),
      [[[docs], [path.join(docs, 'stray.txt')], 1]],
    );
    assert.match(
      r.audits.at(-1)!.detail!,
      /^dry run of the restore of group app from local: .* in place: dry run, would be refused; nothing changed; it would overwrite live data \(database .*files of HOST\/docs.*\)$/,
    );
    const viewer = await json(await r.send('POST', '/api/restores/preview', 'viewer', body()), 200);
    assert.deepEqual(viewer.plan, plan, 'the preview is the same plan');
    assert.equal((await r.send('POST', '/api/restores', 'viewer', body({ dryRun: true }))).status, 403);
    const admin = await json(await r.send('POST', '/api/restores/preview', 'admin', body()), 200);
    assert.deepEqual([admin.ok, admin.plan.refusal], [true, null]);
    assert.deepEqual(await state(), before, 'nothing changed: rows, files, hooks, repository');
    // The real restore of an operator is still refused, by any parameter.
    assert.equal((await r.send('POST', '/api/restores', 'operator', body())).status, 403);
    assert.deepEqual(await state(), before);
  });

  it('into new names and places (an operator): no hook runs; the safety backup asked for is "not needed", not "none"', async () => {
    const to = path.join(r.w.dir, 'elsewhere');
    const res = await json(
      await r.send('POST', '/api/restores', 'operator', body({ intoSuffix: '_r', filesTo: to, safetyBackup: true })),
      200,
    );
    assert.equal(res.ok, true, JSON.stringify(res));
    assert.deepEqual([res.safety, res.safetyState, res.plan.touchesLive], [null, 'not-needed', false]);
    assert.deepEqual(hooks(), [], 'the application was left alone');
    assert.ok(
      res.log.some((l: Json) => l.step === 'stop' && /not run: the restore touches no live data/.test(l.message)),
    );
    assert.deepEqual(await rows(`${db}_r`), ['v1']);
    assert.deepEqual(await rows(), ['v2']);
  });

  it('an admin in place: the hooks run, the safety backup is taken and the result says so', async () => {
    const res = await json(await r.send('POST', '/api/restores', 'admin', body({ safetyBackup: true })), 200);
    assert.equal(res.ok, true, JSON.stringify(res));
    assert.equal(res.safetyState, 'taken');
    assert.match(res.safety.groupRun, /^app\/safety-[0-9a-f]{12}$/);
    assert.equal(res.safety.snapshots.length, 2);
    assert.deepEqual(hooks(), ['stop', 'check', 'start']);
    assert.deepEqual(await rows(), ['v1']);
    assert.equal(fs.readFileSync(path.join(docs, 'a.txt'), 'utf8'), 'hello api\n');
    assert.equal(fs.existsSync(path.join(docs, 'stray.txt')), false);
  });
});
