// Tests of the catalog and its migrations on real SQLite files in temp dirs,
// including other processes (a dead run owner, a concurrent writer, a
// process with umask 022 creating a private data directory).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { ManualClock } from '../core/clock.ts';
import { isSafeholdError } from '../core/errors.ts';
import { Catalog, defaultDataDir } from './catalog.ts';
import { migrate } from './migrate.ts';

const MIGRATIONS = join(import.meta.dirname, 'migrations');
const CATALOG_URL = pathToFileURL(join(import.meta.dirname, 'catalog.ts')).href;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'safehold-catalog-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function openCatalog(t: TestContext, dir = join(tempDir(t), 'data'), clock = new ManualClock()): Catalog {
  const c = Catalog.open(dir, clock);
  t.after(() => c.close());
  return c;
}

function rawDb(t: TestContext, path: string): DatabaseSync {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA busy_timeout = 5000');
  t.after(() => db.close());
  return db;
}

/** Runs an ES module snippet in a child Node; resolves with its exit code and pid. */
function runChild(
  code: string,
  args: string[],
  onStdout?: (s: string) => void,
): Promise<{ status: number | null; pid: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', '--input-type=module', '-e', code, '--', ...args],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      onStdout?.(out);
    });
    child.on('error', reject);
    child.on('exit', (status) => resolve({ status, pid: child.pid!, out }));
  });
}

test('migrations: a new catalog gets the schema once, in WAL mode, in a 0700 directory', (t) => {
  const dir = join(tempDir(t), 'nested', 'data');
  const c = openCatalog(t, dir);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  c.close();
  openCatalog(t, dir).close(); // re-open must not fail nor re-apply

  const db = rawDb(t, join(dir, 'catalog.db'));
  const files = readdirSync(MIGRATIONS)
    .filter((n) => n.endsWith('.sql'))
    .sort();
  assert.ok(files.length >= 2 && files[0] === '001-runs-and-snapshots.sql');
  assert.deepEqual(
    db
      .prepare('SELECT version, name FROM schema_migrations ORDER BY version')
      .all()
      .map((r) => ({ ...r })),
    files.map((name) => ({ version: Number.parseInt(name, 10), name })),
  );
  assert.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
  assert.equal(migrate(db, MIGRATIONS), 0);

  const fresh = rawDb(t, join(tempDir(t), 'fresh.db'));
  assert.equal(migrate(fresh, MIGRATIONS), files.length);
  assert.equal(migrate(fresh, MIGRATIONS), 0);
});

/** Modes (octal strings) of a data directory and its catalog files, read while the catalog is open, in a child with umask 022. */
async function modesUnderUmask022(dir: string): Promise<Record<string, string>> {
  const r = await runChild(
    `
    import { statSync } from 'node:fs';
    process.umask(0o022);
    const { Catalog } = await import(${JSON.stringify(CATALOG_URL)});
    const dir = process.argv.at(-1);
    const c = Catalog.open(dir);
    c.finishRun(c.startRun({ command: 'backup' }), { status: 'succeeded' });
    const mode = (p) => (statSync(p).mode & 0o7777).toString(8);
    console.log(JSON.stringify({ umask: process.umask().toString(8), dir: mode(dir), db: mode(dir + '/catalog.db'), wal: mode(dir + '/catalog.db-wal'), shm: mode(dir + '/catalog.db-shm') }));
    c.close();`,
    [dir],
  );
  assert.equal(r.status, 0, r.out);
  return JSON.parse(r.out) as Record<string, string>;
}

test('permissions: under umask 022 a new data directory is 0700 and the catalog files 0600', async (t) => {
  const dir = join(tempDir(t), 'new', 'data');
  assert.deepEqual(await modesUnderUmask022(dir), { umask: '22', dir: '700', db: '600', wal: '600', shm: '600' });
  assert.equal(statSync(join(dir, '..')).mode & 0o777, 0o700, 'a parent it created is private too');
});

