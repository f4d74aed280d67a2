// Reads back a stream snapshot (a database dump, stdin): the one file it
// holds, as a Readable that loads its blobs in order with backpressure, so a
// restore pipes gigabytes through without holding them in memory.

import { Readable } from 'node:stream';
import type { Repository } from '../../repo/repository.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { loadTree } from '../../repo/tree.ts';
import { SafeholdError } from '../../core/errors.ts';

export interface StreamSnapshot {
  /** The file name recorded at backup (e.g. 'pg-main-app.bak'). */
  name: string;
  size: number;
  stream: Readable;
}

export async function openStreamSnapshot(repo: Repository, snap: SnapshotWithId): Promise<StreamSnapshot> {
  if (snap.kind !== 'stream')
    throw new SafeholdError(
      'USAGE',
      `snapshot ${snap.id.slice(0, 8)} is a files snapshot, not a stream (dump) snapshot`,
    );
  await repo.loadIndex();
  const tree = await loadTree(repo, snap.tree);
  const node = tree.nodes[0];
  if (node?.type !== 'file') throw new SafeholdError('CORRUPT', `stream snapshot ${snap.id.slice(0, 8)} holds no file`);
  const ids = node.content ?? [];
  async function* blobs(): AsyncGenerator<Buffer> {
    for (const id of ids) yield await repo.loadBlob('data', id);
  }
  return { name: node.name, size: node.size, stream: Readable.from(blobs(), { objectMode: false, highWaterMark: 1 }) };
}
