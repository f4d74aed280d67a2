// The postgres database driver (S6, S8): each database matching the target's
// glob is a unit, plus `_globals` (roles and tablespaces, postgres-globals.ts).
// A unit's backup is `pg_dump --format=custom --compress=0` streamed: one
// consistent MVCC snapshot of that database, taken while it is in use, left
// uncompressed so the repository's deduplication and zstd do the work. A
// restore creates the database (from template0) and pipes the dump into
// `pg_restore --single-transaction --exit-on-error`; a failure drops what it
// created, and with `clean` an existing database is replaced only once the
// new copy is complete (restored under a scratch name, then swapped in:
// postgres-restore.ts). The digest is in postgres-digest.ts, the physical
// whole-server backup in postgres-physical.ts.

import { probe } from '../availability.ts';
import type { Availability } from '../availability.ts';
import type { Readable } from 'node:stream';
import { SafeholdError } from '../../core/errors.ts';
import { globToRegExp } from '../../core/glob.ts';
import { childStream } from './child-stream.ts';
import type { BackupOptions, ContentDigest, DbBackup, DbCapabilities, DbDriver, RestoreOptions } from './driver.ts';
import type { PostgresDriverConfig } from './postgres-connection.ts';
import {
  catalogSql,
  checkConfig,
  checkDbName,
  conninfo,
  databaseExists,
  ddl,
  dropDatabase,
  maintenanceDb,
  redactions,
  tool,
  toolEnv,
  transientStderr,
  where,
} from './postgres-connection.ts';
import type { ExportedSnapshot } from './postgres-digest.ts';
import { digestDatabase, exportedSnapshotDigest } from './postgres-digest.ts';
import { backupGlobals, digestGlobals, GLOBALS_FORMAT, GLOBALS_UNIT, restoreGlobals } from './postgres-globals.ts';
import { restoreDatabase, SCRATCH } from './postgres-restore.ts';
import { noMatch } from '../no-match.ts';

export type { PostgresDriverConfig } from './postgres-connection.ts';
export { GLOBALS_FORMAT, GLOBALS_UNIT } from './postgres-globals.ts';

export const PG_DUMP_FORMAT = 'pg_dump-custom';

const CAPABILITIES: DbCapabilities = Object.freeze({
  online: true,
  quiesce: false,
  units: true,
  staging: false,
  physical: true,
  snapshotDigest: true,
});
const ALWAYS_LEFT_OUT = new Set(['template0', 'template1', GLOBALS_UNIT]);

/** Which databases are units, and whether `_globals` is one. */
interface UnitFilter {
  database(name: string): boolean;
  /** A database the `databases` glob could match (not a template or scratch copy). */
  candidate(name: string): boolean;
  /** The `databases` glob matches this name. */
  included(name: string): boolean;
  readonly glob: string;
  readonly globals: boolean;
}

export function createPostgresDriver(cfg: PostgresDriverConfig): DbDriver {
  checkConfig(cfg);
  const units = unitFilter(cfg);
  return {
    kind: 'postgres',
    name: cfg.name,
    capabilities: CAPABILITIES,
    available: () => available(cfg),
    listUnits: () => listUnits(cfg, units),
    exists: (unit) => exists(cfg, unit),
    backup: (unit, opts) => backup(cfg, unit, opts),
    restore: (unit, input, format, opts) => restore(cfg, unit, input, format, opts),
    drop: (unit) => drop(cfg, unit),
    digest: (unit) => digest(cfg, unit),
  };
}

/** The databases matching the target's glob and none of its exclusions (never templates or scratch copies). */
function unitFilter(cfg: PostgresDriverConfig): UnitFilter {
  const glob = cfg.databases ?? '*';
  const include = globToRegExp(glob);
  const exclude = (cfg.exclude ?? []).map(globToRegExp);
  const excluded = (n: string) => exclude.some((re) => re.test(n));
  const candidate = (n: string) => !ALWAYS_LEFT_OUT.has(n) && !SCRATCH.test(n);
  return {
    database: (n) => candidate(n) && include.test(n) && !excluded(n),
    candidate,
    included: (n) => include.test(n),
    glob,
    globals: !excluded(GLOBALS_UNIT),
  };
}

function available(cfg: PostgresDriverConfig): Promise<Availability> {
  return probe(() => catalogSql(cfg, 'connecting', (c) => c.query('SELECT 1')));
}

