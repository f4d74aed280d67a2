// The mariadb database driver (S6, S8): the units are the server's databases
// matching a glob (never the system databases). A backup streams
// `mariadb-dump --single-transaction` of one database, without CREATE
// DATABASE/USE, so it can be restored under another name: one consistent
// snapshot of its InnoDB tables while the database stays in use. A restore
// creates the database (utf8mb4) and pipes the dump into `mariadb
// --binary-mode` (trigger names qualified with the original database are
// renamed on the way); a restore that fails, or a dump without mariadb-dump's
// closing line (cut short), drops what it created.

import { probe } from '../availability.ts';
import type { Availability } from '../availability.ts';
import { Readable } from 'node:stream';
import { SafeholdError } from '../../core/errors.ts';
import { globToRegExp } from '../../core/glob.ts';
import type { ChildOptions } from './child-stream.ts';
import { childStream, pipeToChild } from './child-stream.ts';
import type { BackupOptions, ContentDigest, DbBackup, DbCapabilities, DbDriver, RestoreOptions } from './driver.ts';
import { checkAborted } from './driver.ts';
import type { Conn, MariadbDriverConfig } from './mariadb-connection.ts';
import {
  checkConfig,
  checkDbName,
  connectArgs,
  databaseExists,
  ident,
  redactions,
  rows,
  SYSTEM_DATABASES,
  tool,
  toolEnv,
  transientToolError,
  where,
  withConn,
} from './mariadb-connection.ts';
import { mariadbDigest } from './mariadb-digest.ts';
import { renameTriggers } from './mariadb-rename.ts';
import { noMatch } from '../no-match.ts';

export type { MariadbDriverConfig } from './mariadb-connection.ts';

export const MARIADB_FORMAT = 'mariadb-dump-sql';
const CAPABILITIES: DbCapabilities = Object.freeze({
  online: true,
  quiesce: false,
  units: true,
  staging: false,
  physical: false,
  snapshotDigest: false,
});
/** The last line mariadb-dump writes (with comments on, as we run it): a dump without it was cut short. */
const TRAILER = '-- Dump completed';
/** How much of the end of a restored dump is kept, to look for TRAILER. */
const TAIL_BYTES = 256;
/** Rows as large as MariaDB allows (the server's own max_allowed_packet still applies). */
const MAX_PACKET = '--max-allowed-packet=1073741824';

const DUMP_OPTIONS = [
  '--single-transaction',
  '--routines',
  '--triggers',
  '--events',
  '--hex-blob',
  '--default-character-set=utf8mb4',
  '--no-tablespaces',
  '--skip-dump-date',
  MAX_PACKET,
];

export function createMariadbDriver(cfg: MariadbDriverConfig): DbDriver {
  checkConfig(cfg);
  const isUnit = unitFilter(cfg);
  return {
    kind: 'mariadb',
    name: cfg.name,
    capabilities: CAPABILITIES,
    available: () => available(cfg),
    listUnits: () => listUnits(cfg, isUnit),
    exists: (unit) => exists(cfg, unit),
    backup: (unit, opts) => backup(cfg, unit, opts),
    restore: (unit, input, format, opts) => restore(cfg, unit, input, format, opts),
    drop: (unit) => drop(cfg, unit),
    digest: (unit) => digest(cfg, unit),
  };
}

/** Which databases are units: matching the target's glob and none of its exclusions (never the system databases). */
interface UnitFilter {
  (db: string): boolean;
  readonly glob: string;
  /** The glob matches this name. */
  included(db: string): boolean;
}

function unitFilter(cfg: MariadbDriverConfig): UnitFilter {
  const glob = cfg.databases ?? '*';
  const include = globToRegExp(glob);
  const exclude = (cfg.exclude ?? []).map(globToRegExp);
  const isUnit = (db: string) => !SYSTEM_DATABASES.has(db) && include.test(db) && !exclude.some((re) => re.test(db));
  return Object.assign(isUnit, { glob, included: (db: string) => include.test(db) });
}

