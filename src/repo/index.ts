// The index: where each blob is stored (pack, offset, length). Loaded from
// all index files into memory; new packs are added as they are written and
// saved as a new index file on flush. Index files are sealed, compressed JSON.
// Blobs are keyed by type and id: a file whose bytes equal a tree's encoding
// has the same id, but is a different blob.

import type { BlobType, PackEntry } from './pack.ts';

export interface IndexEntry {
  pack: string;
  type: BlobType;
  offset: number;
  length: number;
  rawLength: number;
}

export interface IndexFile {
  version: 1;
  packs: { id: string; blobs: { id: string; type: BlobType; offset: number; length: number; raw: number }[] }[];
}

export class Index {
  private readonly blobs = new Map<string, IndexEntry>();
  private readonly packSet = new Set<string>();

  get size(): number { return this.blobs.size; }
  clear(): void {
    this.blobs.clear();
    this.packSet.clear();
  }
  get(type: BlobType, id: string): IndexEntry | undefined { return this.blobs.get(blobKey(type, id)); }
  has(type: BlobType, id: string): boolean { return this.blobs.has(blobKey(type, id)); }
  hasPack(pack: string): boolean { return this.packSet.has(pack); }
  packs(): IterableIterator<string> { return this.packSet.values(); }
  /** Every blob: [id, entry]. */
  *entries(): IterableIterator<[string, IndexEntry]> {
    for (const [k, e] of this.blobs) yield [k.slice(1), e];
  }

  addPack(pack: string, entries: readonly PackEntry[]): void {
    this.packSet.add(pack);
    for (const e of entries) {
      const k = blobKey(e.type, e.id);
      if (!this.blobs.has(k)) this.blobs.set(k, { pack, type: e.type, offset: e.offset, length: e.length, rawLength: e.rawLength });
    }
  }

  addFile(f: IndexFile): void {
    for (const p of f.packs) {
      this.addPack(p.id, p.blobs.map((b) => ({ id: b.id, type: b.type, offset: b.offset, length: b.length, rawLength: b.raw })));
    }
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

export function indexFileFor(packs: { id: string; entries: readonly PackEntry[] }[]): IndexFile {
  return {
    version: 1,
    packs: packs.map((p) => ({ id: p.id, blobs: p.entries.map((e) => ({ id: e.id, type: e.type, offset: e.offset, length: e.length, raw: e.rawLength })) })),
  };
}

/** Map key of a blob: one letter for the type, then the id. */
export function blobKey(type: BlobType, id: string): string {
  return (type === 'tree' ? 't' : 'd') + id;
}
