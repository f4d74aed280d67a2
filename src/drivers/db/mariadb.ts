// The mariadb database driver (S6, S8): the units are the server's databases
// matching a glob (never the system databases). A backup streams
// `mariadb-dump --single-transaction` of one database, without CREATE
// DATABASE/USE, so it can be restored under another name: one consistent
// snapshot of its InnoDB tables while the database stays in use. A restore
// creates the database (utf8mb4) and pipes the dump into `mariadb
// --binary-mode` (trigger names qualified with the original database are
// renamed on the way); a restore that fails, or a dump without mariadb-dump's
// closing line (cut short), drops what it created.

import { Readable } from 'node:stream';
import type { ContentDigest, DbBackup, DbCapabilities, DbDriver, RestoreOptions } from './driver.ts';
import { SafeholdError } from '../../core/errors.ts';
import { globToRegExp } from '../../core/glob.ts';
import { childStream, pipeToChild } from './child-stream.ts';
import type { MariadbDriverConfig } from './mariadb-connection.ts';
import {
  SYSTEM_DATABASES, checkConfig, checkDbName, connectArgs, databaseExists, ident, redactions, rows, tool, toolEnv,
  transientToolError, where, withConn,
} from './mariadb-connection.ts';
import { mariadbDigest } from './mariadb-digest.ts';
import { renameTriggers } from './mariadb-rename.ts';

export type { MariadbDriverConfig } from './mariadb-connection.ts';

export const MARIADB_FORMAT = 'mariadb-dump-sql';
const CAPABILITIES: DbCapabilities = Object.freeze({ online: true, quiesce: false, units: true, staging: false, physical: false, snapshotDigest: false });
/** The last line mariadb-dump writes (with comments on, as we run it): a dump without it was cut short. */
const TRAILER = '-- Dump completed';
/** Rows as large as MariaDB allows (the server's own max_allowed_packet still applies). */
const MAX_PACKET = '--max-allowed-packet=1073741824';

const DUMP_OPTIONS = [
  '--single-transaction', '--routines', '--triggers', '--events', '--hex-blob',
  '--default-character-set=utf8mb4', '--no-tablespaces', '--skip-dump-date', MAX_PACKET,
];

export function createMariadbDriver(cfg: MariadbDriverConfig): DbDriver {
  checkConfig(cfg);
  const include = globToRegExp(cfg.databases ?? '*');
  const exclude = (cfg.exclude ?? []).map(globToRegExp);
  const isUnit = (db: string) => !SYSTEM_DATABASES.has(db) && include.test(db) && !exclude.some((re) => re.test(db));

  async function exists(unit: string): Promise<boolean> {
    checkDbName(unit);
    return withConn(cfg, `looking up database ${unit}`, (c) => databaseExists(cfg, c, unit));
  }

  return {
    kind: 'mariadb',
    name: cfg.name,
    capabilities: CAPABILITIES,
    async available() {
      try {
        await withConn(cfg, 'probing', (c) => rows(cfg, c, 'SELECT 1'));
        return true;
      } catch {
        return false;
      }
    },
    async listUnits() {
      const names = await withConn(cfg, 'listing databases', (c) => rows<{ n: string }>(cfg, c, 'SELECT schema_name AS n FROM information_schema.schemata'));
      return names.map((r) => r.n).filter(isUnit).sort();
    },
    exists,
    async backup(unit: string, opts: { signal?: AbortSignal } = {}): Promise<DbBackup> {
      checkAborted(opts.signal, `${where(cfg)}: the backup of ${unit}`);
      if (!(await exists(unit))) throw notFound(cfg, unit);
      const argv = [tool(cfg, 'mariadb-dump'), ...connectArgs(cfg), ...DUMP_OPTIONS, '--', unit];
      const dump = childStream(argv, toolEnv(cfg), {
        what: `${where(cfg)}: mariadb-dump of ${unit}`, signal: opts.signal, redact: redactions(cfg), retryable: transientToolError,
        ...(cfg.operationTimeoutMs === undefined ? {} : { timeoutMs: cfg.operationTimeoutMs }),
      });
      return { stream: Readable.from(renameErrors(dump, cfg, unit), { objectMode: false }), format: MARIADB_FORMAT };
    },
    async restore(unit: string, input: Readable, format: string, opts: RestoreOptions = {}) {
      const target = opts.into ?? unit;
      try {
        checkTarget(target);
        if (format !== MARIADB_FORMAT) throw new SafeholdError('USAGE', `${cfg.name}: cannot restore a ${format} backup with the mariadb driver (expected ${MARIADB_FORMAT})`);
        checkAborted(opts.signal, `${where(cfg)}: the restore into ${target}`);
        await withConn(cfg, `preparing database ${target}`, async (c) => {
          if (await databaseExists(cfg, c, target)) {
            if (!opts.clean) throw new SafeholdError('RESTORE_TARGET', `${where(cfg)}: database ${target} already exists (restore with clean to replace it)`);
            await c.query(`DROP DATABASE ${ident(target)}`);
          }
          await c.query(`CREATE DATABASE ${ident(target)} CHARACTER SET utf8mb4`);
        });
      } catch (e) {
        input.destroy();
        throw e;
      }
      try {
        await loadDump(cfg, input, unit, target, opts.signal);
      } catch (e) {
        await withConn(cfg, `removing the failed restore ${target}`, (c) => c.query(`DROP DATABASE IF EXISTS ${ident(target)}`)).catch(() => {});
        throw e;
      } finally {
        input.destroy(); // a wrapper waiting on it cannot release it
      }
    },
    async drop(unit: string) {
      checkTarget(unit);
      await withConn(cfg, `dropping database ${unit}`, (c) => c.query(`DROP DATABASE IF EXISTS ${ident(unit)}`));
    },
    async digest(unit: string): Promise<ContentDigest> {
      checkDbName(unit);
      return withConn(cfg, `computing the digest of ${unit}`, async (c) => {
        if (!(await databaseExists(cfg, c, unit))) throw notFound(cfg, unit);
        return mariadbDigest(cfg, c, unit);
      });
    },
  };
}