function available(cfg: MariadbDriverConfig): Promise<Availability> {
  return probe(() => withConn(cfg, 'probing', (c) => rows(cfg, c, 'SELECT 1')));
}

async function listUnits(cfg: MariadbDriverConfig, isUnit: UnitFilter): Promise<string[]> {
  const found = await withConn(cfg, 'listing databases', (c) =>
    rows<{ n: string }>(cfg, c, 'SELECT schema_name AS n FROM information_schema.schemata'),
  );
  const names = found
    .map((r) => r.n)
    .filter((n) => !SYSTEM_DATABASES.has(n))
    .sort();
  // A glob matching no database fails the listing: an empty target is not backed up as if all were well.
  if (!names.some(isUnit.included)) throw noMatch('database', cfg.name, isUnit.glob, names);
  return names.filter(isUnit);
}

async function exists(cfg: MariadbDriverConfig, unit: string): Promise<boolean> {
  checkDbName(unit);
  return withConn(cfg, `looking up database ${unit}`, (c) => databaseExists(cfg, c, unit));
}

async function backup(cfg: MariadbDriverConfig, unit: string, opts: BackupOptions = {}): Promise<DbBackup> {
  checkAborted(opts.signal, `${where(cfg)}: the backup of ${unit}`);
  if (!(await exists(cfg, unit))) throw notFound(cfg, unit);
  const argv = [tool(cfg, 'mariadb-dump'), ...connectArgs(cfg), ...DUMP_OPTIONS, '--', unit];
  const dump = childStream(argv, toolEnv(cfg), toolOptions(cfg, `${where(cfg)}: mariadb-dump of ${unit}`, opts.signal));
  return { stream: Readable.from(renameErrors(dump, cfg, unit), { objectMode: false }), format: MARIADB_FORMAT };
}

/** The dump, with "unknown database" (dropped after the check, before the dump began) reported as NOT_FOUND. */
async function* renameErrors(dump: Readable, cfg: MariadbDriverConfig, unit: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of dump) yield chunk as Buffer;
  } catch (e) {
    if (e instanceof SafeholdError && e.code === 'IO' && /Got error: 1049\b/.test(e.message)) {
      throw notFound(cfg, unit, e);
    }
    throw e;
  }
}

async function restore(
  cfg: MariadbDriverConfig,
  unit: string,
  input: Readable,
  format: string,
  opts: RestoreOptions = {},
): Promise<void> {
  const target = opts.into ?? unit;
  try {
    await prepareTarget(cfg, target, format, opts);
  } catch (e) {
    input.destroy();
    throw e;
  }
  try {
    await loadDump(cfg, input, unit, target, opts.signal);
  } catch (e) {
    const removing = `removing the failed restore ${target}`;
    await withConn(cfg, removing, (c) => c.query(`DROP DATABASE IF EXISTS ${ident(target)}`)).catch(() => {});
    throw e;
  } finally {
    input.destroy(); // a wrapper waiting on it cannot release it
  }
}

/** Checks the target name and the format, then creates the empty database `target`. */
async function prepareTarget(
  cfg: MariadbDriverConfig,
  target: string,
  format: string,
  opts: RestoreOptions,
): Promise<void> {
  checkTarget(target);
  if (format !== MARIADB_FORMAT) {
    const why = `cannot restore a ${format} backup with the mariadb driver (expected ${MARIADB_FORMAT})`;
    throw new SafeholdError('USAGE', `${cfg.name}: ${why}`);
  }
  checkAborted(opts.signal, `${where(cfg)}: the restore into ${target}`);
  await withConn(cfg, `preparing database ${target}`, (c) => createDatabase(cfg, c, target, opts.clean));
}

