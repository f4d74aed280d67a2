// The sqlite driver: the shared database driver suite on real files, a backup
// taken while another process writes continuously (WAL and rollback-journal
// modes), files that are not databases, unit names and globs, the staging
// copy being removed after the stream, and a restored file's mode and owner.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { DatabaseSync } from 'node:sqlite';
import { dbDriverSuite } from '../../../test/helpers/db-driver-suite.ts';
import type { DbFixture } from '../../../test/helpers/db-driver-suite.ts';
import { createSqliteDriver } from './sqlite.ts';
import { SafeholdError } from '../../core/errors.ts';
import { NoMatchError } from '../no-match.ts';
import { until } from '../../../test/helpers/wait.ts';
import { nodeOthersCanRun } from '../../../test/helpers/program-copy.ts';

interface Sandbox {
  root: string;
  dir: string;
  staging: string;
  cleanup(): void;
}

function sandbox(): Sandbox {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shtest-sqlite-'));
  const dir = path.join(root, 'db');
  const staging = path.join(root, 'staging');
  fs.mkdirSync(dir);
  fs.mkdirSync(staging);
  return { root, dir, staging, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) };
}

function seedFile(file: string, journal: 'wal' | 'delete' = 'wal'): void {
  const db = new DatabaseSync(file);
  db.exec(`PRAGMA journal_mode=${journal};
    CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, note TEXT, score REAL, born TEXT, photo BLOB);
    CREATE TABLE "order lines" (person INTEGER, item TEXT, qty INTEGER, price NUMERIC);`);
  const p = db.prepare('INSERT INTO people (name, note, score, born, photo) VALUES (?, ?, ?, ?, ?)');
  p.run('Ann', 'line one\nline "two"\n\'three\'', 1.5, '2024-02-29 12:34:56', Buffer.from([0, 1, 2, 255]));
  p.run('Bob', null, null, '1999-12-31 23:59:59', null);
  p.run('Cy', '', 0, null, Buffer.alloc(0));
  const o = db.prepare('INSERT INTO "order lines" VALUES (?, ?, ?, ?)');
  for (let i = 0; i < 50; i++) o.run(1 + (i % 3), `item ${i}`, i, i * 1.25);
  db.close();
}

function mutateFile(file: string): void {
  const db = new DatabaseSync(file);
  db.exec(`INSERT INTO people (name, note) VALUES ('Dee', 'new');
    UPDATE people SET note = NULL WHERE name = 'Ann';
    DELETE FROM "order lines" WHERE qty % 7 = 0;
    UPDATE "order lines" SET price = price + 1 WHERE qty = 3;`);
  db.close();
}

async function makeFixture(): Promise<DbFixture> {
  const s = sandbox();
  const tag = randomBytes(3).toString('hex');
  return {
    driver: createSqliteDriver({ name: 'lite', dir: s.dir, files: '*.db', timeoutMs: 5000, stagingDir: s.staging }),
    unreachable: createSqliteDriver({ name: 'lite-missing', dir: path.join(s.root, 'no-such-dir'), timeoutMs: 5000 }),
    async seed(unit) {
      seedFile(path.join(s.dir, unit));
    },
    async mutate(unit) {
      mutateFile(path.join(s.dir, unit));
    },
    async cleanup() {
      s.cleanup();
    },
    name: (t) => `shtest_${tag}_${t}.db`,
  };
}

async function drain(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function count(file: string): number {
  const db = new DatabaseSync(file, { timeout: 10_000 });
  try {
    return Number((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n);
  } finally {
    db.close();
  }
}

const WRITER = `
import { DatabaseSync } from 'node:sqlite';
const db = new DatabaseSync(process.argv[2], { timeout: 10000 });
const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let n = 1; ; n++) {
  ins.run('w'.repeat(200) + n);
  if (n === 1) process.stdout.write('started\\n');
  await sleep(1);
}
`;

/** Starts a separate process that inserts rows into table t of `file` until killed. */
async function startWriter(root: string, file: string): Promise<() => Promise<void>> {
  const script = path.join(root, 'writer.mjs');
  fs.writeFileSync(script, WRITER);
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', script, file], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the writer exited with ${code}`)));
  });
  return async () => {
    const gone = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await gone;
  };
}

dbDriverSuite('sqlite', makeFixture);

