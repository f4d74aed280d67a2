// The index: where each blob is stored (pack, offset, length). Loaded from
// all index files into memory; new packs are added as they are written and
// saved as a new index file on flush. Index files are sealed, compressed JSON.
// Blobs are keyed by type and id: a file whose bytes equal a tree's encoding
// has the same id, but is a different blob.
// A data blob may also be a *member* of a group: a stored data blob whose
// plaintext is several chunks one after another, compressed together (see
// stream-archiver.ts). Looking a member up gives its group's location plus the
// member's byte range in the group's plaintext.

import type { BlobType, PackEntry } from './pack.ts';
import { OVERHEAD as SEAL_OVERHEAD } from './crypto.ts';

/** Where a member's bytes are in its group's plaintext. */
export interface Member {
  group: string;
  start: number;
  length: number;
}

export interface IndexEntry {
  pack: string;
  type: BlobType;
  offset: number;
  length: number;
  rawLength: number;
  /** Set for a member of a group: the fields above are then the group's. */
  member?: Member;
}

export interface IndexFile {
  version: 1;
  packs: { id: string; blobs: { id: string; type: BlobType; offset: number; length: number; raw: number }[] }[];
  /** Data blobs stored inside group blobs (absent when there are none). */
  members?: ({ id: string } & Member)[];
}

export class Index {
  private readonly blobs = new Map<string, IndexEntry>();
  private readonly packSet = new Set<string>();
  /** Members by data blob id. */
  private readonly memberMap = new Map<string, Member>();

  /** Stored blobs (groups count once, their members not). */
  get size(): number {
    return this.blobs.size;
  }
  clear(): void {
    this.blobs.clear();
    this.packSet.clear();
    this.memberMap.clear();
  }
  /** A stored blob, or a member of a stored group (type 'data' only). */
  get(type: BlobType, id: string): IndexEntry | undefined {
    const e = this.blobs.get(blobKey(type, id));
    if (e || type !== 'data') return e;
    const m = this.memberMap.get(id);
    const g = m && this.blobs.get(blobKey('data', m.group));
    return g && { ...g, member: m };
  }
  /** Like get() !== undefined, without building a member's entry (backups ask this of every chunk). */
  has(type: BlobType, id: string): boolean {
    if (this.blobs.has(blobKey(type, id))) return true;
    const m = type === 'data' ? this.memberMap.get(id) : undefined;
    return m !== undefined && this.blobs.has(blobKey('data', m.group));
  }
  /** The id of the stored blob that holds this blob: itself, or its group; undefined when neither is indexed. */
  storedId(type: BlobType, id: string): string | undefined {
    return this.blobs.has(blobKey(type, id)) ? id : this.get(type, id)?.member?.group;
  }
  addMember(id: string, m: Member): void {
    if (!this.memberMap.has(id)) this.memberMap.set(id, { group: m.group, start: m.start, length: m.length });
  }
  /** Every member: [id, member] (also those whose group is not indexed). */
  members(): IterableIterator<[string, Member]> {
    return this.memberMap.entries();
  }
  hasPack(pack: string): boolean {
    return this.packSet.has(pack);
  }
  packs(): IterableIterator<string> {
    return this.packSet.values();
  }
  /** Every blob: [id, entry]. */
  *entries(): IterableIterator<[string, IndexEntry]> {
    for (const [k, e] of this.blobs) yield [k.slice(1), e];
  }

  addPack(pack: string, entries: readonly PackEntry[]): void {
    this.packSet.add(pack);
    for (const e of entries) {
      const k = blobKey(e.type, e.id);
      if (!this.blobs.has(k))
        this.blobs.set(k, { pack, type: e.type, offset: e.offset, length: e.length, rawLength: e.rawLength });
    }
  }

  addFile(f: IndexFile): void {
    for (const p of f.packs) {
      this.addPack(
        p.id,
        p.blobs.map((b) => ({ id: b.id, type: b.type, offset: b.offset, length: b.length, rawLength: b.raw })),
      );
    }
    for (const m of f.members ?? []) this.addMember(m.id, m);
  }

  /** Groups entries by pack. */
  byPack(): Map<string, (IndexEntry & { id: string })[]> {
    const m = new Map<string, (IndexEntry & { id: string })[]>();
    for (const [id, e] of this.entries()) {
      let l = m.get(e.pack);
      if (!l) m.set(e.pack, (l = []));
      l.push({ id, ...e });
    }
    return m;
  }
}

export function indexFileFor(
  packs: { id: string; entries: readonly PackEntry[] }[],
  members: readonly ({ id: string } & Member)[] = [],
): IndexFile {
  return {
    version: 1,
    packs: packs.map((p) => ({
      id: p.id,
      blobs: p.entries.map((e) => ({ id: e.id, type: e.type, offset: e.offset, length: e.length, raw: e.rawLength })),
    })),
    ...(members.length > 0
      ? { members: members.map((m) => ({ id: m.id, group: m.group, start: m.start, length: m.length })) }
      : {}),
  };
}

/** Plaintext length of a blob given its entry (a member's own length, not its group's). */
export function plainLength(e: IndexEntry): number {
  if (e.member) return e.member.length;
  return e.rawLength > 0 ? e.rawLength : e.length - SEAL_OVERHEAD;
}

/** Map key of a blob: one letter for the type, then the id. */
export function blobKey(type: BlobType, id: string): string {
  return (type === 'tree' ? 't' : 'd') + id;
}
