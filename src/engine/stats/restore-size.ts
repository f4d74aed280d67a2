// The restore size of snapshot trees: what a restore would write, counted per
// entry (a file's size for each of its names, hard links included). A tree's
// counts depend on its id only, so each distinct tree is counted once however
// many snapshots and places hold it.

import type { Repository } from '../../repo/repository.ts';
import { loadTree } from '../../repo/tree.ts';

export interface RestoreSize {
  files: number;
  dirs: number;
  symlinks: number;
  /** Fifos, sockets and devices. */
  other: number;
  /** Sum of the regular files' sizes. */
  bytes: number;
}

export function emptyRestoreSize(): RestoreSize {
  return { files: 0, dirs: 0, symlinks: 0, other: 0, bytes: 0 };
}

export function addRestoreSize(into: RestoreSize, x: RestoreSize): void {
  into.files += x.files;
  into.dirs += x.dirs;
  into.symlinks += x.symlinks;
  into.other += x.other;
  into.bytes += x.bytes;
}

/** Counts trees by id, remembering each one's counts. */
export class RestoreSizer {
  private readonly memo = new Map<string, Promise<RestoreSize>>();
  private readonly repo: Repository;

  constructor(repo: Repository) {
    this.repo = repo;
  }

  /** The counts of everything below the tree `id` (the tree's own directory not included). */
  of(id: string): Promise<RestoreSize> {
    let p = this.memo.get(id);
    if (!p) {
      p = this.count(id);
      this.memo.set(id, p);
    }
    return p;
  }

  private async count(id: string): Promise<RestoreSize> {
    const r = emptyRestoreSize();
    for (const n of (await loadTree(this.repo, id)).nodes) {
      if (n.type === 'file') {
        r.files++;
        r.bytes += n.size;
      } else if (n.type === 'dir') {
        r.dirs++;
        if (n.subtree) addRestoreSize(r, await this.of(n.subtree));
      } else if (n.type === 'symlink') r.symlinks++;
      else r.other++;
    }
    return r;
  }
}
