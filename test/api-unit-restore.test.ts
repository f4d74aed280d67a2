// POST /api/restores/unit over real HTTP: a real plan run backs up a files
// target and a sqlite target (a real database file made with node:sqlite);
// one files snapshot is restored under another directory and one dump into
// a new database file by an operator; in place is refused (403) for an
// operator; errors map to their statuses.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Plan, SqliteTarget } from '../src/config/types.ts';
import { apiRig } from './helpers/api-rig.ts';
import type { ApiRig } from './helpers/api-rig.ts';
import { activity } from './helpers/plan-fixtures.ts';

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
