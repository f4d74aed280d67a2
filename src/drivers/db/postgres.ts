// The postgres database driver (S6, S8): each database matching the target's
// glob is a unit, plus `_globals` (roles and tablespaces, postgres-globals.ts).
// A unit's backup is `pg_dump --format=custom --compress=0` streamed: one
// consistent MVCC snapshot of that database, taken while it is in use, left
// uncompressed so the repository's deduplication and zstd do the work. A
// restore creates the database (from template0) and pipes the dump into
// `pg_restore --single-transaction --exit-on-error`; a failure drops what it
// created, and with `clean` an existing database is replaced only once the
// new copy is complete (restored under a scratch name, then swapped in).
// The physical whole-server backup is in postgres-physical.ts.

import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type pg from 'pg';
import { SafeholdError } from '../../core/errors.ts';
import { globToRegExp } from '../../core/glob.ts';
import { childStream, pipeToChild } from './child-stream.ts';
import type { ContentDigest, DbBackup, DbDriver, RestoreOptions } from './driver.ts';
import { GLOBALS_FORMAT, GLOBALS_UNIT, backupGlobals, digestGlobals, restoreGlobals } from './postgres-globals.ts';
import { checkConfig, checkDbName, conninfo, ident, redactions, tool, toolEnv, transientStderr, where, withClient } from './postgres-connection.ts';
import type { PostgresDriverConfig } from './postgres-connection.ts';

export type { PostgresDriverConfig } from './postgres-connection.ts';
export { GLOBALS_UNIT, GLOBALS_FORMAT } from './postgres-globals.ts';

export const PG_DUMP_FORMAT = 'pg_dump-custom';

/** Databases a `clean` restore builds before swapping them in; never listed as units. */
const SCRATCH = /^safehold_restore_[0-9a-f]{16}$/;
const ALWAYS_LEFT_OUT = new Set(['template0', 'template1', GLOBALS_UNIT]);

