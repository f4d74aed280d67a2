// The repository: a deduplicating, compressing, encrypting store of blobs on a
// Backend. It owns the master key, the config, the index and the packs being
// written. Everything above (archiver, restorer, checker) uses only this.

import crypto from 'node:crypto';
import { createFile } from './backend/backend.ts';
import type { Backend, FileType, Handle } from './backend/backend.ts';
import { blobId, fileId, newMasterKey } from './crypto.ts';
import type { KdfParams, MasterKey } from './crypto.ts';
import { decodeObject, decompress, encodeObject } from './encoding.ts';
import { compressBlob } from './compression.ts';
import type { BlobCompression } from './compression.ts';
import { Index, blobKey, indexFileFor } from './index.ts';
import type { IndexEntry, IndexFile, Member } from './index.ts';
import { PackBuilder, openBlob, sealBlob } from './pack.ts';
import type { BlobType, PackEntry } from './pack.ts';
import { unlock, writeKeyFile } from './keys.ts';
import type { SkippedKey } from './keys.ts';
import { DEFAULT_CHUNKER_PARAMS, validateChunkerParams } from './chunker.ts';
import type { ChunkerParams } from './chunker.ts';
import { SafeholdError, isSafeholdError } from '../core/errors.ts';
import { systemClock } from '../core/clock.ts';
import { mapLimit } from '../core/concurrency.ts';
import type { Clock } from '../core/clock.ts';

export interface RepoConfig {
  version: 1;
  id: string;
  created: string;
  chunker: ChunkerParams;
  compression: 'zstd';
  packSize: number;
}

export interface InitOptions {
  chunker?: ChunkerParams;
  /**
   * The chunker seed of another repository (32 bytes), so that backups into
   * this one cut files at the same places and deduplicate against copies of
   * that repository's snapshots. The encryption and MAC keys stay new.
   */
  chunkerSeed?: Uint8Array;
  packSize?: number;
  kdf?: KdfParams;
  clock?: Clock;
}

export const DEFAULT_PACK_SIZE = 16 * 1024 * 1024;
const CONFIG_LABEL = 'config';
const MAX_UPLOADS = 2;
/** Decoded groups loadBlob keeps (each up to a few MiB). */
const GROUP_CACHE = 4;

/** A member of a group being added: its id and place in the group's plaintext. */
export interface GroupMember {
  id: string;
  start: number;
  length: number;
}

export class Repository {
  readonly backend: Backend;
  readonly key: MasterKey;
  readonly keyName: string;
  /** Key files skipped when opening (malformed or out-of-bounds scrypt parameters): worth a warning. */
  readonly skippedKeys: readonly SkippedKey[];
  readonly config: RepoConfig;
  readonly clock: Clock;
  readonly index = new Index();
  /** Blobs (by blobKey) in open or uploading packs, not yet in the index. */
  private readonly pending = new Set<string>();
  private readonly builders: Record<BlobType, PackBuilder>;
  /** Buffers of written packs, reused for the next ones (fewer large allocations, flat memory). */
  private readonly spareBuffers: Buffer[] = [];
  private readonly uploads = new Set<Promise<void>>();
  private unindexed: { id: string; entries: PackEntry[] }[] = [];
  /** Members of groups not yet indexed, by group id; indexed when the group's pack is stored. */
  private readonly groupMembers = new Map<string, GroupMember[]>();
  /** Members indexed since the last index file. */
  private unindexedMembers: ({ id: string } & Member)[] = [];
  /** The last groups decoded by loadBlob (reading members one by one decodes each group once). */
  private readonly groupCache = new Map<string, Promise<Buffer>>();
  /** The first failed upload: it leaves `uploads` when it ends, so flush() must still see it. */
  private uploadFailure: { reason: unknown } | undefined;
  private indexLoaded = false;
  /** Bytes stored (sealed, compressed) and blobs added by this process. */
  readonly added = { blobs: 0, bytes: 0, packs: 0 };

  private constructor(
    backend: Backend,
    key: MasterKey,
    keyName: string,
    config: RepoConfig,
    clock: Clock,
    skippedKeys: readonly SkippedKey[] = [],
  ) {
    this.backend = backend;
    this.key = key;
    this.keyName = keyName;
    this.skippedKeys = skippedKeys;
    this.config = config;
    this.clock = clock;
    this.builders = { data: this.newBuilder(), tree: this.newBuilder() };
  }

  private newBuilder(): PackBuilder {
    // Room for a full pack plus one largest blob and its header; pages are only
    // committed as they are written, so a small (tree) pack costs little.
    return new PackBuilder(
      this.spareBuffers.pop() ?? Buffer.allocUnsafeSlow(this.config.packSize + this.config.chunker.maxSize + (1 << 20)),
    );
  }

