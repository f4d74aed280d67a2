// Backs up one byte stream (stdin, a database dump) as a snapshot holding a
// single file, chunked and deduplicated like any file.

import os from 'node:os';
import type { Readable } from 'node:stream';
import type { Repository } from '../repo/repository.ts';
import { Chunker, gearTable } from '../repo/chunker.ts';
import type { ChunkerParams } from '../repo/chunker.ts';
import { encodeTree, unsafeName } from '../repo/tree.ts';
import type { TreeNode } from '../repo/tree.ts';
import { saveSnapshot } from '../repo/snapshot.ts';
import type { Snapshot, SnapshotMeta } from '../repo/snapshot.ts';
import { PROGRAM } from './program.ts';
import { removeLeftovers } from './archiver.ts';
import type { BackupProgress, BackupResult } from './archiver.ts';
import { SafeholdError } from '../core/errors.ts';

export interface StreamBackupOptions {
  filename: string;
  tags?: string[];
  progress?: BackupProgress;
  /** Stops reading (the input is destroyed, no snapshot is saved, the reason is thrown). */
  signal?: AbortSignal;
  /** Recorded with the snapshot (format, group, digest). */
  meta?: SnapshotMeta;
  /** Chunk sizes for this stream instead of the repository's (database dumps use smaller chunks: better dedup of changed rows). */
  chunker?: ChunkerParams;
  /** zstd level of this stream's blobs (default the repository's, 3); smaller chunks compress better at a higher level. */
  level?: number;
}

export async function backupStream(repo: Repository, input: Readable, opts: StreamBackupOptions): Promise<BackupResult> {
  if (unsafeName(opts.filename)) throw new SafeholdError('USAGE', `--stdin-filename ${JSON.stringify(opts.filename)} must be a plain file name (no '/', not '.' or '..')`);
  const started = repo.clock.now();
  await repo.loadIndex();
  await removeLeftovers(repo);
  const chunker = new Chunker(opts.chunker ?? repo.config.chunker, gearTable(repo.key.chunkerSeed));
  const content: string[] = [];
  let size = 0;
  const store = async (c: Uint8Array) => {
    content.push((await repo.saveBlob('data', c, undefined, opts.level !== undefined ? { level: opts.level } : {})).id);
  };
  // A source that stalls is destroyed on abort, so the loop below ends at once.
  const onAbort = () => input.destroy(opts.signal!.reason instanceof Error ? opts.signal!.reason : new Error(String(opts.signal!.reason)));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const piece of input) {
      opts.signal?.throwIfAborted();
      const buf = typeof piece === 'string' ? Buffer.from(piece) : (piece as Buffer);
      size += buf.length;
      if (opts.progress) opts.progress.bytesRead = size;
      for (const c of chunker.push(buf)) await store(c);
    }
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  const last = chunker.finish();
  if (last) await store(last);
  opts.signal?.throwIfAborted();
  const ns = (BigInt(started) * 1_000_000n).toString();
  const node: TreeNode = {
    name: opts.filename, type: 'file', mode: 0o600, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0,
    mtime: ns, ctime: ns, inode: 0, device: 0, links: 1, size, content,
  };
  const tree = (await repo.saveBlob('tree', encodeTree({ nodes: [node] }))).id;
  await repo.flush();
  const snapshot: Snapshot = {
    version: 1,
    time: new Date(started).toISOString(),
    tree,
    paths: [`/${opts.filename}`],
    hostname: os.hostname(),
    username: os.userInfo().username,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    tags: opts.tags ?? [],
    excludes: [],
    kind: 'stream',
    ...(opts.meta ? { meta: opts.meta } : {}),
    program: PROGRAM,
    summary: {
      filesNew: 1, filesChanged: 0, filesUnchanged: 0, filesFailed: 0, dirs: 0, bytesRead: size,
      bytesAdded: repo.added.bytes, totalSize: size, totalFiles: 1, durationMs: repo.clock.now() - started,
    },
  };
  const id = await saveSnapshot(repo, snapshot);
  return { id, snapshot, errors: [] };
}
