// `pg backup`: a base backup of a whole PostgreSQL server (pg_basebackup,
// with the WAL it needs to be consistent inside) saved as a stream snapshot
// that records the cluster's system identifier and WAL range, so that
// point-in-time recovery can start from it and replay archived WAL.

import { backupStream } from '../../engine/backup/stream-archiver.ts';
import type { BackupProgress, BackupResult } from '../../engine/backup/archiver.ts';
import type { Repository } from '../../repo/repository.ts';
import { SafeholdError } from '../../core/errors.ts';
import { physicalBackup } from '../../drivers/db/postgres-physical.ts';
import { pgTarget } from '../../drivers/pg-ha/pg-target.ts';

export interface BaseBackupOptions {
  readonly url: string;
  readonly tags?: readonly string[];
  readonly signal?: AbortSignal;
  readonly progress?: BackupProgress;
  /** Directory of pg_basebackup (default: on PATH). */
  readonly binDir?: string;
}

export async function pgBaseBackup(repo: Repository, o: BaseBackupOptions): Promise<BackupResult> {
  const t = pgTarget(o.url);
  const cfg = {
    name: t.where,
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password,
    timeoutMs: 30_000,
    ...(o.binDir ? { binDir: o.binDir } : {}),
  };
  const b = await physicalBackup(cfg, { signal: o.signal, clock: repo.clock });
  try {
    const r = await backupStream(repo, b.stream, {
      filename: `${t.host.replace(/[^\w.-]+/g, '_')}-${t.port}-base.tar`,
      tags: [...(o.tags ?? [])],
      signal: o.signal,
      ...(o.progress ? { progress: o.progress } : {}),
      meta: { format: b.format, online: true },
      lateMeta: async () => {
        const pitr = await b.pitr();
        if (!pitr)
          throw new SafeholdError(
            'IO',
            `the base backup of ${t.where} did not report its WAL range or system identifier: it cannot serve point-in-time recovery`,
          );
        return { pitr };
      },
    });
    return r;
  } catch (e) {
    b.stream.destroy();
    throw e;
  }
}