export function createPostgresDriver(cfg: PostgresDriverConfig): DbDriver {
  checkConfig(cfg);
  const maint = cfg.maintenanceDb ?? 'postgres';
  const include = globToRegExp(cfg.databases ?? '*');
  const exclude = (cfg.exclude ?? []).map(globToRegExp);
  const excluded = (n: string) => exclude.some((re) => re.test(n));
  const sql = <T>(doing: string, fn: (c: pg.Client) => Promise<T>) => withClient(cfg, maint, doing, fn);

  async function exists(unit: string): Promise<boolean> {
    checkUnit(unit);
    if (unit === GLOBALS_UNIT) return true;
    return sql(`looking up database ${unit}`, async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [unit])).rowCount === 1);
  }

  async function mustExist(unit: string): Promise<void> {
    if (!(await exists(unit))) throw new SafeholdError('NOT_FOUND', `${where(cfg)}: database ${JSON.stringify(unit)} does not exist`);
  }

  return {
    kind: 'postgres',
    name: cfg.name,
    capabilities: { online: true, quiesce: false, units: true, staging: false, physical: true, snapshotDigest: true },

    async available() {
      try {
        await sql('connecting', (c) => c.query('SELECT 1'));
        return true;
      } catch {
        return false;
      }
    },

    async listUnits() {
      const rows = await sql('listing databases', async (c) =>
        (await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn')).rows);
      const dbs = rows.map((r) => r.datname)
        .filter((n) => !ALWAYS_LEFT_OUT.has(n) && !SCRATCH.test(n) && include.test(n) && !excluded(n))
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      return excluded(GLOBALS_UNIT) ? dbs : [GLOBALS_UNIT, ...dbs];
    },

    exists,

    async backup(unit, opts = {}): Promise<DbBackup> {
      checkUnit(unit);
      if (unit === GLOBALS_UNIT) {
        const digest = opts.withDigest ? await digestGlobals(cfg) : undefined;
        const b = await backupGlobals(cfg, opts.signal);
        return digest ? { ...b, digest: Promise.resolve(digest) } : b;
      }
      await mustExist(unit);
      // With a digest: pg_dump dumps the snapshot that the digest's transaction exported.
      const snap = opts.withDigest ? await exportedSnapshotDigest(cfg, unit) : null;
      const argv = [
        tool(cfg, 'pg_dump'), '--format=custom', '--compress=0', '--no-password',
        `--lock-wait-timeout=${cfg.timeoutMs}`, ...(snap ? [`--snapshot=${snap.id}`] : []), `--dbname=${conninfo(unit)}`,
      ];
      let stream: Readable;
      try {
        stream = childStream(argv, toolEnv(cfg), {
          what: `pg_dump of ${unit} on ${where(cfg)}`, signal: opts.signal, redact: redactions(cfg), retryable: transientStderr,
        });
      } catch (e) {
        snap?.release();
        throw e;
      }
      if (!snap) return { stream, format: PG_DUMP_FORMAT };
      // The exporting transaction stays open until pg_dump is done with the snapshot.
      stream.once('close', snap.release);
      return { stream, format: PG_DUMP_FORMAT, digest: snap.digest };
    },

    async restore(unit, input, format, opts = {}) {
      checkUnit(unit);
      const into = opts.into ?? unit;
      checkUnit(into, 'restore target');
      if (unit === GLOBALS_UNIT || into === GLOBALS_UNIT) {
        if (unit !== into) throw new SafeholdError('USAGE', `${GLOBALS_UNIT} (roles and tablespaces) can only be restored as ${GLOBALS_UNIT}, not into another name`);
        if (format !== GLOBALS_FORMAT) throw badFormat(format, GLOBALS_FORMAT);
        await restoreGlobals(cfg, input, opts.signal);
        return;
      }
      if (format !== PG_DUMP_FORMAT) throw badFormat(format, PG_DUMP_FORMAT);
      await restoreDatabase(cfg, exists, input, into, opts);
    },

    async drop(unit) {
      checkUnit(unit);
      if (unit === GLOBALS_UNIT) throw new SafeholdError('USAGE', `${GLOBALS_UNIT} (roles and tablespaces) cannot be dropped`);
      if (unit === maint) throw new SafeholdError('USAGE', `${unit} is the maintenance database this driver connects to; it cannot be dropped`);
      await mustExist(unit);
      await ddl(cfg, `dropping database ${unit}`, (c) => dropDatabase(c, unit));
    },

    async digest(unit) {
      checkUnit(unit);
      if (unit === GLOBALS_UNIT) return digestGlobals(cfg);
      return digestDatabase(cfg, unit);
    },
  };
}

function checkUnit(unit: string, what = 'unit'): void {
  checkDbName(unit, what);
  if (unit === 'template0' || unit === 'template1') throw new SafeholdError('USAGE', `${unit} is a template database, not a unit`);
}

function badFormat(format: string, want: string): SafeholdError {
  return new SafeholdError('USAGE', `cannot restore a backup of format ${JSON.stringify(format)} here: this unit takes ${want}`);
}

/**
 * Statements that change databases (create, drop, rename) on the maintenance database, with
 * no client-side time limit: a timed-out DROP would go on in the server while reported failed.
 */
function ddl<T>(cfg: PostgresDriverConfig, doing: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withClient(cfg, cfg.maintenanceDb ?? 'postgres', doing, fn, null);
}

/** Drops a database, ending its sessions first. */
async function dropDatabase(c: pg.Client, name: string): Promise<void> {
  const version = Number((await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v")).rows[0]!.v);
  if (version >= 130000) {
    await c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
    return;
  }
  await c.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [name]);
  await c.query(`DROP DATABASE IF EXISTS ${ident(name)}`);
}

/**
 * Restores a pg_dump stream into `into`: straight into a new database, or,
 * with `clean` over an existing one, into a scratch database that replaces it
 * once complete. Whatever was created is dropped when the restore fails.
 */
async function restoreDatabase(cfg: PostgresDriverConfig, exists: (u: string) => Promise<boolean>, input: Readable, into: string, opts: RestoreOptions): Promise<void> {
  const sql = <T>(doing: string, fn: (c: pg.Client) => Promise<T>) => ddl(cfg, doing, fn);
  opts.signal?.throwIfAborted();
  const replace = await exists(into);
  if (replace && !opts.clean) {
    input.destroy();
    throw new SafeholdError('RESTORE_TARGET', `${where(cfg)}: database ${JSON.stringify(into)} exists; restore into another name or replace it with clean`);
  }
  if (replace && into === (cfg.maintenanceDb ?? 'postgres')) {
    input.destroy();
    throw new SafeholdError('USAGE', `${into} is the maintenance database this driver connects to; it cannot be replaced (restore into another name)`);
  }
  const work = replace ? `safehold_restore_${randomBytes(8).toString('hex')}` : into;
  await sql(`creating database ${work}`, (c) => c.query(`CREATE DATABASE ${ident(work)} TEMPLATE template0`));
  try {
    const argv = [tool(cfg, 'pg_restore'), '--no-password', '--exit-on-error', '--single-transaction', ...(cfg.noOwner ? ['--no-owner'] : []), `--dbname=${conninfo(work)}`];
    await pipeToChild(input, argv, toolEnv(cfg), {
      what: `pg_restore into ${into} on ${where(cfg)}`, signal: opts.signal, redact: redactions(cfg), retryable: transientStderr,
      hint: (stderr) => (/role ".*" does not exist/.test(stderr) ? `restore ${GLOBALS_UNIT} first, or restore with noOwner` : null),
    });
    if (replace) await swapIn(cfg, work, into);
  } catch (e) {
    if (e instanceof SafeholdError && e.details?.restoredAs === work) throw e;
    await sql(`dropping the incomplete database ${work}`, (c) => dropDatabase(c, work)).catch(() => {});
    throw e;
  }
}

/** Replaces `into` by the complete copy `work`; once `into` is gone, `work` is kept whatever happens (named in the error). */
async function swapIn(cfg: PostgresDriverConfig, work: string, into: string): Promise<void> {
  await ddl(cfg, `replacing database ${into}`, async (c) => {
    await dropDatabase(c, into);
    try {
      await c.query(`ALTER DATABASE ${ident(work)} RENAME TO ${ident(into)}`);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      throw new SafeholdError('IO', `${where(cfg)}: the restored copy of ${into} is complete as database ${work}, but renaming it failed: ${msg}; rename it by hand`, { cause: e, details: { restoredAs: work } });
    }
  });
}

/** Base tables outside the system schemas; partitions count as tables, partitioned parents do not (their rows are in the partitions). */
const TABLES = `
  SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
  ORDER BY 1, 2`;

/**
 * Row count and an order-independent checksum of one table: every row's text
 * form is hashed (md5) and the two 64-bit halves of the hashes are summed
 * (exact numeric sums), so the server needs neither a sort nor a big string,
 * however many rows there are.
 */
function tableDigestSql(schema: string, table: string): string {
  const half = (from: number) => `coalesce(sum(('x' || substr(h, ${from}, 16))::bit(64)::int8::numeric), 0)::text`;
  return `SELECT count(*)::int8 AS n, md5(count(*)::text || ':' || ${half(1)} || ':' || ${half(17)}) AS checksum
    FROM (SELECT md5(ROW(r.*)::text) AS h FROM ONLY ${ident(schema)}.${ident(table)} AS r) q`;
}

async function digestDatabase(cfg: PostgresDriverConfig, unit: string): Promise<ContentDigest> {
  return withClient(cfg, unit, `digest of ${unit}`, async (c) => {
    await beginDigest(c);
    const d = await tablesDigest(c);
    await c.query('COMMIT');
    return d;
  }, null);
}

/**
 * Opens a REPEATABLE READ transaction, exports its snapshot for pg_dump
 * (--snapshot) and computes the digest in it while the dump runs, so that
 * the digest describes exactly the dumped rows, however busy the database.
 * Resolves once the snapshot is exported; `release` (when the dump is done)
 * ends the transaction.
 */
function exportedSnapshotDigest(cfg: PostgresDriverConfig, unit: string): Promise<{ id: string; digest: Promise<ContentDigest>; release: () => void }> {
  return new Promise((resolveOpen, rejectOpen) => {
    let release!: () => void;
    const released = new Promise<void>((r) => { release = r; });
    const digest: Promise<ContentDigest> = withClient(cfg, unit, `digest of ${unit}`, async (c) => {
      await beginDigest(c);
      const id = (await c.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
      resolveOpen({ id, digest, release });
      const d = await tablesDigest(c);
      await released;
      await c.query('COMMIT');
      return d;
    }, null);
    // Before the export this rejects the open; after it, the caller sees the failure through `digest`.
    digest.catch(rejectOpen);
  });
}

async function beginDigest(c: pg.Client): Promise<void> {
  // The text form of values depends on these settings: pin them so that every session agrees.
  await c.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; SET bytea_output = 'hex'; SET extra_float_digits = 1");
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}

async function tablesDigest(c: pg.Client): Promise<ContentDigest> {
  const tables: Record<string, { rows: number; checksum: string }> = {};
  for (const t of (await c.query<{ schema: string; name: string }>(TABLES)).rows) {
    const r = (await c.query<{ n: string; checksum: string }>(tableDigestSql(t.schema, t.name))).rows[0]!;
    tables[`${t.schema}.${t.name}`] = { rows: Number(r.n), checksum: r.checksum };
  }
  return { tables };
}
