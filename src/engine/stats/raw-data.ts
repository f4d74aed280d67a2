// The raw data snapshot trees use: the distinct blobs (file content and
// trees) reachable from them, their plaintext size and what they take in
// the repository (sealed and compressed; a group of small blobs counts once,
// whole, for any of its members). Each tree is walked once per collection.

import type { Repository } from '../../repo/repository.ts';
import { loadTree } from '../../repo/tree.ts';
import { plainLength } from '../../repo/index.ts';

export interface RawData {
  /** Distinct data blobs (file content chunks). */
  dataBlobs: number;
  /** Distinct tree blobs (directory listings). */
  treeBlobs: number;
  /** Their plaintext bytes (data and trees): what deduplication left to store. */
  bytes: number;
  /** Of which file content (data blobs). */
  dataBytes: number;
  /** What they take in the repository, compressed and sealed. */
  storedBytes: number;
}

/** The distinct blobs reachable from some trees: add roots, then measure. */
export class BlobCollector {
  private readonly repo: Repository;
  readonly trees = new Set<string>();
  readonly data = new Set<string>();

  constructor(repo: Repository) {
    this.repo = repo;
  }

  /** Adds every blob reachable from tree `id` (subtrees already added are skipped). */
  async add(id: string): Promise<void> {
    if (this.trees.has(id)) return;
    this.trees.add(id);
    for (const n of (await loadTree(this.repo, id)).nodes) {
      if (n.type === 'file') for (const b of n.content ?? []) this.data.add(b);
      else if (n.type === 'dir' && n.subtree) await this.add(n.subtree);
    }
  }

  /** Sizes of the blobs collected, from the index (CORRUPT when one is not in it). */
  measure(): RawData {
    let bytes = 0;
    let storedBytes = 0;
    const groups = new Set<string>();
    for (const id of this.trees) {
      const e = this.repo.lookup('tree', id);
      bytes += plainLength(e);
      storedBytes += e.length;
    }
    let dataBytes = 0;
    for (const id of this.data) {
      const e = this.repo.lookup('data', id);
      dataBytes += plainLength(e);
      if (!e.member) storedBytes += e.length;
      else if (!groups.has(e.member.group)) {
        groups.add(e.member.group);
        storedBytes += e.length;
      }
    }
    return { dataBlobs: this.data.size, treeBlobs: this.trees.size, bytes: bytes + dataBytes, dataBytes, storedBytes };
  }
}
