// Backs up one byte stream (stdin, a database dump) as a snapshot holding a
// single file, chunked and deduplicated like any file; new chunks compress in
// parallel and, with groupBytes, are stored in groups (repository format §6.1).

import os from 'node:os';
import type { Readable } from 'node:stream';
import type { Repository } from '../../repo/repository.ts';
import { Chunker, gearTable } from '../../repo/chunker.ts';
import type { ChunkerParams } from '../../repo/chunker.ts';
import { encodeTree, unsafeName } from '../../repo/tree.ts';
import type { TreeNode } from '../../repo/tree.ts';
import { saveSnapshot } from '../../repo/snapshot.ts';
import type { Snapshot, SnapshotMeta } from '../../repo/snapshot.ts';
import { PROGRAM } from '../shared/program.ts';
import { removeLeftovers } from '../shared/leftovers.ts';
import type { BackupProgress, BackupResult } from './archiver.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { BlobCompression } from '../../repo/compression.ts';
import { OrderedSaver } from './ordered-saver.ts';

export interface StreamBackupOptions {
  filename: string;
  tags?: string[];
  progress?: BackupProgress;
  /** Stops reading (the input is destroyed, no snapshot is saved, the reason is thrown). */
  signal?: AbortSignal;
  /** Recorded with the snapshot (format, group, digest). */
  meta?: SnapshotMeta;
  /** Called once the stream has been read whole; what it returns is added to `meta` (a digest computed while the dump ran). */
  lateMeta?: () => Promise<SnapshotMeta>;
  /** Chunk sizes for this stream instead of the repository's (database dumps use smaller chunks: better dedup of changed rows). */
  chunker?: ChunkerParams;
  /** How this stream's blobs are compressed (repo/compression.ts); database dumps use 'dump'. */
  compression?: BlobCompression;
  /** Store new chunks in groups of about this many bytes, compressed together (0, the default: each alone). */
  groupBytes?: number;
}

export async function backupStream(
  repo: Repository,
  input: Readable,
  opts: StreamBackupOptions,
): Promise<BackupResult> {
  if (unsafeName(opts.filename))
    throw new SafeholdError(
      'USAGE',
      `--stdin-filename ${JSON.stringify(opts.filename)} must be a plain file name (no '/', not '.' or '..')`,
    );
  const started = repo.clock.now();
  await repo.loadIndex();
  await removeLeftovers(repo);
  const chunker = new Chunker(opts.chunker ?? repo.config.chunker, gearTable(repo.key.chunkerSeed));
  const content: string[] = [];
  let size = 0;
  const saver = new OrderedSaver(repo, opts.compression ?? 'default', opts.groupBytes ?? 0);
  const store = async (c: Uint8Array) => {
    content.push(await saver.save(c));
  };
  // A source that stalls is destroyed on abort, so the loop below ends at once.
  const onAbort = () =>
    input.destroy(opts.signal!.reason instanceof Error ? opts.signal!.reason : new Error(String(opts.signal!.reason)));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const piece of input) {
      opts.signal?.throwIfAborted();
      const buf = typeof piece === 'string' ? Buffer.from(piece) : (piece as Buffer);
      size += buf.length;
      if (opts.progress) opts.progress.bytesRead = size;
      for (const c of chunker.push(buf)) await store(c);
    }
    const last = chunker.finish();
    if (last) await store(last);
    await saver.drain();
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await saver.settle();
  }
  opts.signal?.throwIfAborted();
  const meta = opts.lateMeta ? { ...opts.meta, ...(await opts.lateMeta()) } : opts.meta;
  const ns = (BigInt(started) * 1_000_000n).toString();
  const node: TreeNode = {
    name: opts.filename,
    type: 'file',
    mode: 0o600,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    mtime: ns,
    ctime: ns,
    inode: 0,
    device: 0,
    links: 1,
    size,
    content,
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
    ...(meta ? { meta } : {}),
    program: PROGRAM,
    summary: {
      filesNew: 1,
      filesChanged: 0,
      filesUnchanged: 0,
      filesFailed: 0,
      dirs: 0,
      bytesRead: size,
      bytesAdded: repo.added.bytes,
      totalSize: size,
      totalFiles: 1,
      durationMs: repo.clock.now() - started,
    },
  };
  const id = await saveSnapshot(repo, snapshot);
  return { id, snapshot, errors: [] };
}