test('permissions: an existing data directory and catalog files open to others are tightened', async (t) => {
  const dir = join(tempDir(t), 'data');
  Catalog.open(dir).close();
  const db = join(dir, 'catalog.db');
  writeFileSync(`${db}-wal`, '');
  chmodSync(dir, 0o755);
  chmodSync(db, 0o644);
  chmodSync(`${db}-wal`, 0o666);
  assert.deepEqual(await modesUnderUmask022(dir), { umask: '22', dir: '700', db: '600', wal: '600', shm: '600' });
});

test('migrations: applied in numeric order, not name order', (t) => {
  const dir = tempDir(t);
  const mdir = join(dir, 'm');
  mkdirSync(mdir);
  writeFileSync(join(mdir, '10-second.sql'), 'INSERT INTO t (x) VALUES (10);');
  writeFileSync(join(mdir, '9-first.sql'), 'CREATE TABLE t (x INTEGER); INSERT INTO t (x) VALUES (9);');
  writeFileSync(join(mdir, 'README.md'), 'not a migration');
  const db = rawDb(t, join(dir, 'x.db'));
  assert.equal(migrate(db, mdir), 2);
  assert.deepEqual(
    db
      .prepare('SELECT x FROM t ORDER BY rowid')
      .all()
      .map((r) => r.x),
    [9, 10],
  );
  writeFileSync(join(mdir, '11-third.sql'), 'INSERT INTO t (x) VALUES (11);');
  assert.equal(migrate(db, mdir), 1);
});

test('migrations: a failing file is rolled back whole and named; earlier ones stay', (t) => {
  const dir = tempDir(t);
  const mdir = join(dir, 'm');
  mkdirSync(mdir);
  writeFileSync(join(mdir, '001-ok.sql'), 'CREATE TABLE a (x INTEGER);');
  writeFileSync(join(mdir, '002-bad.sql'), 'CREATE TABLE b (x INTEGER); INSERT INTO missing VALUES (1);');
  const db = rawDb(t, join(dir, 'x.db'));
  assert.throws(
    () => migrate(db, mdir),
    (e: unknown) => isSafeholdError(e, 'INTERNAL') && e.message.includes('002-bad.sql'),
  );
  const tables = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all()
    .map((r) => r.name);
  assert.deepEqual(tables, ['a', 'schema_migrations']);
  assert.deepEqual(
    db
      .prepare('SELECT version FROM schema_migrations')
      .all()
      .map((r) => r.version),
    [1],
  );
  assert.equal(db.isTransaction, false);

  writeFileSync(join(mdir, '002-bad.sql'), 'CREATE TABLE b (x INTEGER);'); // fixed
  assert.equal(migrate(db, mdir), 1);
});

