// Whole-server PostgreSQL backups and the _globals restore, on a private
// server this file starts (initdb into a temp dir, run as the postgres OS
// user, reachable only through a socket in that dir) so that replication is
// allowed and roles can be changed without touching the shared server. Shows
// the "one instant" property: a physical backup taken while a writer inserts
// marker N into db1 then db2 restores with max(db2) ≤ max(db1) ≤ max(db2)+1,
// while two separate logical dumps (db1, then db2) do not.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import pg from 'pg';
import { SafeholdError } from '../../core/errors.ts';
import { GLOBALS_FORMAT, createPostgresDriver } from './postgres.ts';
import type { PostgresDriverConfig } from './postgres.ts';
import { PHYSICAL_FORMAT, physicalBackup, restorePhysical } from './postgres-physical.ts';

const BIN = '/usr/lib/postgresql/15/bin';
const run = promisify(execFile);
const asPostgres = (argv: string[]) => run('runuser', ['-u', 'postgres', '--', ...argv]);

/** A PostgreSQL server on a data directory, listening only on a socket in `sock`. */
class Server {
  readonly data: string;
  readonly sock: string;
  readonly port = randomInt(20_000, 60_000);

  constructor(data: string, sock: string) {
    this.data = data;
    this.sock = sock;
  }

  cfg(extra: Partial<PostgresDriverConfig> = {}): PostgresDriverConfig {
    return {
      name: 'private',
      host: this.sock,
      port: this.port,
      user: 'postgres',
      password: null,
      timeoutMs: 10_000,
      ...extra,
    };
  }

  async start(): Promise<void> {
    const opts = `-p ${this.port} -k ${this.sock} -c listen_addresses='' -c fsync=off -c synchronous_commit=off`;
    await asPostgres([`${BIN}/pg_ctl`, '-D', this.data, '-o', opts, '-l', path.join(this.sock, 'log'), '-w', 'start']);
  }

