// Who may restore over live data, walked as a table over real HTTP: every
// restore route (group, unit files, unit database) and every way of naming
// where it goes — '/', '/proc/self/root', a symlink to '/', the live
// directory, a symlink to it, a place inside it, a SQLite or repository
// directory, a place where the data exists already, another unit's database,
// a database that exists — is 403 for an operator, and the live data is
// unchanged (stat+hash listing); a new place is allowed. An admin may
// restore over live data, and then the safety backup is always taken. Forged
// snapshots (escaping paths, duplicate names) are refused for an admin too.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Group, Plan, SqliteTarget } from '../../src/config/types.ts';
import { apiRig } from '../helpers/api-rig.ts';
import type { ApiRig } from '../helpers/api-rig.ts';
import { activity, openRepo } from '../helpers/plan-fixtures.ts';
import { dirNode, fileNode, forger, statListing, symlinkNode } from '../helpers/repo-forger.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Role = 'operator' | 'admin';

describe('restore routes: operators never overwrite live data, by any parameter', () => {
  let r: ApiRig;
  let dbDir: string;
  let docs: string;
  const snap: Record<string, string> = {};
  let fresh = 0;
  const newPlace = () => path.join(r.w.dir, `new-${fresh++}`);

  before(async () => {
    r = await apiRig({
      setup: (w) => {
        dbDir = path.join(w.dir, 'dbs');
        fs.mkdirSync(dbDir);
        for (const name of ['app.db', 'other.db']) {
          const db = new DatabaseSync(path.join(dbDir, name));
          db.exec(`CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('${name}');`);
          db.close();
        }
        const sqlite: SqliteTarget = {
          kind: 'sqlite',
          name: 'DB',
          site: null,
          dir: dbDir,
          files: '*.db',
          timeoutMs: 10_000,
        };
        Object.assign(w.config.targets, { DB: sqlite });
        const group = (name: string, members: Group['members']): Group => ({
          name,
          mode: 'quiesced',
          members,
          stop: null,
          start: null,
          check: null,
          cleanup: null,
        });
        Object.assign(w.config, {
          groups: {
            app: group('app', [{ target: 'HOST', units: ['docs'] }]),
            dbs: group('dbs', [{ target: 'DB', units: ['app.db'] }]),
          },
        });
        const plan = (name: string, activities: Plan['activities']): Plan => ({
          ...w.config.plans.nightly!,
          name,
          activities,
        });
        Object.assign(w.config.plans, {
          nightly: plan('nightly', [activity('all', 'backup', '*', '*')]),
          grp: plan('grp', [
            activity('app', 'backup', '', null, { group: 'app' }),
            activity('dbs', 'backup', '', null, { group: 'dbs' }),
          ]),
        });
      },
    });
    docs = path.join(r.srcDir, 'docs');
    for (const plan of ['nightly', 'grp']) {
      const run = (await (await r.send('POST', `/api/plans/${plan}/run`, 'operator')).json()) as Json;
      assert.equal(run.run.status, 'succeeded', JSON.stringify(run));
    }
    const snaps = (await (await r.get('/api/snapshots?plan=nightly')).json()) as Json;
    for (const s of snaps.items) snap[`${s.target}/${s.unit}`] = s.snapshot;
    fs.symlinkSync('/', path.join(r.w.dir, 'to-root'));
    fs.symlinkSync(docs, path.join(r.w.dir, 'to-docs'));
    fs.symlinkSync(r.srcDir, path.join(r.w.dir, 'to-src'));
    // A place where the restored paths exist already (an earlier restore, say).
    fs.mkdirSync(path.join(r.w.dir, 'earlier', docs), { recursive: true });
  });
  after(() => r.close());

  const live = () => ({
    files: statListing(r.srcDir),
    dbs: statListing(dbDir),
    earlier: statListing(path.join(r.w.dir, 'earlier')),
  });

  async function call(role: Role, route: string, body: Json): Promise<{ status: number; body: Json }> {
    const res = await r.send('POST', route, role, body);
    return { status: res.status, body: (await res.json()) as Json };
  }

  /** The ways of naming a directory that lead onto live data, for files restores. */
  const liveDirs = () => [
    '/',
    '/proc/self/root',
    path.join(r.w.dir, 'to-root'),
    path.join(r.w.dir, 'to-root', '.'),
    // Paths are recreated under the target: these write into the live unit itself or below it.
    `${r.w.dir}/to-docs/${'../'.repeat(docs.split('/').length - 1)}`,
    docs,
    path.join(docs, 'sub'),
    path.join(r.w.dir, 'to-docs'),
    dbDir,
    r.w.repoPath,
    r.w.config.settings.dataDir!,
    path.join(r.w.dir, 'earlier'),
  ];

  it('unit restore of files: every live place is 403 for an operator, with or without clean; nothing changes', async () => {
    const rows: [string, Json][] = [];
    for (const target of liveDirs())
      for (const clean of [false, true])
        rows.push([target, { destination: 'local', snapshot: snap['HOST/docs'], target, clean }]);
    for (const [target, body] of rows) {
      const before = live();
      const res = await call('operator', '/api/restores/unit', body);
      assert.equal(res.status, 403, `${target} clean=${body.clean}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.error.code, 'FORBIDDEN');
      assert.deepEqual(live(), before, `${target}: live data unchanged`);
      assert.match(r.audits.at(-1)!.detail!, /refused or failed \(FORBIDDEN/);
    }
    const to = newPlace();
    const ok = await call('operator', '/api/restores/unit', {
      destination: 'local',
      snapshot: snap['HOST/docs'],
      target: to,
      clean: true,
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual([ok.body.inPlace, ok.body.overLiveData, ok.body.safety], [false, [], null]);
  });

  it('unit restore of a database: its own name, another unit, any existing database is 403 for an operator', async () => {
    for (const into of [undefined, 'app.db', 'other.db']) {
      for (const clean of [false, true]) {
        const before = live();
        const res = await call('operator', '/api/restores/unit', {
          destination: 'local',
          snapshot: snap['DB/app.db'],
          clean,
          ...(into ? { into } : {}),
        });
        assert.equal(res.status, 403, `${into} clean=${clean}: ${JSON.stringify(res.body)}`);
        assert.deepEqual(live(), before);
      }
    }
    for (const into of ['../app.db', 'sub/app.db', '.']) {
      const before = live();
      const res = await call('operator', '/api/restores/unit', {
        destination: 'local',
        snapshot: snap['DB/app.db'],
        into,
        clean: true,
      });
      assert.equal(res.status, 400, `${into}: not a database name`);
      assert.deepEqual(live(), before);
    }
    const ok = await call('operator', '/api/restores/unit', {
      destination: 'local',
      snapshot: snap['DB/app.db'],
      into: 'copy-by-operator.db',
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  it('group restore: in place, half in place, or into live places is 403 for an operator; nothing changes', async () => {
    const files = (o: Json) => ({ group: 'app', from: 'local', ...o });
    const dbs = (o: Json) => ({ group: 'dbs', from: 'local', ...o });
    const rows: Json[] = [
      files({}),
      files({ intoSuffix: '_copy' }),
      files({ safetyBackup: false }),
      files({ force: true }),
      ...liveDirs().map((filesTo) => files({ filesTo })),
      ...liveDirs().map((filesTo) => files({ filesTo, safetyBackup: false })),
      dbs({}),
      dbs({ filesTo: newPlace() }),
      dbs({ intoSuffix: null, safetyBackup: false }),
    ];
    for (const body of rows) {
      const before = live();
      const res = await call('operator', '/api/restores', body);
      assert.equal(res.status, 403, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.deepEqual(live(), before, JSON.stringify(body));
    }
    const ok = await call('operator', '/api/restores', files({ filesTo: newPlace(), safetyBackup: false }));
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual([ok.body.ok, ok.body.overLiveData], [true, []]);
    const suffixed = await call('operator', '/api/restores', dbs({ intoSuffix: '.restored' }));
    assert.equal(suffixed.status, 200, JSON.stringify(suffixed.body));
    // The suffixed database exists now: a second restore would overwrite it.
    assert.equal((await call('operator', '/api/restores', dbs({ intoSuffix: '.restored' }))).status, 403);
  });

  it('forged snapshots through the unit restore: refused for an admin too, nothing outside changes', async () => {
    const repo = await openRepo(r.w);
    const f = await forger(repo, r.w.repoPath);
    const blob = await f.data('pwned\n');
    const dup = await f.tree([dirNode('a', await f.tree([fileNode('x', [blob], 6)])), symlinkNode('a', r.srcDir)]);
    const badPaths = await f.snapshot(await f.tree([fileNode('x', [blob], 6)]), {
      paths: ['/x/../..'],
      tags: ['target:HOST', 'unit:docs'],
    });
    const dupSnap = await f.snapshot(dup, { paths: ['/a'], tags: ['target:HOST', 'unit:docs'] });
    await repo.close();
    try {
      for (const [snapshot, code] of [
        [badPaths, 'CORRUPT'],
        [dupSnap, 'CORRUPT'],
      ] as const) {
        const before = live();
        const res = await call('admin', '/api/restores/unit', {
          destination: 'local',
          snapshot,
          target: newPlace(),
          clean: true,
        });
        assert.equal(res.body.error?.code, code, JSON.stringify(res.body));
        assert.deepEqual(live(), before);
      }
    } finally {
      const again = await openRepo(r.w);
      for (const id of [badPaths, dupSnap]) await again.backend.remove({ type: 'snapshots', name: id });
      await again.close();
    }
  });

  it('an admin may restore over live data; the safety backup is always taken (turning it off is refused)', async () => {
    const off = await call('admin', '/api/restores', { group: 'app', from: 'local', safetyBackup: false });
    assert.equal(off.status, 400, JSON.stringify(off.body));
    assert.match(off.body.error.message, /always takes a safety backup/);
    fs.writeFileSync(path.join(docs, 'a.txt'), 'changed by the app\n');
    const res = await call('admin', '/api/restores', { group: 'app', from: 'local', filesTo: '/proc/self/root' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.ok, true, JSON.stringify(res.body));
    assert.match(res.body.overLiveData.join(), /files of HOST\/docs/);
    assert.ok(res.body.safety?.groupRun, 'the current state was saved first');
    assert.equal(fs.readFileSync(path.join(docs, 'a.txt'), 'utf8'), 'hello api\n');
    assert.match(r.audits.at(-1)!.detail!, /over live data .*safety backup app\/safety-/);
    const db = await call('admin', '/api/restores/unit', {
      destination: 'local',
      snapshot: snap['DB/app.db'],
      into: 'other.db',
      clean: true,
    });
    assert.equal(db.status, 200, JSON.stringify(db.body));
    assert.match(db.body.safety, /^[0-9a-f]{64}$/);
  });
});