function notFound(cfg: MariadbDriverConfig, unit: string): SafeholdError {
  return new SafeholdError('NOT_FOUND', `${where(cfg)}: no database ${unit}`);
}

function checkAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new SafeholdError('CANCELLED', `${what} was cancelled`);
}

/** A valid name that is not a system database: restoring into or dropping those is refused. */
function checkTarget(name: string): void {
  checkDbName(name);
  if (SYSTEM_DATABASES.has(name.toLowerCase())) throw new SafeholdError('USAGE', `${name} is a system database of the server: it cannot be restored into or dropped`);
}

/** The dump, with "unknown database" (dropped after the check, before the dump began) reported as NOT_FOUND. */
async function* renameErrors(dump: Readable, cfg: MariadbDriverConfig, unit: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of dump) yield chunk as Buffer;
  } catch (e) {
    if (e instanceof SafeholdError && e.code === 'IO' && /Got error: 1049\b/.test(e.message)) throw new SafeholdError('NOT_FOUND', `${where(cfg)}: no database ${unit}`, { cause: e });
    throw e;
  }
}

/**
 * Pipes the dump of `unit` into the mariadb client connected to `target` (trigger names qualified
 * with the original database renamed); the input must end with mariadb-dump's closing line.
 */
async function loadDump(cfg: MariadbDriverConfig, input: Readable, unit: string, target: string, signal: AbortSignal | undefined): Promise<void> {
  let tail = '';
  const source: AsyncIterable<Buffer | string> = unit === target ? input : renameTriggers(input, unit, target);
  async function* watched(): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      tail = (tail + b.subarray(Math.max(0, b.length - 256)).toString('latin1')).slice(-256);
      yield b;
    }
  }
  const argv = [
    tool(cfg, 'mariadb'), ...connectArgs(cfg), '--binary-mode', '--default-character-set=utf8mb4', MAX_PACKET,
    `--connect-timeout=${Math.max(1, Math.ceil(cfg.timeoutMs / 1000))}`, `--database=${target}`,
  ];
  await pipeToChild(Readable.from(watched(), { objectMode: false }), argv, toolEnv(cfg), {
    what: `${where(cfg)}: restore into ${target}`, signal, redact: redactions(cfg), retryable: transientToolError,
    ...(cfg.operationTimeoutMs === undefined ? {} : { timeoutMs: cfg.operationTimeoutMs }),
  });
  if (!tail.trimEnd().split('\n').at(-1)?.startsWith(TRAILER)) {
    throw new SafeholdError('CORRUPT', `${where(cfg)}: the dump restored into ${target} is incomplete (it does not end with mariadb-dump's "${TRAILER}" line); the database was removed`);
  }
}