async function listUnits(cfg: PostgresDriverConfig, units: UnitFilter): Promise<string[]> {
  const rows = await catalogSql(
    cfg,
    'listing databases',
    async (c) => (await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datallowconn')).rows,
  );
  const names = rows
    .map((r) => r.datname)
    .filter(units.candidate)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const dbs = names.filter(units.database);
  const all = units.globals ? [GLOBALS_UNIT, ...dbs] : dbs;
  // A glob matching no database fails the listing rather than leaving `_globals` alone.
  if (!names.some(units.included)) throw noMatch('database', cfg.name, units.glob, names, all);
  return all;
}

async function exists(cfg: PostgresDriverConfig, unit: string): Promise<boolean> {
  checkUnit(unit);
  if (unit === GLOBALS_UNIT) return true;
  return databaseExists(cfg, unit);
}

async function mustExist(cfg: PostgresDriverConfig, unit: string): Promise<void> {
  if (await exists(cfg, unit)) return;
  throw new SafeholdError('NOT_FOUND', `${where(cfg)}: database ${JSON.stringify(unit)} does not exist`);
}

async function backup(cfg: PostgresDriverConfig, unit: string, opts: BackupOptions = {}): Promise<DbBackup> {
  checkUnit(unit);
  if (unit === GLOBALS_UNIT) return backupGlobalsUnit(cfg, opts);
  await mustExist(cfg, unit);
  // With a digest: pg_dump dumps the snapshot that the digest's transaction exported.
  const snap = opts.withDigest ? await exportedSnapshotDigest(cfg, unit) : null;
  const stream = startDump(cfg, unit, snap, opts.signal);
  if (!snap) return { stream, format: PG_DUMP_FORMAT };
  // The exporting transaction stays open until pg_dump is done with the snapshot.
  stream.once('close', snap.release);
  return { stream, format: PG_DUMP_FORMAT, digest: snap.digest };
}

/** `_globals`, with its digest (taken just before the dump) when asked for. */
async function backupGlobalsUnit(cfg: PostgresDriverConfig, opts: BackupOptions): Promise<DbBackup> {
  const digest = opts.withDigest ? await digestGlobals(cfg) : undefined;
  const b = await backupGlobals(cfg, opts.signal);
  return digest ? { ...b, digest: Promise.resolve(digest) } : b;
}

/** Starts pg_dump of `unit` (in the exported snapshot, if any); the snapshot is released when it cannot start. */
function startDump(
  cfg: PostgresDriverConfig,
  unit: string,
  snap: ExportedSnapshot | null,
  signal: AbortSignal | undefined,
): Readable {
  const argv = [
    tool(cfg, 'pg_dump'),
    '--format=custom',
    '--compress=0',
    '--no-password',
    `--lock-wait-timeout=${cfg.timeoutMs}`,
    ...(snap ? [`--snapshot=${snap.id}`] : []),
    `--dbname=${conninfo(unit)}`,
  ];
  try {
    return childStream(argv, toolEnv(cfg), {
      what: `pg_dump of ${unit} on ${where(cfg)}`,
      signal,
      redact: redactions(cfg),
      retryable: transientStderr,
    });
  } catch (e) {
    snap?.release();
    throw e;
  }
}

async function restore(
  cfg: PostgresDriverConfig,
  unit: string,
  input: Readable,
  format: string,
  opts: RestoreOptions = {},
): Promise<void> {
  checkUnit(unit);
  const into = opts.into ?? unit;
  checkUnit(into, 'restore target');
  if (unit === GLOBALS_UNIT || into === GLOBALS_UNIT) return restoreGlobalsUnit(cfg, unit, into, input, format, opts);
  if (format !== PG_DUMP_FORMAT) throw badFormat(format, PG_DUMP_FORMAT);
  await restoreDatabase(cfg, input, into, opts);
}

/** `_globals` is restored only as itself, from its own format. */
async function restoreGlobalsUnit(
  cfg: PostgresDriverConfig,
  unit: string,
  into: string,
  input: Readable,
  format: string,
  opts: RestoreOptions,
): Promise<void> {
  if (unit !== into) {
    const why = `can only be restored as ${GLOBALS_UNIT}, not into another name`;
    throw new SafeholdError('USAGE', `${GLOBALS_UNIT} (roles and tablespaces) ${why}`);
  }
  if (format !== GLOBALS_FORMAT) throw badFormat(format, GLOBALS_FORMAT);
  await restoreGlobals(cfg, input, opts.signal);
}

async function drop(cfg: PostgresDriverConfig, unit: string): Promise<void> {
  checkUnit(unit);
  if (unit === GLOBALS_UNIT) {
    throw new SafeholdError('USAGE', `${GLOBALS_UNIT} (roles and tablespaces) cannot be dropped`);
  }
  if (unit === maintenanceDb(cfg)) {
    const why = 'it cannot be dropped';
    throw new SafeholdError('USAGE', `${unit} is the maintenance database this driver connects to; ${why}`);
  }
  await mustExist(cfg, unit);
  await ddl(cfg, `dropping database ${unit}`, (c) => dropDatabase(c, unit));
}

async function digest(cfg: PostgresDriverConfig, unit: string): Promise<ContentDigest> {
  checkUnit(unit);
  if (unit === GLOBALS_UNIT) return digestGlobals(cfg);
  return digestDatabase(cfg, unit);
}

function checkUnit(unit: string, what = 'unit'): void {
  checkDbName(unit, what);
  if (unit === 'template0' || unit === 'template1') {
    throw new SafeholdError('USAGE', `${unit} is a template database, not a unit`);
  }
}

function badFormat(format: string, want: string): SafeholdError {
  const why = `cannot restore a backup of format ${JSON.stringify(format)} here`;
  return new SafeholdError('USAGE', `${why}: this unit takes ${want}`);
}