describe('sqlite driver', () => {
  for (const journal of ['wal', 'delete'] as const) {
    it(`backs up one consistent snapshot while another process writes (journal_mode=${journal})`, async (t) => {
      const s = sandbox();
      t.after(() => s.cleanup());
      const file = path.join(s.dir, 'busy.db');
      const db = new DatabaseSync(file);
      db.exec(`PRAGMA journal_mode=${journal}; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`);
      const ins = db.prepare('INSERT INTO t (v) VALUES (?)');
      db.exec('BEGIN');
      for (let i = 0; i < 20_000; i++) ins.run('seed '.repeat(40) + i);
      db.exec('COMMIT');
      db.close();
      const driver = createSqliteDriver({ name: 'lite', dir: s.dir, timeoutMs: 10_000, stagingDir: s.staging });
      const stop = await startWriter(s.root, file);
      let before: number;
      let after: number;
      let dump: Buffer;
      try {
        before = count(file);
        const b = await driver.backup('busy.db');
        dump = await drain(b.stream);
        // The writer may be sleeping in its busy handler (rollback journal): wait until it wrote again, so
        // `after` bounds every row the backup could have seen and the writer was alive throughout.
        await until(() => count(file) > before, 'the writer to add rows');
        after = count(file);
      } finally {
        await stop();
      }
      await driver.restore('busy.db', Readable.from([dump]), 'sqlite-db', { into: 'copy.db' });
      const copy = new DatabaseSync(path.join(s.dir, 'copy.db'));
      try {
        assert.deepEqual(
          copy
            .prepare('PRAGMA integrity_check')
            .all()
            .map((r) => Object.values(r)[0]),
          ['ok'],
        );
        const n = Number((copy.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n);
        assert.ok(n >= before && n <= after, `the copy holds ${n} rows, between ${before} and ${after}`);
        const maxId = Number((copy.prepare('SELECT max(id) AS m FROM t').get() as { m: number }).m);
        assert.equal(maxId, n, 'no row is missing in the middle: a snapshot, not a mixture');
      } finally {
        copy.close();
      }
      assert.deepEqual(fs.readdirSync(s.staging), [], 'the staging copy is removed after the stream');
    });
  }

  it('a file that is not a database fails backup and digest clearly; a non-database stream is not restored', async (t) => {
    const s = sandbox();
    t.after(() => s.cleanup());
    fs.writeFileSync(path.join(s.dir, 'junk.db'), 'this is a text file, not a database\n'.repeat(200));
    const driver = createSqliteDriver({ name: 'lite', dir: s.dir, timeoutMs: 2000, stagingDir: s.staging });
    assert.deepEqual(await driver.listUnits(), ['junk.db']);
    const notDb = (e: unknown) =>
      e instanceof SafeholdError && e.code === 'IO' && /junk\.db is not an SQLite database/.test(e.message);
    await assert.rejects(driver.backup('junk.db'), notDb);
    await assert.rejects(driver.digest('junk.db'), notDb);
    assert.deepEqual(fs.readdirSync(s.staging), [], 'a failed backup leaves no staging copy');
    await assert.rejects(
      driver.restore('x.db', Readable.from([Buffer.from('not a database at all '.repeat(300))]), 'sqlite-db', {
        into: 'x.db',
      }),
      (e: unknown) =>
        e instanceof SafeholdError &&
        e.code === 'CORRUPT' &&
        e.message.includes('x.db') &&
        e.message.includes('not an SQLite database'),
    );
    assert.deepEqual(fs.readdirSync(s.dir), ['junk.db'], 'neither the target nor a temporary file is left');
  });

  it('lists only files matching the glob, never side files; refuses names that are paths', async (t) => {
    const s = sandbox();
    t.after(() => s.cleanup());
    seedFile(path.join(s.dir, 'b.db'));
    seedFile(path.join(s.dir, 'a.db'), 'delete');
    seedFile(path.join(s.dir, 'c.sqlite'));
    fs.writeFileSync(path.join(s.dir, 'a.db-journal'), '');
    fs.mkdirSync(path.join(s.dir, 'd.db'));
    const driver = createSqliteDriver({ name: 'lite', dir: s.dir, timeoutMs: 2000 });
    assert.deepEqual(await driver.listUnits(), ['a.db', 'b.db']);
    const all = createSqliteDriver({ name: 'lite', dir: s.dir, files: '*', timeoutMs: 2000 });
    assert.deepEqual(await all.listUnits(), ['a.db', 'b.db', 'c.sqlite']);
    const none = createSqliteDriver({ name: 'lite', dir: s.dir, files: '*.sqlite3', timeoutMs: 2000 });
    await assert.rejects(
      none.listUnits(),
      (e: unknown) =>
        e instanceof NoMatchError &&
        e.message === `no file of target lite matches '*.sqlite3' in ${s.dir} (files: a.db, b.db, c.sqlite)`,
    );
    assert.equal(await driver.exists('d.db'), false, 'a directory is not a database');
    for (const bad of ['../b.db', 'sub/b.db', 'a\0.db', '', '..', 'x'.repeat(256), 'a.db-wal']) {
      await assert.rejects(
        driver.backup(bad),
        (e: unknown) => e instanceof SafeholdError && e.code === 'USAGE',
        JSON.stringify(bad),
      );
    }
    await assert.rejects(
      driver.restore('b.db', Readable.from([Buffer.alloc(1)]), 'sqlite-db', { into: '../escape.db' }),
      (e: unknown) => e instanceof SafeholdError && e.code === 'USAGE',
    );
    await assert.rejects(
      driver.restore('b.db', Readable.from([Buffer.alloc(1)]), 'pg_dump-custom', { into: 'n.db' }),
      (e: unknown) => e instanceof SafeholdError && e.code === 'USAGE',
    );
    assert.equal(fs.existsSync(path.join(s.root, 'escape.db')), false);
  });

  it('removes the staging copy when the consumer stops early', async (t) => {
    const s = sandbox();
    t.after(() => s.cleanup());
    seedFile(path.join(s.dir, 'a.db'));
    const driver = createSqliteDriver({ name: 'lite', dir: s.dir, timeoutMs: 2000, stagingDir: s.staging });
    const b = await driver.backup('a.db');
    assert.equal(b.format, 'sqlite-db');
    assert.equal(fs.readdirSync(s.staging).length, 1, 'the copy is staged while the stream is open');
    const closed = new Promise((r) => b.stream.once('close', r));
    b.stream.destroy();
    await closed;
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(fs.readdirSync(s.staging), []);
  });

  it('cancelling ends a backup and a restore with CANCELLED and leaves no staging or temporary file', async (t) => {
    const s = sandbox();
    t.after(() => s.cleanup());
    seedFile(path.join(s.dir, 'a.db'));
    const driver = createSqliteDriver({ name: 'lite', dir: s.dir, timeoutMs: 2000, stagingDir: s.staging });
    const cancelled = (e: unknown) => e instanceof SafeholdError && e.code === 'CANCELLED';
    const ac = new AbortController();
    const b = await driver.backup('a.db', { signal: ac.signal });
    ac.abort();
    await assert.rejects(drain(b.stream), cancelled);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(fs.readdirSync(s.staging), []);
    const input = new Readable({ read() {} });
    input.push(Buffer.alloc(8192, 1));
    const ac2 = new AbortController();
    const restoring = driver.restore('a.db', input, 'sqlite-db', { into: 'b.db', signal: ac2.signal });
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(fs.readdirSync(s.dir).length, 2, 'the temporary file is being written');
    ac2.abort();
    await assert.rejects(restoring, cancelled);
    assert.deepEqual(fs.readdirSync(s.dir), ['a.db']);
  });

  it('a clean restore replaces a database and its stale WAL', async (t) => {
    const s = sandbox();
    t.after(() => s.cleanup());
    seedFile(path.join(s.dir, 'a.db'));
    seedFile(path.join(s.dir, 'b.db'));
    mutateFile(path.join(s.dir, 'b.db'));
    const driver = createSqliteDriver({ name: 'lite', dir: s.dir, timeoutMs: 2000, stagingDir: s.staging });
    const want = await driver.digest('a.db');
    const dump = await drain((await driver.backup('a.db')).stream);
    fs.writeFileSync(path.join(s.dir, 'b.db-wal'), 'stale');
    fs.writeFileSync(path.join(s.dir, 'b.db-shm'), 'stale');
    await driver.restore('a.db', Readable.from([dump]), 'sqlite-db', { into: 'b.db', clean: true });
    assert.equal(fs.existsSync(path.join(s.dir, 'b.db-wal')), false);
    assert.deepEqual(await driver.digest('b.db'), want);
    assert.deepEqual(fs.readdirSync(s.dir).sort(), ['a.db', 'b.db']);
  });

  it("a restore keeps the mode of the file it replaces; into a new name, the original unit's, else 0600", async (t) => {
    const s = sandbox();
    t.after(() => s.cleanup());
    const old = process.umask(0o022);
    t.after(() => process.umask(old));
    const file = (n: string) => path.join(s.dir, n);
    const mode = (n: string) => (fs.statSync(file(n)).mode & 0o7777).toString(8);
    seedFile(file('a.db'));
    seedFile(file('b.db'));
    fs.chmodSync(file('a.db'), 0o600);
    fs.chmodSync(file('b.db'), 0o640);
    const driver = createSqliteDriver({ name: 'lite', dir: s.dir, timeoutMs: 2000, stagingDir: s.staging });
    const dump = await drain((await driver.backup('a.db')).stream);
    const restore = (into: string, clean = false) =>
      driver.restore('a.db', Readable.from([dump]), 'sqlite-db', { into, clean });
    await restore('a.db', true);
    await restore('b.db', true);
    assert.deepEqual(
      [mode('a.db'), mode('b.db')],
      ['600', '640'],
      'the replaced files keep their modes under umask 022',
    );
    await restore('c.db');
    assert.equal(mode('c.db'), '600', "a new name takes the original unit's mode");
    fs.chmodSync(file('a.db'), 0o660);
    await restore('d.db');
    assert.equal(mode('d.db'), '660');
    fs.rmSync(file('a.db'));
    await driver.restore('a.db', Readable.from([dump]), 'sqlite-db');
    assert.equal(mode('a.db'), '600', 'no original: 0600, not 0644');
    assert.deepEqual(await driver.digest('a.db'), await driver.digest('c.db'));
  });

  it('the temporary file of a restore is 0600 while it is written', async (t) => {
    const s = sandbox();
    t.after(() => s.cleanup());
    const old = process.umask(0o022);
    t.after(() => process.umask(old));
    seedFile(path.join(s.dir, 'a.db'));
    const driver = createSqliteDriver({ name: 'lite', dir: s.dir, timeoutMs: 2000, stagingDir: s.staging });
    const dump = await drain((await driver.backup('a.db')).stream);
    const input = new PassThrough();
    input.write(dump.subarray(0, 4096));
    const restoring = driver.restore('a.db', input, 'sqlite-db', { into: 'b.db' });
    const temp = () => fs.readdirSync(s.dir).find((n) => n.startsWith('.safehold-restore-'));
    await until(() => temp() !== undefined && fs.statSync(path.join(s.dir, temp()!)).size > 0, 'the temporary file');
    assert.equal((fs.statSync(path.join(s.dir, temp()!)).mode & 0o777).toString(8), '600');
    input.end(dump.subarray(4096));
    await restoring;
    assert.equal(temp(), undefined);
  });

  it("as root, a restore keeps the owner of the file it replaces, and gives a new name the original unit's owner", async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to own files as another user');
    const s = sandbox();
    t.after(() => s.cleanup());
    const nobody = { uid: 65534, gid: 65534 };
    const file = (n: string) => path.join(s.dir, n);
    const owner = (n: string) => {
      const st = fs.statSync(file(n));
      return { uid: st.uid, gid: st.gid, mode: (st.mode & 0o7777).toString(8) };
    };
    seedFile(file('a.db'));
    fs.chownSync(file('a.db'), nobody.uid, nobody.gid);
    fs.chmodSync(file('a.db'), 0o600);
    const driver = createSqliteDriver({ name: 'lite', dir: s.dir, timeoutMs: 2000, stagingDir: s.staging });
    const dump = await drain((await driver.backup('a.db')).stream);
    await driver.restore('a.db', Readable.from([dump]), 'sqlite-db', { clean: true });
    assert.deepEqual(owner('a.db'), { ...nobody, mode: '600' });
    await driver.restore('a.db', Readable.from([dump]), 'sqlite-db', { into: 'copy.db' });
    assert.deepEqual(owner('copy.db'), { ...nobody, mode: '600' });
    // The one who owns it can use it: nobody opens the restored file (and may create its -shm next to it).
    fs.chmodSync(s.root, 0o711);
    fs.chmodSync(s.dir, 0o777);
    const r = spawnSync(
      nodeOthersCanRun(s.root),
      [
        '--disable-warning=ExperimentalWarning',
        '-e',
        `const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync(${JSON.stringify(file('a.db'))}); console.log(db.prepare('SELECT count(*) AS n FROM people').get().n);`,
      ],
      { uid: nobody.uid, gid: nobody.gid, encoding: 'utf8' },
    );
    assert.equal(r.stdout.trim(), '3', r.stderr);
  });
});
