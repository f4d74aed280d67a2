// The postgres driver against the real server on 127.0.0.1:5432: the shared
// database driver suite, plus units by glob and exclude, the _globals unit,
// owners on restore, names that need quoting, a failed clean restore that
// keeps the old database, the client programs' environment (no secret but
// their own), and errors (bad names, missing client program, authentication
// failure without the password). Every database and role made here is named
// shtest_<random>_… and dropped afterwards.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import pg from 'pg';
import { SafeholdError } from '../../core/errors.ts';
import { NoMatchError } from '../no-match.ts';
import { dbDriverSuite } from '../../../test/helpers/db-driver-suite.ts';
import type { DbFixture } from '../../../test/helpers/db-driver-suite.ts';
import { until } from '../../../test/helpers/wait.ts';
import { GLOBALS_FORMAT, PG_DUMP_FORMAT, createPostgresDriver } from './postgres.ts';
import type { PostgresDriverConfig } from './postgres.ts';

const BASE: PostgresDriverConfig = {
  name: 'pgtest',
  host: '127.0.0.1',
  port: 5432,
  user: 'postgres',
  password: null,
  timeoutMs: 10_000,
};

async function admin<T>(db: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: db });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const q = (s: string) => `"${s.replace(/"/g, '""')}"`;

async function drain(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Databases and roles named with one random prefix, all dropped by cleanup. */
function scope() {
  const prefix = `shtest_${randomBytes(4).toString('hex')}_`;
  return {
    prefix,
    name: (tag: string) => prefix + tag,
    async cleanup() {
      await admin('postgres', async (c) => {
        const like = `${prefix.replace(/_/g, '\\_')}%`;
        for (const r of (await c.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [like])).rows) {
          await c.query(`DROP DATABASE IF EXISTS ${q(r.datname)} WITH (FORCE)`);
        }
        for (const r of (await c.query('SELECT rolname FROM pg_roles WHERE rolname LIKE $1', [like])).rows) {
          await c.query(`DROP ROLE IF EXISTS ${q(r.rolname)}`);
        }
      });
    },
  };
}

async function seed(unit: string): Promise<void> {
  await admin('postgres', (c) => c.query(`CREATE DATABASE ${q(unit)}`));
  await admin(unit, (c) =>
    c.query(`
    CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, note text, price numeric(10,2), at timestamptz, data bytea);
    INSERT INTO items (name, note, price, at, data) VALUES
      ('plain', NULL, 1.50, '2024-03-01 10:00:00+00', '\\x00ff10'),
      (E'two\\nlines', 'it''s "quoted"', NULL, NULL, NULL),
      ('tab\there', E'back\\\\slash', 99999.99, '1999-12-31 23:59:59.123456+02', '\\x');
    CREATE SCHEMA sales;
    CREATE TABLE sales.orders (id int PRIMARY KEY, item int REFERENCES items(id), qty int, f float8, doc jsonb);
    INSERT INTO sales.orders VALUES (1, 1, 3, 0.1, '{"a": [1, 2]}'), (2, 2, NULL, 1e-300, NULL), (3, 1, 7, -0.0, '"x"');
  `),
  );
}

async function mutate(unit: string): Promise<void> {
  await admin(unit, (c) =>
    c.query(`
    INSERT INTO items (name) VALUES ('added');
    UPDATE items SET note = 'changed' WHERE name = 'plain';
    DELETE FROM sales.orders WHERE id = 2;
    UPDATE sales.orders SET qty = qty + 1 WHERE id = 1;
  `),
  );
}

async function fixture(): Promise<DbFixture> {
  const s = scope();
  return {
    driver: createPostgresDriver({ ...BASE, databases: `${s.prefix}*` }),
    unreachable: createPostgresDriver({ ...BASE, name: 'nowhere', port: 1, timeoutMs: 2000 }),
    seed,
    mutate,
    cleanup: s.cleanup,
    name: s.name,
  };
}

dbDriverSuite('postgres', fixture);

const isErr =
  (code: string, ...parts: string[]) =>
  (e: unknown) =>
    e instanceof SafeholdError && e.code === code && parts.every((p) => e.message.includes(p));