test('migrations: bad names, repeated numbers and renamed applied files are rejected', (t) => {
  const dir = tempDir(t);
  const db = rawDb(t, join(dir, 'x.db'));
  const mdir = join(dir, 'm');
  mkdirSync(mdir);
  writeFileSync(join(mdir, '001-a.sql'), 'CREATE TABLE a (x INTEGER);');
  writeFileSync(join(mdir, '1-b.sql'), 'CREATE TABLE b (x INTEGER);');
  assert.throws(
    () => migrate(db, mdir),
    (e: unknown) => isSafeholdError(e, 'INTERNAL') && /001-a\.sql/.test(e.message) && /1-b\.sql/.test(e.message),
  );
  assert.equal(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name IN ('a', 'b')").get()!.n, 0);

  rmSync(join(mdir, '1-b.sql'));
  writeFileSync(join(mdir, 'two.sql'), '');
  assert.throws(
    () => migrate(db, mdir),
    (e: unknown) => isSafeholdError(e, 'INTERNAL') && e.message.includes('two.sql'),
  );

  rmSync(join(mdir, 'two.sql'));
  assert.equal(migrate(db, mdir), 1);
  rmSync(join(mdir, '001-a.sql'));
  writeFileSync(join(mdir, '001-renamed.sql'), 'CREATE TABLE a (x INTEGER);');
  assert.throws(
    () => migrate(db, mdir),
    (e: unknown) => isSafeholdError(e, 'INTERNAL') && e.message.includes('001-renamed.sql'),
  );
});

test('runs: start, finish, get and list round trip', (t) => {
  const clock = new ManualClock(Date.UTC(2026, 2, 1));
  const c = openCatalog(t, undefined, clock);
  const id = c.startRun({ command: 'backup', args: { paths: ['/home'], tags: ['x'] }, repository: '/srv/repo' });
  assert.match(id, /^[0-9a-f]{16}$/);
  const started = c.getRun(id);
  assert.deepEqual(started, {
    id,
    command: 'backup',
    args: { paths: ['/home'], tags: ['x'] },
    repository: '/srv/repo',
    startedAt: Date.UTC(2026, 2, 1),
    status: 'running',
    stats: {},
    pid: process.pid,
    hostname: hostname(),
  });

  clock.set(Date.UTC(2026, 2, 1) + 4321);
  c.finishRun(id, {
    status: 'partial',
    errorCode: 'IO',
    error: '2 files unreadable',
    snapshotId: 'abcd1234',
    stats: {
      filesNew: 3,
      filesChanged: 1,
      filesUnchanged: 10,
      filesFailed: 2,
      bytesRead: 5_000_000_000_000,
      bytesAdded: 0,
    },
  });
  const done = c.getRun(id)!;
  assert.equal(done.status, 'partial');
  assert.equal(done.finishedAt, Date.UTC(2026, 2, 1) + 4321);
  assert.equal(done.errorCode, 'IO');
  assert.equal(done.error, '2 files unreadable');
  assert.equal(done.snapshotId, 'abcd1234');
  assert.deepEqual(done.stats, {
    filesNew: 3,
    filesChanged: 1,
    filesUnchanged: 10,
    filesFailed: 2,
    bytesRead: 5_000_000_000_000,
    bytesAdded: 0,
  });
  assert.deepEqual(c.listRuns(), [done]);

  const bare = c.startRun({ command: 'check' });
  c.finishRun(bare, { status: 'succeeded' });
  const b = c.getRun(bare)!;
  assert.equal('args' in b || 'repository' in b || 'errorCode' in b, false);
  assert.deepEqual(b.stats, {});

  assert.equal(c.getRun('0000000000000000'), undefined);
  assert.equal(c.getRun(id.slice(0, 8)), undefined, 'lookup is exact, not by prefix');
  assert.throws(
    () => c.finishRun('0000000000000000', { status: 'failed' }),
    (e: unknown) => isSafeholdError(e, 'NOT_FOUND'),
  );
  assert.throws(
    () => c.finishRun(id, { status: 'bogus' as 'failed' }),
    (e: unknown) => isSafeholdError(e, 'IO'),
  );
});

test('runs: listed newest first, filtered by command and status, limited', (t) => {
  const clock = new ManualClock();
  const c = openCatalog(t, undefined, clock);
  const ids: string[] = [];
  const plan: [string, 'succeeded' | 'failed' | undefined][] = [
    ['backup', 'succeeded'],
    ['restore', 'failed'],
    ['backup', 'failed'],
    ['backup', undefined],
    ['check', 'succeeded'],
  ];
  for (const [command, status] of plan) {
    const id = c.startRun({ command });
    if (status) c.finishRun(id, { status });
    ids.push(id);
    clock.set(clock.now() + 60_000);
  }
  const all = c.listRuns();
  assert.deepEqual(
    all.map((r) => r.id),
    [...ids].reverse(),
  );
  assert.deepEqual(
    all.map((r) => r.startedAt),
    [4, 3, 2, 1, 0].map((i) => Date.UTC(2026, 0, 1) + i * 60_000),
  );

  assert.deepEqual(
    c.listRuns({ command: 'backup' }).map((r) => r.id),
    [ids[3], ids[2], ids[0]],
  );
  assert.deepEqual(
    c.listRuns({ status: 'failed' }).map((r) => r.id),
    [ids[2], ids[1]],
  );
  assert.deepEqual(
    c.listRuns({ command: 'backup', status: 'running' }).map((r) => r.id),
    [ids[3]],
  );
  assert.deepEqual(
    c.listRuns({ limit: 2 }).map((r) => r.id),
    [ids[4], ids[3]],
  );
  assert.deepEqual(
    c.listRuns({ command: 'backup', limit: 1 }).map((r) => r.id),
    [ids[3]],
  );
  assert.deepEqual(c.listRuns({ command: 'prune' }), []);
  assert.throws(
    () => c.listRuns({ limit: -1 }),
    (e: unknown) => isSafeholdError(e, 'USAGE'),
  );
});

test('snapshots: upsert by (repository, id), listed newest first, run reference enforced', (t) => {
  const c = openCatalog(t);
  const run = c.startRun({ command: 'backup', repository: 'r1' });
  const base = { hostname: 'h', paths: ['/a', '/b'], tags: [] as string[], tree: 'tree1' };
  c.recordSnapshot({ id: 's1', repository: 'r1', runId: run, time: 1000, size: 10, files: 2, ...base });
  c.recordSnapshot({ id: 's2', repository: 'r1', time: 3000, ...base });
  c.recordSnapshot({ id: 's1', repository: 'r2', time: 2000, ...base });
  assert.deepEqual(
    c.listSnapshots().map((s) => `${s.repository}/${s.id}`),
    ['r1/s2', 'r2/s1', 'r1/s1'],
  );
  assert.deepEqual(
    c.listSnapshots('r1').map((s) => s.id),
    ['s2', 's1'],
  );
  assert.deepEqual(c.listSnapshots('nope'), []);
  assert.deepEqual(c.listSnapshots('r1')[1], {
    id: 's1',
    repository: 'r1',
    runId: run,
    time: 1000,
    size: 10,
    files: 2,
    ...base,
  });

  c.recordSnapshot({
    id: 's1',
    repository: 'r1',
    time: 5000,
    hostname: 'h2',
    paths: ['/c'],
    tags: ['daily'],
    tree: 'tree2',
  });
  assert.equal(c.listSnapshots().length, 3);
  assert.deepEqual(c.listSnapshots('r1')[0], {
    id: 's1',
    repository: 'r1',
    time: 5000,
    hostname: 'h2',
    paths: ['/c'],
    tags: ['daily'],
    tree: 'tree2',
  });

  assert.throws(
    () => c.recordSnapshot({ id: 's3', repository: 'r1', runId: 'feedfeedfeedfeed', time: 1, ...base }),
    (e: unknown) => isSafeholdError(e, 'IO') && /FOREIGN KEY/i.test(e.message),
  );
});

test('forgetSnapshots drops the given ids of one repository only', (t) => {
  const c = openCatalog(t);
  const base = { hostname: 'h', paths: ['/a'], tags: [] as string[], tree: 't' };
  for (const [id, repo] of [
    ['s1', 'r1'],
    ['s2', 'r1'],
    ['s1', 'r2'],
  ] as const)
    c.recordSnapshot({ id, repository: repo, time: 1, ...base });
  assert.equal(c.forgetSnapshots('r1', ['s1', 'missing']), 1);
  assert.deepEqual(
    c
      .listSnapshots()
      .map((s) => `${s.repository}/${s.id}`)
      .sort(),
    ['r1/s2', 'r2/s1'],
  );
});

test('markAbandonedRuns: fails runs of dead processes on this host only', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const c = openCatalog(t, dataDir, clock);

  // A real process starts a run and exits without finishing it.
  const child = await runChild(
    `const { Catalog } = await import(${JSON.stringify(CATALOG_URL)});
     const c = Catalog.open(process.argv[process.argv.length - 1]);
     process.stdout.write(c.startRun({ command: 'backup' })); c.close();`,
    [dataDir],
  );
  assert.equal(child.status, 0);
  const deadId = child.out.trim();
  assert.equal(c.getRun(deadId)?.pid, child.pid);
  assert.throws(() => process.kill(child.pid, 0), { code: 'ESRCH' });

  const liveId = c.startRun({ command: 'backup' });
  const elsewhere = c.startRun({ command: 'backup' });
  const finished = c.startRun({ command: 'check' });
  c.finishRun(finished, { status: 'succeeded' });
  const db = rawDb(t, join(dataDir, 'catalog.db'));
  db.prepare("UPDATE runs SET pid = ?, hostname = 'some-other-host' WHERE id = ?").run(child.pid, elsewhere);
  db.prepare('UPDATE runs SET pid = ? WHERE id = ?').run(child.pid, finished);

  clock.set(Date.UTC(2026, 5, 2));
  assert.equal(c.markAbandonedRuns(), 1);
  const dead = c.getRun(deadId)!;
  assert.equal(dead.status, 'failed');
  assert.equal(dead.errorCode, 'ABANDONED');
  assert.equal(dead.error, `process ${child.pid} died while running`);
  assert.equal(dead.finishedAt, Date.UTC(2026, 5, 2));
  assert.equal(c.getRun(liveId)!.status, 'running');
  assert.equal(c.getRun(elsewhere)!.status, 'running');
  assert.equal(c.getRun(finished)!.status, 'succeeded');
  assert.equal(c.getRun(finished)!.errorCode, undefined);
  assert.equal(c.markAbandonedRuns(), 0);
});

