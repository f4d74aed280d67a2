// Restoring a pg_dump stream into a database of the postgres driver. The
// database is created from template0 and the dump piped into `pg_restore
// --single-transaction --exit-on-error`; a failure drops what was created.
// With `clean` over an existing database, the dump is restored into a
// scratch database (safehold_restore_<hex>) that replaces the existing one
// only once complete; if renaming it fails after the old one is gone, the
// copy is kept and named in the error.

import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { SafeholdError } from '../../core/errors.ts';
import { pipeToChild } from './child-stream.ts';
import type { RestoreOptions } from './driver.ts';
import type { PostgresDriverConfig } from './postgres-connection.ts';
import {
  conninfo,
  databaseExists,
  ddl,
  dropDatabase,
  ident,
  maintenanceDb,
  redactions,
  tool,
  toolEnv,
  transientStderr,
  where,
} from './postgres-connection.ts';
import { GLOBALS_UNIT } from './postgres-globals.ts';

/** Databases a `clean` restore builds before swapping them in; never listed as units. */
export const SCRATCH = /^safehold_restore_[0-9a-f]{16}$/;

/**
 * Restores a pg_dump stream into `into`: straight into a new database, or,
 * with `clean` over an existing one, into a scratch database that replaces it
 * once complete. Whatever was created is dropped when the restore fails.
 */
export async function restoreDatabase(
  cfg: PostgresDriverConfig,
  input: Readable,
  into: string,
  opts: RestoreOptions,
): Promise<void> {
  opts.signal?.throwIfAborted();
  const replace = await databaseExists(cfg, into);
  const refused = refusedTarget(cfg, into, replace, opts.clean);
  if (refused) {
    input.destroy();
    throw refused;
  }
  const work = replace ? `safehold_restore_${randomBytes(8).toString('hex')}` : into;
  await ddl(cfg, `creating database ${work}`, (c) => c.query(`CREATE DATABASE ${ident(work)} TEMPLATE template0`));
  try {
    await pgRestore(cfg, input, work, into, opts.signal);
    if (replace) await swapIn(cfg, work, into);
  } catch (e) {
    if (e instanceof SafeholdError && e.details?.restoredAs === work) throw e;
    await ddl(cfg, `dropping the incomplete database ${work}`, (c) => dropDatabase(c, work)).catch(() => {});
    throw e;
  }
}

/** Why the existing database `into` cannot be restored over (no `clean`, or the maintenance database), or null. */
function refusedTarget(
  cfg: PostgresDriverConfig,
  into: string,
  replace: boolean,
  clean: boolean | undefined,
): SafeholdError | null {
  if (!replace) return null;
  if (!clean) {
    const why = `database ${JSON.stringify(into)} exists; restore into another name or replace it with clean`;
    return new SafeholdError('RESTORE_TARGET', `${where(cfg)}: ${why}`);
  }
  if (into !== maintenanceDb(cfg)) return null;
  const why = 'it cannot be replaced (restore into another name)';
  return new SafeholdError('USAGE', `${into} is the maintenance database this driver connects to; ${why}`);
}

/** Pipes the dump into pg_restore connected to `work`: one transaction, stopped at the first error. */
async function pgRestore(
  cfg: PostgresDriverConfig,
  input: Readable,
  work: string,
  into: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  const argv = [
    tool(cfg, 'pg_restore'),
    '--no-password',
    '--exit-on-error',
    '--single-transaction',
    ...(cfg.noOwner ? ['--no-owner'] : []),
    `--dbname=${conninfo(work)}`,
  ];
  await pipeToChild(input, argv, toolEnv(cfg), {
    what: `pg_restore into ${into} on ${where(cfg)}`,
    signal,
    redact: redactions(cfg),
    retryable: transientStderr,
    hint: missingRoleHint,
  });
}

/** Advice for a dump whose owners are missing on this server. */
function missingRoleHint(stderr: string): string | null {
  return /role ".*" does not exist/.test(stderr) ? `restore ${GLOBALS_UNIT} first, or restore with noOwner` : null;
}

/**
 * Replaces `into` by the complete copy `work`; once `into` is gone, `work` is
 * kept whatever happens (named in the error).
 */
async function swapIn(cfg: PostgresDriverConfig, work: string, into: string): Promise<void> {
  await ddl(cfg, `replacing database ${into}`, async (c) => {
    await dropDatabase(c, into);
    try {
      await c.query(`ALTER DATABASE ${ident(work)} RENAME TO ${ident(into)}`);
    } catch (e) {
      throw renameFailed(cfg, work, into, e);
    }
  });
}

function renameFailed(cfg: PostgresDriverConfig, work: string, into: string, e: unknown): SafeholdError {
  const msg = e instanceof Error ? e.message : String(e);
  const what = `the restored copy of ${into} is complete as database ${work}`;
  const why = `${what}, but renaming it failed: ${msg}; rename it by hand`;
  return new SafeholdError('IO', `${where(cfg)}: ${why}`, { cause: e, details: { restoredAs: work } });
}