  static async init(backend: Backend, password: string, opts: InitOptions = {}): Promise<Repository> {
    if (await backend.exists())
      throw new SafeholdError('REPO_EXISTS', `a repository already exists at ${backend.location}`);
    const clock = opts.clock ?? systemClock;
    const chunker = opts.chunker ?? DEFAULT_CHUNKER_PARAMS;
    validateChunkerParams(chunker);
    const config: RepoConfig = {
      version: 1,
      id: crypto.randomBytes(16).toString('hex'),
      created: new Date(clock.now()).toISOString(),
      chunker,
      compression: 'zstd',
      packSize: opts.packSize ?? DEFAULT_PACK_SIZE,
    };
    if (opts.chunkerSeed && opts.chunkerSeed.length !== 32)
      throw new SafeholdError('INTERNAL', 'a chunker seed has 32 bytes');
    await removeInterruptedInit(backend);
    const master = newMasterKey();
    if (opts.chunkerSeed) master.chunkerSeed = Buffer.from(opts.chunkerSeed);
    await backend.create();
    let keyName = await writeKeyFile(backend, master, password, opts.kdf, clock.now());
    try {
      // Created, never replaced: of two inits racing on one location only one wins.
      await createFile(backend, { type: 'config', name: 'config' }, encodeObject(master.encrypt, CONFIG_LABEL, config));
    } catch (e) {
      if (!isSafeholdError(e, 'ALREADY_EXISTS')) throw e;
      throw new SafeholdError('REPO_EXISTS', `a repository already exists at ${backend.location}`, { cause: e });
    }
    // A racing init may have taken our key file for a leftover before our config existed: write it again.
    const keyStored = await backend.stat({ type: 'keys', name: keyName }).then(
      () => true,
      (e: unknown) => {
        if (isSafeholdError(e, 'NOT_FOUND')) return false;
        throw e;
      },
    );
    if (!keyStored) keyName = await writeKeyFile(backend, master, password, opts.kdf, clock.now());
    return new Repository(backend, master, keyName, config, clock);
  }

  static async open(backend: Backend, password: string, clock: Clock = systemClock): Promise<Repository> {
    // The load of the config is the existence check (one request, not a HEAD then a GET).
    const raw = await backend.load({ type: 'config', name: 'config' }).catch((e: unknown) => {
      if (!isSafeholdError(e, 'NOT_FOUND')) throw e;
      throw new SafeholdError('REPO_NOT_FOUND', `no repository at ${backend.location} (run 'safehold init' first)`);
    });
    const { name, master, skipped } = await unlock(backend, password);
    const config = decodeObject<RepoConfig>(master.encrypt, CONFIG_LABEL, raw, 'config');
    if (config.version !== 1)
      throw new SafeholdError('CORRUPT', `repository version ${config.version} is not supported`);
    return new Repository(backend, master, name, config, clock, skipped);
  }

  /** Writes a key file for a new password, then removes the one used to open. */
  async changePassword(newPassword: string, kdf?: KdfParams): Promise<string> {
    const name = await writeKeyFile(this.backend, this.key, newPassword, kdf, this.clock.now());
    await this.backend.remove({ type: 'keys', name: this.keyName });
    return name;
  }

  // ---- index -------------------------------------------------------------

  async loadIndex(): Promise<void> {
    if (this.indexLoaded) return;
    const files = await this.backend.list('index');
    await mapLimit(files, 8, async (f) => this.index.addFile(await this.loadFile<IndexFile>('index', f.name)));
    this.indexLoaded = true;
  }

  /** Drops the loaded index and reads it again (after prune rewrote it). Call with no writes pending. */
  async reloadIndex(): Promise<void> {
    this.index.clear();
    this.indexLoaded = false;
    await this.loadIndex();
  }

  /** True when the blob is stored or being stored. */
  knows(type: BlobType, id: string): boolean {
    return this.index.has(type, id) || this.pending.has(blobKey(type, id));
  }

  blobId(data: Uint8Array): string {
    return blobId(this.key.mac, data).toString('hex');
  }

  // ---- writing -----------------------------------------------------------

  /** Compresses, seals and stores a blob unless already known. Returns stored bytes added (0 when known). */
  async saveBlob(
    type: BlobType,
    data: Uint8Array,
    id = this.blobId(data),
    opts: { compression?: BlobCompression } = {},
  ): Promise<{ id: string; added: number }> {
    if (this.knows(type, id)) return { id, added: 0 };
    const { stored, rawLength } = compressBlob(data, opts.compression);
    return { id, added: await this.addSealed(type, id, sealBlob(this.key.encrypt, id, stored), rawLength) };
  }

