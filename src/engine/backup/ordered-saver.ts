// Stores new data blobs of one stream in order, compressed in parallel on
// libuv's thread pool, optionally gathered into groups (repository format
// §6.1). Used by the stream archiver (dumps) and by copy (which regroups the
// members of a source's groups in the destination).

import type { Repository } from '../../repo/repository.ts';
import type { GroupMember } from '../../repo/repository.ts';
import { compressBlobAsync } from '../../repo/compression.ts';
import type { BlobCompression } from '../../repo/compression.ts';
import { sealBlob } from '../../repo/pack.ts';

/** Group size of dumps (and of copies of their members): about restic's 1 MiB blobs. */
export const GROUP_BYTES = 1024 * 1024;
/** Chunks or groups being compressed at once; bounds memory to this many. */
const IN_FLIGHT = 8;

/** What one queue slot stores: a lone chunk, or a group of chunks compressed together. */
interface Queued {
  id: string;
  /** The group's members; null for a lone chunk (stored as `id` itself). */
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
export class OrderedSaver {
  readonly #repo: Repository;
  readonly #compression: BlobCompression;
  readonly #groupBytes: number;
  readonly #queue: Queued[] = [];
  readonly #queued = new Set<string>();
  #open: { id: string; data: Uint8Array }[] = [];
  #openBytes = 0;
  readonly #onAdded: (bytes: number) => void;

  /** `onAdded` hears the stored bytes of each blob or group added. */
  constructor(
    repo: Repository,
    compression: BlobCompression,
    groupBytes: number,
    onAdded: (bytes: number) => void = () => {},
  ) {
    this.#repo = repo;
    this.#compression = compression;
    this.#groupBytes = groupBytes;
    this.#onAdded = onAdded;
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
    const compress = (id: string, plain: Uint8Array) =>
      compressBlobAsync(plain, this.#compression).then(({ stored, rawLength }) => ({
        sealed: sealBlob(key, id, stored),
        rawLength,
      }));
    let q: Queued;
    if (chunks.length === 1) {
      const { id, data } = chunks[0]!;
      q = { id, members: null, sealed: compress(id, data) };
    } else {
      const plain = Buffer.concat(chunks.map((c) => c.data));
      const id = this.#repo.blobId(plain);
      const members: GroupMember[] = [];
      let start = 0;
      for (const c of chunks) {
        members.push({ id: c.id, start, length: c.data.length });
        start += c.data.length;
      }
      q = { id, members, sealed: compress(id, plain) };
    }
    // A failure is thrown by #next(); until then it must not count as unhandled.
    q.sealed.catch(() => undefined);
    this.#queue.push(q);
  }

  async #next(): Promise<void> {
    const head = this.#queue.shift()!;
    const { sealed, rawLength } = await head.sealed;
    const added = head.members
      ? await this.#repo.addGroup(head.id, sealed, rawLength, head.members)
      : await this.#repo.addSealed('data', head.id, sealed, rawLength);
    if (added > 0) this.#onAdded(added);
    for (const m of head.members ?? [head]) this.#queued.delete(m.id);
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
