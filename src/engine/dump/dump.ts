// safehold dump: one entry of a snapshot written to a stream: a file's
// content as it is, a directory (or any other entry) as a tar stream
// (dump-tar.ts). The stream is not ended: the caller owns it.

import type { Writable } from 'node:stream';
import type { Repository } from '../../repo/repository.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { nodeAt } from '../walk/tree-walk.ts';
import { contentLength, readContent } from './content-reader.ts';
import { dumpTar } from './dump-tar.ts';
import { put } from './sink.ts';
import { SafeholdError } from '../../core/errors.ts';

export interface DumpResult {
  /** The entry's absolute path in the snapshot. */
  path: string;
  /** What was written: the file's content, or a tar stream. */
  format: 'file' | 'tar';
  /** Bytes of file content written (for a tar: of every member). */
  bytes: number;
  /** Tar members written (1 for a file). */
  entries: number;
  /** Entries a tar cannot hold, left out. */
  skipped: { path: string; type: string }[];
}

export async function dump(repo: Repository, snap: SnapshotWithId, p: string, out: Writable): Promise<DumpResult> {
  if (!p.startsWith('/'))
    throw new SafeholdError('USAGE', `give the path as it is in the snapshot, from '/' (got ${p})`);
  const at = await nodeAt(repo, snap.tree, p);
  if (at.node.type !== 'file') {
    const r = await dumpTar(repo, at, out);
    return { path: at.path, format: 'tar', ...r };
  }
  const content = at.node.content ?? [];
  const size = contentLength(repo, content);
  let bytes = 0;
  for await (const b of readContent(repo, content)) {
    await put(out, b);
    bytes += b.length;
  }
  if (bytes !== size)
    throw new SafeholdError('CORRUPT', `${at.path}: content is ${bytes} bytes, the index said ${size}`);
  return { path: at.path, format: 'file', bytes, entries: 1, skipped: [] };
}