test('concurrency: two catalogs on one file both write', (t) => {
  const dataDir = join(tempDir(t), 'data');
  const a = openCatalog(t, dataDir);
  const b = openCatalog(t, dataDir);
  const ra = a.startRun({ command: 'backup' });
  const rb = b.startRun({ command: 'restore' });
  a.finishRun(rb, { status: 'succeeded' });
  b.finishRun(ra, { status: 'failed' });
  b.recordSnapshot({ id: 's', repository: 'r', runId: ra, time: 1, hostname: 'h', paths: [], tags: [], tree: 't' });
  for (const c of [a, b]) {
    assert.deepEqual(
      new Set(c.listRuns().map((r) => `${r.command}:${r.status}`)),
      new Set(['backup:failed', 'restore:succeeded']),
    );
    assert.equal(c.listSnapshots().length, 1);
  }
});

test('concurrency: a write waits for another process holding the write lock', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const c = openCatalog(t, dataDir);
  const path = join(dataDir, 'catalog.db');
  let waited = -1;
  let id = '';
  const child = await runChild(
    `import { DatabaseSync } from 'node:sqlite';
     const db = new DatabaseSync(process.argv[process.argv.length - 1]);
     db.exec('BEGIN IMMEDIATE');
     db.prepare("INSERT INTO runs (id, command, started_at, status) VALUES ('c0c0c0c0c0c0c0c0', 'child', 1, 'succeeded')").run();
     process.stdout.write('locked\\n');
     setTimeout(() => { db.exec('COMMIT'); db.close(); }, 700);`,
    [path],
    (out) => {
      if (waited >= 0 || !out.includes('locked')) return;
      const t0 = Date.now();
      id = c.startRun({ command: 'backup' }); // blocks in SQLite's busy handler until the child commits
      waited = Date.now() - t0;
    },
  );
  assert.equal(child.status, 0);
  assert.ok(waited >= 300, `startRun should have waited for the lock, waited ${waited}ms`);
  assert.deepEqual(
    c
      .listRuns()
      .map((r) => r.id)
      .sort(),
    ['c0c0c0c0c0c0c0c0', id].sort(),
  );
});

test('defaultDataDir: SAFEHOLD_DATA_DIR, then XDG_DATA_HOME, then ~/.local/share', () => {
  assert.equal(defaultDataDir({ SAFEHOLD_DATA_DIR: '/d', XDG_DATA_HOME: '/x', HOME: '/h' }), '/d');
  assert.equal(defaultDataDir({ XDG_DATA_HOME: '/x', HOME: '/h' }), '/x/safehold');
  assert.equal(defaultDataDir({ SAFEHOLD_DATA_DIR: '', XDG_DATA_HOME: '/x', HOME: '/h' }), '/x/safehold');
  assert.equal(defaultDataDir({ HOME: '/h' }), '/h/.local/share/safehold');
  assert.equal(defaultDataDir({ XDG_DATA_HOME: 'relative', HOME: '/h' }), '/h/.local/share/safehold');
  assert.equal(defaultDataDir({ XDG_DATA_HOME: '', HOME: '/h' }), '/h/.local/share/safehold');
});