  /**
   * Adds a group: one data blob (`groupId`, already compressed and sealed)
   * whose plaintext is `members` one after another. Each member becomes
   * readable by its own id. Returns stored bytes added.
   */
  async addGroup(
    groupId: string,
    sealed: Uint8Array,
    rawLength: number,
    members: readonly GroupMember[],
  ): Promise<number> {
    const fresh = members.filter((m) => !this.knows('data', m.id));
    if (fresh.length === 0) return 0;
    for (const m of fresh) this.pending.add(blobKey('data', m.id));
    if (this.index.storedId('data', groupId) === groupId) {
      // The same group is stored already (but not these members): only the index learns them.
      this.indexMembers(groupId, fresh);
      return 0;
    }
    this.groupMembers.set(groupId, [...(this.groupMembers.get(groupId) ?? []), ...fresh]);
    return this.addSealed('data', groupId, sealed, rawLength);
  }

  private indexMembers(groupId: string, members: readonly GroupMember[]): void {
    for (const m of members) {
      const member = { group: groupId, start: m.start, length: m.length };
      this.index.addMember(m.id, member);
      this.unindexedMembers.push({ id: m.id, ...member });
      this.pending.delete(blobKey('data', m.id));
    }
  }

  /** Adds a blob already compressed and sealed (by a worker). Returns stored bytes added. */
  async addSealed(type: BlobType, id: string, sealed: Uint8Array, rawLength: number): Promise<number> {
    if (this.knows(type, id)) return 0;
    this.pending.add(blobKey(type, id));
    const b = this.builders[type];
    b.add(type, id, sealed, rawLength);
    this.added.blobs++;
    this.added.bytes += sealed.length;
    if (b.size >= this.config.packSize) await this.rotate(type);
    return sealed.length;
  }

  private async rotate(type: BlobType): Promise<void> {
    const b = this.builders[type];
    if (b.count === 0) return;
    this.builders[type] = this.newBuilder();
    while (this.uploads.size >= MAX_UPLOADS) await Promise.race(this.uploads);
    const bytes = b.finish(this.key.encrypt);
    const id = fileId(bytes);
    const p: Promise<void> = this.backend.save(packHandle(id, type), bytes).then(() => {
      this.index.addPack(id, b.entries);
      for (const e of b.entries) {
        this.pending.delete(blobKey(e.type, e.id));
        const members = e.type === 'data' ? this.groupMembers.get(e.id) : undefined;
        if (members) {
          this.groupMembers.delete(e.id);
          this.indexMembers(e.id, members);
        }
      }
      this.unindexed.push({ id, entries: b.entries });
      this.added.packs++;
      if (this.spareBuffers.length < MAX_UPLOADS) this.spareBuffers.push(b.buffer);
    });
    const tracked = p.finally(() => this.uploads.delete(tracked));
    this.uploads.add(tracked);
    // Surface failures: remembered here and thrown by flush(), also when the upload ended long before.
    tracked.catch((reason: unknown) => {
      this.uploadFailure ??= { reason };
    });
  }

  /** Writes open packs, waits for uploads, then writes one index file for the new packs. */
  async flush(): Promise<void> {
    await this.rotate('data');
    await this.rotate('tree');
    const results = await Promise.allSettled([...this.uploads]);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    if (this.uploadFailure) throw this.uploadFailure.reason;
    if (this.unindexed.length > 0 || this.unindexedMembers.length > 0) {
      const packs = this.unindexed;
      const members = this.unindexedMembers;
      this.unindexed = [];
      this.unindexedMembers = [];
      await this.saveFile('index', indexFileFor(packs, members));
    }
  }

  // ---- reading -----------------------------------------------------------

  lookup(type: BlobType, id: string): IndexEntry {
    const e = this.index.get(type, id);
    if (!e) throw new SafeholdError('CORRUPT', `${type} blob ${id.slice(0, 12)} is not in the index`);
    return e;
  }

  async loadBlob(type: BlobType, id: string): Promise<Buffer> {
    const e = this.lookup(type, id);
    if (!e.member) {
      const sealed = await this.backend.load(packHandle(e.pack, type), e.offset, e.length);
      return this.decodeBlob(id, e, sealed);
    }
    const { group } = e.member;
    let pending = this.groupCache.get(group);
    if (!pending) {
      // Cached as a promise: concurrent readers of one group's members share one read.
      pending = this.backend
        .load({ type: 'data', name: e.pack }, e.offset, e.length)
        .then((sealed) => this.decodeBlob(group, e, sealed));
      this.groupCache.set(group, pending);
      pending.catch(() => this.groupCache.delete(group));
      if (this.groupCache.size > GROUP_CACHE) this.groupCache.delete(this.groupCache.keys().next().value!);
    }
    return memberOf(this.key.mac, await pending, id, e.member);
  }

