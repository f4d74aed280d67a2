// `pg archive-get`: the restore_command side. Fetches one archived WAL file
// of the server's cluster (its data directory's pg_control, or --cluster)
// and writes it where the server asked (%p), whole or not at all: a
// temporary file in the same directory, synced, then renamed. A file that is
// not in the archive is reported as missing (the server then tries its other
// sources or ends recovery); one that fails its check is an error.

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { SafeholdError, fromSystemError } from '../../core/errors.ts';
import type { Repository } from '../../repo/repository.ts';
import { loadWalFile } from '../../repo/wal-file.ts';
import { segmentHeader } from './pg-control.ts';
import { serverCluster, storedWalName, walNameOrThrow } from './wal-push.ts';
import type { WalFileOptions } from './wal-push.ts';

export interface GetResult {
  readonly file: string;
  readonly cluster: string;
  readonly bytes: number;
}

/** Writes `data` to `dest` atomically (temp file beside it, fsync, rename). */
async function writeWhole(dest: string, data: Uint8Array): Promise<void> {
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.safehold-${process.pid}.tmp`);
  try {
    const fh = await fsp.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, dest);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw fromSystemError(e, `writing ${dest}`);
  }
}

/** Fetches WAL file `file` of the server's cluster into `destPath` (relative to the data directory, as %p is). */
export async function getWal(
  repo: Repository,
  file: string,
  destPath: string,
  o: WalFileOptions = {},
): Promise<GetResult> {
  const wal = walNameOrThrow(file);
  const cluster = await serverCluster(o);
  if (cluster === null)
    throw new SafeholdError(
      'USAGE',
      `cannot tell which cluster to fetch ${file} for: run in the server's data directory, or give --pgdata DIR or --cluster ID`,
    );
  const data = await loadWalFile(repo, storedWalName(cluster, file));
  if (wal.kind === 'segment' || wal.kind === 'partial') {
    const h = segmentHeader(data.subarray(0, 64));
    if (h.systemId !== cluster)
      throw new SafeholdError('CORRUPT', `archived ${file} belongs to cluster ${h.systemId}, not ${cluster}`);
  }
  await writeWhole(path.resolve(o.pgdata ?? process.cwd(), destPath), data);
  return { file, cluster, bytes: data.length };
}
