// The physical backup of a whole PostgreSQL server (S6 consistency groups):
// `pg_basebackup --format=tar --wal-method=fetch` streamed to stdout is one
// tar of the data directory with the WAL needed to make it consistent, so
// every database in it is at one and the same instant (unlike one pg_dump per
// database, each with its own snapshot). Restoring extracts the tar into an
// empty directory; starting a server on it replays that WAL. Needs a role with
// REPLICATION and a `replication` line in pg_hba.conf; a server with extra
// tablespaces cannot be streamed this way (pg_basebackup writes only one tar
// to stdout).

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { SafeholdError, fromSystemError, sysCode } from '../../core/errors.ts';
import { extractTar } from '../../engine/directory/tar-reader.ts';
import { childStream } from './child-stream.ts';
import type { DbBackup } from './driver.ts';
import { systemClock } from '../../core/clock.ts';
import type { Clock } from '../../core/clock.ts';
import type { BaseBackupMeta } from '../../repo/snapshot.ts';
import { BaseBackupInfo, systemIdOf } from './postgres-base-backup-info.ts';
import { redactions, tool, toolEnv, transientStderr, where } from './postgres-connection.ts';
import type { PostgresDriverConfig } from './postgres-connection.ts';

export const PHYSICAL_FORMAT = 'pg_basebackup-tar';

function physicalHint(cfg: PostgresDriverConfig, stderr: string): string | null {
  if (/no pg_hba\.conf entry for replication connection/.test(stderr)) {
    const from = cfg.host.startsWith('/')
      ? `local   replication ${cfg.user}  trust|peer|scram-sha-256`
      : `host    replication ${cfg.user}  <client address>/32  scram-sha-256`;
    return `the server's pg_hba.conf needs a replication line such as "${from}", then a reload`;
  }
  if (/must be superuser or replication role|permission denied to start WAL sender/i.test(stderr))
    return `role ${cfg.user} needs the REPLICATION attribute`;
  if (/can only write single tablespace to stdout/i.test(stderr))
    return 'a server with extra tablespaces cannot be backed up physically as one stream';
  return null;
}

export interface PhysicalBackup extends DbBackup {
  /** Once the stream has been read whole: what point-in-time recovery needs (null when unknown). */
  pitr(): Promise<BaseBackupMeta | null>;
}

/**
 * Streams a base backup of the whole server as a plain tar (format
 * 'pg_basebackup-tar'), noting its system identifier and WAL range.
 */
export async function physicalBackup(
  cfg: PostgresDriverConfig,
  opts: { signal?: AbortSignal; clock?: Clock } = {},
): Promise<PhysicalBackup> {
  const systemId = await systemIdOf(cfg);
  const info = new BaseBackupInfo();
  const argv = [
    tool(cfg, 'pg_basebackup'),
    '--format=tar',
    '--wal-method=fetch',
    '--pgdata=-',
    '--checkpoint=fast',
    '--no-password',
    '--verbose',
  ];
  const stream = childStream(argv, toolEnv(cfg), {
    what: `pg_basebackup of ${where(cfg)}`,
    signal: opts.signal,
    redact: redactions(cfg),
    retryable: transientStderr,
    hint: (stderr) => physicalHint(cfg, stderr),
    onStderrLine: (l) => info.line(l),
  });
  const clock = opts.clock ?? systemClock;
  return { stream, format: PHYSICAL_FORMAT, pitr: async () => info.meta(systemId, clock) };
}

/** Whether `dir` is missing (true), an empty directory (false), or else refused. */
async function checkEmpty(dir: string): Promise<boolean> {
  try {
    const names = await fsp.readdir(dir);
    if (names.length > 0)
      throw new SafeholdError(
        'RESTORE_TARGET',
        `${dir} is not empty: a physical restore needs an empty or new data directory`,
      );
    return false;
  } catch (e) {
    if (sysCode(e) === 'ENOENT') return true;
    if (sysCode(e) === 'ENOTDIR') throw new SafeholdError('RESTORE_TARGET', `${dir} is not a directory`);
    throw fromSystemError(e, `reading ${dir}`);
  }
}

async function removeRestored(dir: string, created: boolean): Promise<void> {
  if (created) {
    await fsp.rm(dir, { recursive: true, force: true }).catch(() => {});
    return;
  }
  for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
    await fsp.rm(path.join(dir, name), { recursive: true, force: true }).catch(() => {});
  }
}

/**
 * Extracts a 'pg_basebackup-tar' stream into `dataDir` (missing or empty), makes it a
 * valid data directory (mode 0700, owned like its files) and checks it is a base backup.
 * A failure removes what was extracted.
 */
export async function restorePhysical(
  input: Readable,
  dataDir: string,
  opts: { signal?: AbortSignal } = {},
): Promise<{ files: number; bytes: number }> {
  const created = await checkEmpty(dataDir);
  const onAbort = () =>
    input.destroy(new SafeholdError('CANCELLED', `the physical restore into ${dataDir} was cancelled`));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    opts.signal?.throwIfAborted();
    // The safe extraction of our tar reader (no member lands outside dataDir), on the plain tar.
    const result = await extractTar(input, dataDir, { plain: true });
    for (const must of ['PG_VERSION', 'global/pg_control', 'backup_label']) {
      await fsp.access(path.join(dataDir, must)).catch(() => {
        throw new SafeholdError('CORRUPT', `the archive is not a PostgreSQL base backup: it has no ${must}`);
      });
    }
    await fsp.chmod(dataDir, 0o700);
    if (process.getuid?.() === 0) {
      const st = await fsp.stat(path.join(dataDir, 'PG_VERSION'));
      await fsp.chown(dataDir, st.uid, st.gid);
    }
    return result;
  } catch (e) {
    await removeRestored(dataDir, created);
    if (opts.signal?.aborted)
      throw new SafeholdError('CANCELLED', `the physical restore into ${dataDir} was cancelled`, { cause: e });
    throw e instanceof SafeholdError ? e : fromSystemError(e, `restoring into ${dataDir}`);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
