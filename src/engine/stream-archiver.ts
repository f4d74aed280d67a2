// Backs up one byte stream (stdin, a database dump) as a snapshot holding a
// single file, chunked and deduplicated like any file; new chunks compress in
// parallel and, with groupBytes, are stored in groups (repository format §6.1).

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
import { compressBlobAsync } from '../repo/compression.ts';
import type { BlobCompression } from '../repo/compression.ts';
import { sealBlob } from '../repo/pack.ts';
import type { GroupMember } from '../repo/repository.ts';

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

/** Chunks or groups being compressed at once (on libuv's thread pool); bounds memory to this many. */
const IN_FLIGHT = 8;

export async function backupStream(repo: Repository, input: Readable, opts: StreamBackupOptions): Promise<BackupResult> {
  if (unsafeName(opts.filename)) throw new SafeholdError('USAGE', `--stdin-filename ${JSON.stringify(opts.filename)} must be a plain file name (no '/', not '.' or '..')`);
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
    ...(meta ? { meta } : {}),
    program: PROGRAM,
    summary: {
      filesNew: 1, filesChanged: 0, filesUnchanged: 0, filesFailed: 0, dirs: 0, bytesRead: size,
      bytesAdded: repo.added.bytes, totalSize: size, totalFiles: 1, durationMs: repo.clock.now() - started,
    },
  };
  const id = await saveSnapshot(repo, snapshot);
  return { id, snapshot, errors: [] };
}

/** What one queue slot stores: a lone chunk, or a group of chunks compressed together. */
interface Queued {
  id: string;
  ids: string[];
  members: GroupMember[] | null;
  sealed: Promise<{ sealed: Uint8Array; rawLength: number }>;
}

/**
 * Stores new chunks in stream order: compressed in parallel on the thread
 * pool, at most IN_FLIGHT slots at a time. With `groupBytes` > 0, new chunks
 * are gathered into groups of about that many bytes, each stored as one blob
 * whose members are the chunks (index.ts): the dedup unit stays the chunk,
 * the compression unit becomes the group. A chunk already in the repository,
 * or already queued here, is not stored again.
 */
class OrderedSaver {
  readonly #repo: Repository;
  readonly #compression: BlobCompression;
  readonly #groupBytes: number;
  readonly #queue: Queued[] = [];
  readonly #queued = new Set<string>();
  #open: { id: string; data: Uint8Array }[] = [];
  #openBytes = 0;

  constructor(repo: Repository, compression: BlobCompression, groupBytes: number) {
    this.#repo = repo;
    this.#compression = compression;
    this.#groupBytes = groupBytes;
  }

  /** Returns the chunk's id; its blob is added by a later save() or by drain(). */
  async save(chunk: Uint8Array): Promise<string> {
    const id = this.#repo.blobId(chunk);
    if (this.#repo.knows('data', id) || this.#queued.has(id)) return id;
    this.#queued.add(id);
    this.#open.push({ id, data: chunk });
    this.#openBytes += chunk.length;
    if (this.#openBytes >= this.#groupBytes) await this.#submit();
    return id;
  }

  /** Starts compressing the open chunks: alone when there is one, else as a group. */
  async #submit(): Promise<void> {
    const chunks = this.#open;
    this.#open = [];
    this.#openBytes = 0;
    if (chunks.length === 0) return;
    while (this.#queue.length >= IN_FLIGHT) await this.#next();
    const key = this.#repo.key.encrypt;
    const compress = (id: string, plain: Uint8Array) => compressBlobAsync(plain, this.#compression)
      .then(({ stored, rawLength }) => ({ sealed: sealBlob(key, id, stored), rawLength }));
    let q: Queued;
    if (chunks.length === 1) {
      const { id, data } = chunks[0]!;
      q = { id, ids: [id], members: null, sealed: compress(id, data) };
    } else {
      const plain = Buffer.concat(chunks.map((c) => c.data));
      const id = this.#repo.blobId(plain);
      let start = 0;
      const members = chunks.map((c) => ({ id: c.id, start: (start += c.data.length) - c.data.length, length: c.data.length }));
      q = { id, ids: chunks.map((c) => c.id), members, sealed: compress(id, plain) };
    }
    // A failure is thrown by #next(); until then it must not count as unhandled.
    q.sealed.catch(() => undefined);
    this.#queue.push(q);
  }

  async #next(): Promise<void> {
    const head = this.#queue.shift()!;
    const { sealed, rawLength } = await head.sealed;
    if (head.members) await this.#repo.addGroup(head.id, sealed, rawLength, head.members);
    else await this.#repo.addSealed('data', head.id, sealed, rawLength);
    for (const id of head.ids) this.#queued.delete(id);
  }

  /** Adds every chunk saved so far. */
  async drain(): Promise<void> {
    await this.#submit();
    while (this.#queue.length > 0) await this.#next();
  }

  /** After a failure: waits for compressions still running, so none outlives the backup. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.#queue.map((q) => q.sealed));
  }
}