  async stop(): Promise<void> {
    await asPostgres([`${BIN}/pg_ctl`, '-D', this.data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
  }

  async sql<T = Record<string, unknown>>(db: string, text: string): Promise<T[]> {
    const c = new pg.Client({ host: this.sock, port: this.port, user: 'postgres', database: db });
    await c.connect();
    try {
      return (await c.query(text)).rows as T[];
    } finally {
      await c.end();
    }
  }

  async max(db: string): Promise<number> {
    return Number((await this.sql<{ m: number | null }>(db, 'SELECT coalesce(max(n), 0) AS m FROM m'))[0]!.m);
  }
}

/** A temp dir the postgres OS user owns. */
async function postgresDir(parent: string, name: string): Promise<string> {
  const dir = path.join(parent, name);
  await fsp.mkdir(dir, { mode: 0o700 });
  await run('chown', ['-R', 'postgres:postgres', dir]);
  return dir;
}

/** Empties both tables, then inserts marker 1, 2, 3, … into db1 then db2, each in its own transaction, until stopped. */
function startWriter(s: Server) {
  const c1 = new pg.Client({ host: s.sock, port: s.port, user: 'postgres', database: 'db1' });
  const c2 = new pg.Client({ host: s.sock, port: s.port, user: 'postgres', database: 'db2' });
  let n = 0;
  let stop = false;
  const done = (async () => {
    await c1.connect();
    await c2.connect();
    for (const c of [c1, c2]) await c.query('TRUNCATE m');
    while (!stop) {
      n++;
      await c1.query('INSERT INTO m VALUES ($1)', [n]);
      await c2.query('INSERT INTO m VALUES ($1)', [n]);
    }
    await c1.end();
    await c2.end();
  })();
  return {
    get n() {
      return n;
    },
    async stop() {
      stop = true;
      await done;
      return n;
    },
  };
}

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function drain(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

const oneInstant = (db1: number, db2: number) => db2 <= db1 && db1 <= db2 + 1;

describe('postgres physical backups and _globals (private server)', () => {
  let tmp: string;
  let src: Server;

  before(async () => {
    tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'shtest-pg-'));
    await run('chmod', ['755', tmp]);
    const sock = await postgresDir(tmp, 'src-sock');
    src = new Server(path.join(sock, 'data'), sock);
    await asPostgres([`${BIN}/initdb`, '-D', src.data, '-U', 'postgres', '--auth=trust', '-N', '-E', 'UTF8']);
    await src.start();
    for (const db of ['db1', 'db2']) {
      await src.sql('postgres', `CREATE DATABASE ${db}`);
      await src.sql(db, 'CREATE TABLE m (n int)');
    }
    // db1's dump takes a while, so that a writer gets ahead between two logical dumps.
    await src.sql(
      'db1',
      'CREATE TABLE pad AS SELECT g AS id, repeat(md5(g::text), 4) AS t FROM generate_series(1, 100000) g',
    );
  });

  after(async () => {
    await src?.stop();
    if (tmp) await fsp.rm(tmp, { recursive: true, force: true });
  });

  it('a physical backup restores every database at one instant', async (t) => {
    const writer = startWriter(src);
    t.after(() => writer.stop());
    await waitFor(() => writer.n >= 20, 'the writer');
    const atStart = writer.n;
    const b = await physicalBackup(src.cfg());
    assert.equal(b.format, PHYSICAL_FORMAT);
    const sock = await postgresDir(tmp, 'restored-sock');
    const restored = new Server(path.join(sock, 'data'), sock);
    const r = await restorePhysical(b.stream, restored.data);
    const atEnd = writer.n;
    await writer.stop();
    assert.ok(r.files > 100 && r.bytes > 1_000_000, `extracted ${r.files} files, ${r.bytes} bytes`);
    assert.ok(atEnd > atStart, 'the writer wrote during the backup');
    await run('chown', ['-R', 'postgres:postgres', restored.data]);
    await restored.start();
    t.after(() => restored.stop());
    const [db1, db2] = [await restored.max('db1'), await restored.max('db2')];
    assert.ok(oneInstant(db1, db2), `db1 at ${db1}, db2 at ${db2}: not one instant`);
    assert.ok(db1 >= atStart && db1 <= atEnd, `db1 at ${db1}, outside the backup's time (${atStart}..${atEnd})`);
    assert.equal(Number((await restored.sql<{ n: string }>('db1', 'SELECT count(*) AS n FROM pad'))[0]!.n), 100000);
  });

  it('two separate logical dumps (db1, then db2) under the same writer are not at one instant', async (t) => {
    const d = createPostgresDriver(src.cfg());
    const writer = startWriter(src);
    t.after(() => writer.stop());
    await waitFor(() => writer.n >= 20, 'the writer');
    const seen: string[] = [];
    for (let attempt = 1; attempt <= 5; attempt++) {
      const dumps = [];
      for (const db of ['db1', 'db2']) {
        const b = await d.backup(db);
        dumps.push(await drain(b.stream));
      }
      const [r1, r2] = [`r1_${attempt}`, `r2_${attempt}`];
      await d.restore('db1', Readable.from([dumps[0]!]), 'pg_dump-custom', { into: r1 });
      await d.restore('db2', Readable.from([dumps[1]!]), 'pg_dump-custom', { into: r2 });
      const [db1, db2] = [await src.max(r1), await src.max(r2)];
      await d.drop(r1);
      await d.drop(r2);
      seen.push(`db1 ${db1}/db2 ${db2}`);
      if (!oneInstant(db1, db2)) {
        t.diagnostic(`broke after ${attempt} attempt(s): ${seen.join(', ')}`);
        return;
      }
    }
    assert.fail(
      `separate dumps always looked like one instant (${seen.join(', ')}): the writer is too slow for this test to show anything`,
    );
  });

  it('restores _globals by replaying it: missing roles come back, existing ones get their backed-up attributes', async (t) => {
    const warnings: string[] = [];
    const d = createPostgresDriver(src.cfg({ onWarning: (m) => warnings.push(m) }));
    await src.sql(
      'postgres',
      'CREATE ROLE alice LOGIN CREATEDB CONNECTION LIMIT 3; CREATE ROLE bob; GRANT alice TO bob',
    );
    t.after(() => src.sql('postgres', 'DROP ROLE IF EXISTS bob; DROP ROLE IF EXISTS alice'));
    const want = await d.digest('_globals');
    assert.equal(want.tables._roles!.rows, 3);
    const b = await d.backup('_globals');
    const dump = await drain(b.stream);
    await src.sql('postgres', 'DROP ROLE bob; ALTER ROLE alice NOCREATEDB CONNECTION LIMIT 9');
    assert.notDeepEqual(await d.digest('_globals'), want);
    await d.restore('_globals', Readable.from([dump]), GLOBALS_FORMAT);
    assert.deepEqual(await d.digest('_globals'), want);
    const alice = (
      await src.sql<{ rolcreatedb: boolean; rolconnlimit: number }>(
        'postgres',
        "SELECT rolcreatedb, rolconnlimit FROM pg_roles WHERE rolname = 'alice'",
      )
    )[0]!;
    assert.deepEqual({ ...alice }, { rolcreatedb: true, rolconnlimit: 3 });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /2 role\(s\) or tablespace\(s\) already existed/);
    // A statement failing for another reason fails the restore, naming it.
    const bad = Buffer.concat([dump, Buffer.from('\nALTER ROLE nobody_here WITH LOGIN;\n')]);
    await assert.rejects(
      d.restore('_globals', Readable.from([bad]), GLOBALS_FORMAT),
      (e: unknown) =>
        e instanceof SafeholdError &&
        e.code === 'IO' &&
        /1 statement\(s\) failed.*role "nobody_here" does not exist/.test(e.message),
    );
  });

  it('a role without REPLICATION gets an error saying so', async (t) => {
    await src.sql('postgres', 'CREATE ROLE plain LOGIN');
    t.after(() => src.sql('postgres', 'DROP ROLE plain'));
    const b = await physicalBackup(src.cfg({ user: 'plain' }));
    await assert.rejects(
      drain(b.stream),
      (e: unknown) =>
        e instanceof SafeholdError && e.code === 'IO' && e.message.includes('needs the REPLICATION attribute'),
    );
  });

  it('a physical restore needs an empty directory, and removes what it extracted when the archive is damaged', async () => {
    const full = await drain((await physicalBackup(src.cfg())).stream);
    const used = path.join(tmp, 'used');
    await fsp.mkdir(used);
    await fsp.writeFile(path.join(used, 'x'), 'x');
    await assert.rejects(
      restorePhysical(Readable.from([full]), used),
      (e: unknown) => e instanceof SafeholdError && e.code === 'RESTORE_TARGET',
    );
    assert.deepEqual(await fsp.readdir(used), ['x']);
    const cut = path.join(tmp, 'cut');
    await assert.rejects(
      restorePhysical(Readable.from([full.subarray(0, Math.floor(full.length / 2))]), cut),
      (e: unknown) => e instanceof SafeholdError && e.code === 'CORRUPT',
    );
    await assert.rejects(fsp.access(cut), 'the half-extracted directory is gone');
    const empty = path.join(tmp, 'empty');
    await fsp.mkdir(empty);
    await fsp.mkdir(path.join(tmp, 'other'));
    await fsp.writeFile(path.join(tmp, 'other', 'hello'), 'hello');
    const notBase = (await run('tar', ['-cf', '-', '-C', path.join(tmp, 'other'), '.'], { encoding: 'buffer' })).stdout;
    await assert.rejects(
      restorePhysical(Readable.from([notBase]), empty),
      (e: unknown) =>
        e instanceof SafeholdError && e.code === 'CORRUPT' && e.message.includes('not a PostgreSQL base backup'),
    );
    assert.deepEqual(await fsp.readdir(empty), [], 'an existing empty directory is emptied again, not removed');
  });
});