  /** Opens a sealed blob, decompresses it and verifies its id. */
  decodeBlob(id: string, e: { rawLength: number }, sealed: Uint8Array): Buffer {
    return decodeBlobWith(this.key.encrypt, this.key.mac, id, e.rawLength, sealed);
  }

  // ---- small files -------------------------------------------------------

  /**
   * Stores a small file under the hash of its bytes. With `create` (locks) it
   * is created, never written over (saveNew where the backend has it); a file
   * of that name already holds these very bytes, so that is not an error.
   */
  async saveFile(type: FileType, value: unknown, opts: { create?: boolean } = {}): Promise<string> {
    const bytes = encodeObject(this.key.encrypt, type, value);
    const name = fileId(bytes);
    if (!opts.create) {
      await this.backend.save({ type, name }, bytes);
      return name;
    }
    try {
      await createFile(this.backend, { type, name }, bytes);
    } catch (e) {
      if (!isSafeholdError(e, 'ALREADY_EXISTS')) throw e;
    }
    return name;
  }

  async loadFile<T>(type: FileType, name: string): Promise<T> {
    const bytes = await this.backend.load({ type, name });
    if (fileId(bytes) !== name) throw new SafeholdError('CORRUPT', `${type}/${name}: content does not match its name`);
    return decodeObject<T>(this.key.encrypt, type, bytes, `${type}/${name.slice(0, 12)}`);
  }

  async close(): Promise<void> {
    await this.backend.close();
  }
}

/** The handle of a pack; packs of tree blobs carry the `metadata` hint for caches. */
function packHandle(name: string, type: BlobType): Handle {
  return type === 'tree' ? { type: 'data', name, metadata: true } : { type: 'data', name };
}

/**
 * Key files without a config are what an init killed between its two writes
 * leaves: they wrap a master key nothing else uses, and a second key would
 * make opening ambiguous. Removed, unless data is there too (a damaged
 * repository, which init must not touch).
 */
async function removeInterruptedInit(backend: Backend): Promise<void> {
  const keys = await backend.list('keys');
  if (keys.length === 0) return;
  for (const t of ['data', 'index', 'snapshots', 'wal'] as const) {
    if ((await backend.list(t)).length > 0) {
      throw new SafeholdError(
        'REPO_EXISTS',
        `${backend.location} holds repository data but no config: it looks damaged, not empty; refusing to init over it`,
      );
    }
  }
  // Another init may have finished meanwhile: its key is not a leftover.
  if (await backend.exists())
    throw new SafeholdError('REPO_EXISTS', `a repository already exists at ${backend.location}`);
  for (const k of keys) await backend.remove({ type: 'keys', name: k.name });
}

/**
 * A member's bytes out of its group's decoded plaintext (usable in worker
 * threads): CORRUPT when the range lies outside the group or, with
 * `verifyId`, when the bytes do not match the member's keyed id.
 */
export function memberOf(mac: Buffer, group: Buffer, id: string, m: Member, verifyId = true): Buffer {
  if (m.start + m.length > group.length)
    throw new SafeholdError('CORRUPT', `data blob ${id.slice(0, 12)}: outside its group ${m.group.slice(0, 12)}`);
  const data = group.subarray(m.start, m.start + m.length);
  if (verifyId && blobId(mac, data).toString('hex') !== id) {
    throw new SafeholdError(
      'CORRUPT',
      `data blob ${id.slice(0, 12)}: content does not match its id (member of group ${m.group.slice(0, 12)})`,
    );
  }
  return data;
}

/**
 * Opens a sealed blob and decompresses it, given the keys (usable in worker
 * threads). Authenticity comes from AES-GCM with the id as associated data:
 * only the key holder can seal a blob for an id. `verifyId` also recomputes
 * the keyed id from the content (check does; restores need not).
 */
export function decodeBlobWith(
  encrypt: Buffer,
  mac: Buffer,
  id: string,
  rawLength: number,
  sealed: Uint8Array,
  verifyId = true,
): Buffer {
  const stored = openBlob(encrypt, id, sealed);
  const data = rawLength > 0 ? decompress(stored, rawLength, `blob ${id.slice(0, 12)}`) : stored;
  if (verifyId && blobId(mac, data).toString('hex') !== id)
    throw new SafeholdError('CORRUPT', `blob ${id.slice(0, 12)}: content does not match its id`);
  return data;
}