describe('postgres driver', () => {
  it('lists the databases matching the glob, minus excludes, sorted, after _globals; never templates', async (t) => {
    const s = scope();
    t.after(() => s.cleanup());
    for (const n of ['b1', 'a2', 'a1', 'a10'])
      await admin('postgres', (c) => c.query(`CREATE DATABASE ${q(s.name(n))}`));
    const list = (cfg: Partial<PostgresDriverConfig>) => createPostgresDriver({ ...BASE, ...cfg }).listUnits();
    assert.deepEqual(await list({ databases: `${s.prefix}a*` }), [
      '_globals',
      s.name('a1'),
      s.name('a10'),
      s.name('a2'),
    ]);
    assert.deepEqual(await list({ databases: `${s.prefix}*`, exclude: ['*0', `${s.prefix}b?`] }), [
      '_globals',
      s.name('a1'),
      s.name('a2'),
    ]);
    assert.deepEqual(await list({ databases: `${s.prefix}b*`, exclude: ['_globals'] }), [s.name('b1')]);
    const all = await list({});
    assert.ok(all.includes('postgres') && all.includes(s.name('b1')));
    assert.ok(!all.includes('template0') && !all.includes('template1'));
    // A glob matching no database fails the listing (naming what is there) instead of leaving `_globals` alone.
    for (const databases of ['template*', `${s.prefix}shopp`])
      await assert.rejects(
        list({ databases }),
        (e: unknown) =>
          e instanceof NoMatchError &&
          e.code === 'NOT_FOUND' &&
          e.message.startsWith(`no database of target ${BASE.name} matches '${databases}' (databases: `) &&
          e.message.includes(s.name('a1')) &&
          !e.message.includes('template0') &&
          e.rest.join() === '_globals',
      );
    await assert.rejects(
      list({ databases: 'nothing-here', exclude: ['_globals'] }),
      (e: unknown) => e instanceof NoMatchError && e.rest.length === 0,
    );
  });

  it('_globals: always exists, dumps roles, digests them, cannot be dropped or restored under another name', async (t) => {
    const s = scope();
    t.after(() => s.cleanup());
    const d = createPostgresDriver(BASE);
    const role = s.name('role');
    await admin('postgres', (c) => c.query(`CREATE ROLE ${q(role)} CREATEDB CONNECTION LIMIT 3`));
    assert.equal(await d.exists('_globals'), true);
    const b = await d.backup('_globals');
    assert.equal(b.format, GLOBALS_FORMAT);
    const sql = (await drain(b.stream)).toString();
    assert.match(sql, new RegExp(`CREATE ROLE ${role};`));
    assert.match(sql, new RegExp(`ALTER ROLE ${role} WITH .*CREATEDB.* CONNECTION LIMIT 3`));
    const before = await d.digest('_globals');
    assert.ok(before.tables._roles!.rows >= 2 && /^[0-9a-f]{32}$/.test(before.tables._roles!.checksum));
    assert.ok(before.tables._tablespaces!.rows >= 2);
    await admin('postgres', (c) => c.query(`ALTER ROLE ${q(role)} CONNECTION LIMIT 4`));
    assert.notEqual((await d.digest('_globals')).tables._roles!.checksum, before.tables._roles!.checksum);
    await assert.rejects(d.drop('_globals'), isErr('USAGE', '_globals'));
    await assert.rejects(
      d.restore('_globals', Readable.from([sql]), GLOBALS_FORMAT, { into: s.name('x') }),
      isErr('USAGE', '_globals'),
    );
    await assert.rejects(d.restore('_globals', Readable.from([sql]), PG_DUMP_FORMAT), isErr('USAGE', PG_DUMP_FORMAT));
  });

  it('keeps owners on restore (the role must exist, with a hint when it does not) unless noOwner', async (t) => {
    const s = scope();
    t.after(() => s.cleanup());
    const d = createPostgresDriver(BASE);
    const role = s.name('owner');
    const src = s.name('owned');
    await admin('postgres', async (c) => {
      await c.query(`CREATE ROLE ${q(role)}`);
      await c.query(`CREATE DATABASE ${q(src)}`);
    });
    await admin(src, (c) =>
      c.query(`CREATE TABLE t (x int); INSERT INTO t VALUES (1); ALTER TABLE t OWNER TO ${q(role)}`),
    );
    const dump = await drain((await d.backup(src)).stream);
    const owner = (db: string) =>
      admin(
        db,
        async (c) => (await c.query("SELECT tableowner FROM pg_tables WHERE tablename = 't'")).rows[0].tableowner,
      );
    await d.restore(src, Readable.from([dump]), PG_DUMP_FORMAT, { into: s.name('kept') });
    assert.equal(await owner(s.name('kept')), role);
    await admin('postgres', async (c) => {
      for (const db of [src, s.name('kept')]) await c.query(`DROP DATABASE ${q(db)}`);
      await c.query(`DROP ROLE ${q(role)}`);
    });
    await assert.rejects(
      d.restore(src, Readable.from([dump]), PG_DUMP_FORMAT, { into: s.name('fails') }),
      isErr('IO', `role "${role}" does not exist`, 'restore _globals first, or restore with noOwner'),
    );
    assert.equal(await d.exists(s.name('fails')), false);
    await createPostgresDriver({ ...BASE, noOwner: true }).restore(src, Readable.from([dump]), PG_DUMP_FORMAT, {
      into: s.name('mine'),
    });
    assert.equal(await owner(s.name('mine')), 'postgres');
  });

  it('quotes names: a database named with quotes, spaces and a semicolon backs up, restores and digests', async (t) => {
    const s = scope();
    t.after(() => s.cleanup());
    const d = createPostgresDriver(BASE);
    const odd = s.name(`it's "odd"; x=1 \\`);
    await seed(odd);
    const b = await d.backup(odd);
    const dump = await drain(b.stream);
    const into = s.name(`"also' odd`);
    await d.restore(odd, Readable.from([dump]), b.format, { into });
    assert.deepEqual(await d.digest(into), await d.digest(odd));
    await d.drop(into);
    assert.equal(await d.exists(into), false);
  });

  it("withDigest: under constant writes, the digest is of exactly the dumped rows (pg_dump uses the digest's exported snapshot)", async (t) => {
    const s = scope();
    t.after(() => s.cleanup());
    const d = createPostgresDriver(BASE);
    const db = s.name('busy');
    await admin('postgres', (c) => c.query(`CREATE DATABASE ${q(db)}`));
    await admin(db, (c) =>
      c.query(
        'CREATE TABLE a (id serial PRIMARY KEY, v text); CREATE TABLE b (id serial PRIMARY KEY, v text); INSERT INTO a (v) SELECT md5(g::text) FROM generate_series(1, 50000) g; INSERT INTO b (v) SELECT md5(g::text) FROM generate_series(1, 50000) g',
      ),
    );
    // A writer inserts into both tables, one row at a time, for the whole backup.
    let writing = true;
    let written = 0;
    const writer = admin(db, async (c) => {
      while (writing) {
        await c.query("INSERT INTO a (v) VALUES ('w'); INSERT INTO b (v) VALUES ('w')");
        written++;
      }
    });
    try {
      await until(() => written > 20, 'the writer to start');
      const b = await d.backup(db, { withDigest: true });
      assert.ok(b.digest, 'the postgres driver gives the digest with the dump');
      const dump = await drain(b.stream);
      const recorded = await b.digest;
      const into = s.name('busy_copy');
      await d.restore(db, Readable.from([dump]), b.format, { into });
      assert.deepEqual(await d.digest(into), recorded, 'restored rows equal the recorded digest');
      writing = false;
      await writer;
      const now = await d.digest(db);
      assert.ok(
        now.tables['public.a']!.rows > recorded.tables['public.a']!.rows,
        `rows were written after the snapshot (${written} inserts)`,
      );
    } finally {
      writing = false;
      await writer;
    }
  });

  it("withDigest: a dump never read, once destroyed, ends the digest's transaction (no session is left behind)", async (t) => {
    const s = scope();
    t.after(() => s.cleanup());
    const d = createPostgresDriver(BASE);
    const db = s.name('unread');
    await seed(db);
    const b = await d.backup(db, { withDigest: true });
    b.stream.destroy();
    const digest = await b.digest!;
    assert.ok(Object.keys(digest.tables).length > 0);
    await until(
      async () =>
        (await admin('postgres', (c) => c.query('SELECT 1 FROM pg_stat_activity WHERE datname = $1', [db])))
          .rowCount === 0,
      'the digest session to end',
    );
  });

  it('a failed clean restore leaves the existing database as it was and no scratch database behind', async (t) => {
    const s = scope();
    t.after(() => s.cleanup());
    const d = createPostgresDriver(BASE);
    const scratch = () =>
      admin('postgres', async (c) =>
        (await c.query("SELECT datname FROM pg_database WHERE datname LIKE 'safehold\\_restore\\_%'")).rows.map(
          (r) => r.datname as string,
        ),
      );
    const before = new Set(await scratch());
    const unit = s.name('keep');
    await seed(unit);
    const want = await d.digest(unit);
    const dump = await drain((await d.backup(unit)).stream);
    await mutate(unit);
    const changed = await d.digest(unit);
    await assert.rejects(
      d.restore(unit, Readable.from([dump.subarray(0, dump.length - 200)]), PG_DUMP_FORMAT, { clean: true }),
      isErr('IO', 'pg_restore'),
    );
    assert.deepEqual(await d.digest(unit), changed);
    assert.ok(
      (await scratch()).every((n) => before.has(n)),
      'no scratch database left',
    );
    await d.restore(unit, Readable.from([dump]), PG_DUMP_FORMAT, { clean: true });
    assert.deepEqual(await d.digest(unit), want);
    assert.deepEqual(await d.listUnits().then((l) => l.filter((n) => n.startsWith(s.prefix))), [unit]);
  });

  it('cancelling a backup or a restore stops the program with CANCELLED; the cancelled restore leaves nothing', async (t) => {
    const s = scope();
    t.after(() => s.cleanup());
    const d = createPostgresDriver(BASE);
    const unit = s.name('c');
    await seed(unit);
    const dump = await drain((await d.backup(unit)).stream);
    const ac = new AbortController();
    const b = await d.backup(unit, { signal: ac.signal });
    ac.abort();
    await assert.rejects(drain(b.stream), isErr('CANCELLED', 'pg_dump'));
    const input = new PassThrough();
    input.write(dump.subarray(0, 1000)); // and never more: pg_restore waits for the rest
    const into = s.name('cr');
    const ac2 = new AbortController();
    const restoring = d.restore(unit, input, PG_DUMP_FORMAT, { into, signal: ac2.signal });
    await until(() => d.exists(into), 'the restore to create its database');
    ac2.abort();
    await assert.rejects(restoring, isErr('CANCELLED', 'pg_restore'));
    assert.equal(await d.exists(into), false);
    assert.equal(input.destroyed, true);
  });

  it('refuses bad names, missing units and bad settings with clear errors', async () => {
    const d = createPostgresDriver(BASE);
    await assert.rejects(d.exists('a\0b'), isErr('USAGE', 'NUL'));
    await assert.rejects(d.backup('x'.repeat(64)), isErr('USAGE', '63 bytes'));
    await assert.rejects(d.restore('x', Readable.from([]), PG_DUMP_FORMAT, { into: '' }), isErr('USAGE', 'empty'));
    await assert.rejects(d.backup('template0'), isErr('USAGE', 'template'));
    const missing = `shtest_missing_${randomBytes(4).toString('hex')}`;
    await assert.rejects(d.digest(missing), isErr('NOT_FOUND', missing));
    await assert.rejects(d.drop(missing), isErr('NOT_FOUND', missing));
    await assert.rejects(
      d.restore(missing, Readable.from([]), 'mariadb-dump-sql', { into: `${missing}_r` }),
      isErr('USAGE', 'mariadb-dump-sql'),
    );
    await assert.rejects(d.drop('postgres'), isErr('USAGE', 'maintenance database'));
    await assert.rejects(
      d.restore('x', Readable.from([]), PG_DUMP_FORMAT, { into: 'postgres', clean: true }),
      isErr('USAGE', 'maintenance database'),
    );
    assert.throws(() => createPostgresDriver({ ...BASE, dumpJobs: 4 }), isErr('CONFIG', 'dumpJobs'));
    assert.throws(() => createPostgresDriver({ ...BASE, port: 0 }), isErr('CONFIG', 'port'));
  });

  it('a missing client program fails the backup with IO naming it', async (t) => {
    const s = scope();
    t.after(() => s.cleanup());
    const empty = await fsp.mkdtemp(path.join(os.tmpdir(), 'shtest-bin-'));
    t.after(() => fsp.rm(empty, { recursive: true, force: true }));
    const unit = s.name('db');
    await admin('postgres', (c) => c.query(`CREATE DATABASE ${q(unit)}`));
    const d = createPostgresDriver({ ...BASE, binDir: empty });
    await assert.rejects(
      async () => drain((await d.backup(unit)).stream),
      isErr('IO', 'pg_dump is not installed (or not on PATH)'),
    );
  });

  it("an authentication failure is an IO error with the server's reason and never the password", async () => {
    const password = `Pw-${randomBytes(6).toString('hex')}`;
    const d = createPostgresDriver({ ...BASE, user: `shtest_nouser_${randomBytes(3).toString('hex')}`, password });
    assert.equal((await d.available()).ok, false);
    const noSecret = (e: unknown) =>
      e instanceof SafeholdError &&
      e.code === 'IO' &&
      !e.message.includes(password) &&
      !JSON.stringify(e.details ?? {}).includes(password) &&
      /does not exist|authentication failed/.test(e.message) &&
      !e.retryable;
    await assert.rejects(d.listUnits(), noSecret);
    await assert.rejects(
      async () => drain((await d.backup('_globals')).stream),
      (e: unknown) => noSecret(e) && (e as Error).message.includes('pg_dumpall'),
    );
  });

  it('the client programs get the connection settings and the password, no other secret of the environment', async (t) => {
    const s = scope();
    const bin = await fsp.mkdtemp(path.join(os.tmpdir(), 'shtest-bin-'));
    const saved = {
      SAFEHOLD_PASSWORD: process.env.SAFEHOLD_PASSWORD,
      SHTEST_OTHER_SECRET: process.env.SHTEST_OTHER_SECRET,
      PGCLIENTENCODING: process.env.PGCLIENTENCODING,
    };
    t.after(async () => {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await fsp.rm(bin, { recursive: true, force: true });
      await s.cleanup();
    });
    // pg_dump itself, seen through a wrapper that records the environment it was given.
    const real = execFileSync('sh', ['-c', 'command -v pg_dump'], { encoding: 'utf8' }).trim();
    const envFile = path.join(bin, 'pg_dump.env');
    await fsp.writeFile(path.join(bin, 'pg_dump'), `#!/bin/sh\nenv > '${envFile}'\nexec '${real}' "$@"\n`, {
      mode: 0o755,
    });
    Object.assign(process.env, {
      SAFEHOLD_PASSWORD: 'repo-pw-5e1f',
      SHTEST_OTHER_SECRET: 'other-secret-9c2d',
      PGCLIENTENCODING: 'UTF8',
    });
    const unit = s.name('envdb');
    await seed(unit);
    const password = `pg-pw-${randomBytes(4).toString('hex')}`;
    const dump = await drain((await createPostgresDriver({ ...BASE, password, binDir: bin }).backup(unit)).stream);
    assert.ok(dump.length > 0);
    const env = new Map(
      (await fsp.readFile(envFile, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    assert.equal(env.get('PGPASSWORD'), password);
    assert.equal(env.get('PGHOST'), '127.0.0.1');
    assert.equal(env.get('PGUSER'), 'postgres');
    assert.equal(env.get('PGCLIENTENCODING'), 'UTF8', "libpq's own settings pass on");
    assert.equal(env.get('PATH'), process.env.PATH);
    for (const name of ['SAFEHOLD_PASSWORD', 'SHTEST_OTHER_SECRET']) assert.equal(env.has(name), false, name);
    assert.ok(![...env.values()].some((v) => v.includes('repo-pw-5e1f') || v.includes('other-secret-9c2d')));
  });

  it('an unreachable server is a retryable IO error', async () => {
    const d = createPostgresDriver({ ...BASE, port: 1, timeoutMs: 2000 });
    await assert.rejects(
      d.exists('postgres'),
      (e: unknown) => e instanceof SafeholdError && e.code === 'IO' && e.retryable,
    );
    await assert.rejects(
      async () => drain((await d.backup('_globals')).stream),
      (e: unknown) => e instanceof SafeholdError && e.code === 'IO' && e.retryable,
    );
  });
});