/** Creates `target`; an existing one is dropped first with `clean`, else refused. */
async function createDatabase(cfg: MariadbDriverConfig, c: Conn, target: string, clean?: boolean): Promise<void> {
  if (await databaseExists(cfg, c, target)) {
    if (!clean) {
      const why = `database ${target} already exists (restore with clean to replace it)`;
      throw new SafeholdError('RESTORE_TARGET', `${where(cfg)}: ${why}`);
    }
    await c.query(`DROP DATABASE ${ident(target)}`);
  }
  await c.query(`CREATE DATABASE ${ident(target)} CHARACTER SET utf8mb4`);
}

/**
 * Pipes the dump of `unit` into the mariadb client connected to `target` (trigger names qualified
 * with the original database renamed); the input must end with mariadb-dump's closing line.
 */
async function loadDump(
  cfg: MariadbDriverConfig,
  input: Readable,
  unit: string,
  target: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const seen = { tail: '' };
  const source: AsyncIterable<Buffer | string> = unit === target ? input : renameTriggers(input, unit, target);
  const dump = Readable.from(keepTail(source, seen), { objectMode: false });
  const what = `${where(cfg)}: restore into ${target}`;
  await pipeToChild(dump, clientArgv(cfg, target), toolEnv(cfg), toolOptions(cfg, what, signal));
  if (!seen.tail.trimEnd().split('\n').at(-1)?.startsWith(TRAILER)) {
    const why = `it does not end with mariadb-dump's "${TRAILER}" line`;
    const problem = `the dump restored into ${target} is incomplete (${why})`;
    throw new SafeholdError('CORRUPT', `${where(cfg)}: ${problem}; the database was removed`);
  }
}

/** The mariadb client, reading SQL from stdin into `target`. */
function clientArgv(cfg: MariadbDriverConfig, target: string): string[] {
  return [
    tool(cfg, 'mariadb'),
    ...connectArgs(cfg),
    '--binary-mode',
    '--default-character-set=utf8mb4',
    MAX_PACKET,
    `--connect-timeout=${Math.max(1, Math.ceil(cfg.timeoutMs / 1000))}`,
    `--database=${target}`,
  ];
}

/** The chunks of `source` as Buffers, unchanged; `seen.tail` holds the last TAIL_BYTES of them (latin1). */
async function* keepTail(source: AsyncIterable<Buffer | string>, seen: { tail: string }): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    seen.tail = (seen.tail + b.subarray(Math.max(0, b.length - TAIL_BYTES)).toString('latin1')).slice(-TAIL_BYTES);
    yield b;
  }
}

async function drop(cfg: MariadbDriverConfig, unit: string): Promise<void> {
  checkTarget(unit);
  await withConn(cfg, `dropping database ${unit}`, (c) => c.query(`DROP DATABASE IF EXISTS ${ident(unit)}`));
}

async function digest(cfg: MariadbDriverConfig, unit: string): Promise<ContentDigest> {
  checkDbName(unit);
  return withConn(cfg, `computing the digest of ${unit}`, async (c) => {
    if (!(await databaseExists(cfg, c, unit))) throw notFound(cfg, unit);
    return mariadbDigest(cfg, c, unit);
  });
}

/** How mariadb-dump and mariadb run: passwords scrubbed, connection problems retryable, the operation's time limit. */
function toolOptions(cfg: MariadbDriverConfig, what: string, signal: AbortSignal | undefined): ChildOptions {
  return {
    what,
    signal,
    redact: redactions(cfg),
    retryable: transientToolError,
    ...(cfg.operationTimeoutMs === undefined ? {} : { timeoutMs: cfg.operationTimeoutMs }),
  };
}

function notFound(cfg: MariadbDriverConfig, unit: string, cause?: unknown): SafeholdError {
  return new SafeholdError('NOT_FOUND', `${where(cfg)}: no database ${unit}`, { cause });
}

/** A valid name that is not a system database: restoring into or dropping those is refused. */
function checkTarget(name: string): void {
  checkDbName(name);
  if (SYSTEM_DATABASES.has(name.toLowerCase())) {
    const why = 'it cannot be restored into or dropped';
    throw new SafeholdError('USAGE', `${name} is a system database of the server: ${why}`);
  }
}
