// The index: where each blob is stored (pack, offset, length). Loaded from
// all index files into memory; new packs are added as they are written and
// saved as a new index file on flush. Index files are sealed, compressed JSON.

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
  get(id: string): IndexEntry | undefined { return this.blobs.get(id); }
  has(id: string): boolean { return this.blobs.has(id); }
  hasPack(pack: string): boolean { return this.packSet.has(pack); }
  packs(): IterableIterator<string> { return this.packSet.values(); }
  entries(): IterableIterator<[string, IndexEntry]> { return this.blobs.entries(); }

  addPack(pack: string, entries: readonly PackEntry[]): void {
    this.packSet.add(pack);
    for (const e of entries) {
      if (!this.blobs.has(e.id)) this.blobs.set(e.id, { pack, type: e.type, offset: e.offset, length: e.length, rawLength: e.rawLength });
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
    for (const [id, e] of this.blobs) {
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
