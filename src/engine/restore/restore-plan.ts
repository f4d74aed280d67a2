// Plans a restore: walks a snapshot's trees (optionally only some subtrees;
// loadTree refuses unsafe and duplicate names) before anything is written, and lists the directories,
// files, links and special files to create, each with its path under the
// restore target.

import path from 'node:path';
import type { Repository } from '../../repo/repository.ts';
import { loadTree } from '../../repo/tree.ts';
import type { TreeNode } from '../../repo/tree.ts';
import { SafeholdError } from '../../core/errors.ts';

export interface PlannedNode {
  /** Path inside the snapshot, e.g. /usr/share/doc. */
  snapPath: string;
  /** Path on disk under the target. */
  dest: string;
  node: TreeNode;
  depth: number;
  /** A directory restored only because an included path lies below it. */
  ancestor?: boolean;
}

export interface RestorePlan {
  dirs: PlannedNode[];
  files: PlannedNode[];
  symlinks: PlannedNode[];
  special: PlannedNode[];
  totalBytes: number;
}

/** Normalises --include arguments to absolute snapshot paths without trailing slashes. */
export function normaliseIncludes(includes: string[]): string[] {
  return includes.map((i) => {
    const p = path.posix.normalize(`/${i}`);
    return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p;
  });
}

export async function planRestore(
  repo: Repository,
  rootTree: string,
  target: string,
  includes: string[],
): Promise<RestorePlan> {
  const plan: RestorePlan = { dirs: [], files: [], symlinks: [], special: [], totalBytes: 0 };
  const inc = normaliseIncludes(includes);
  const matched = new Set<string>();
  const prefix = target.endsWith(path.sep) ? target : target + path.sep;
  // Is `p` included, an ancestor of an include (walk on), or neither?
  const want = (p: string): 'all' | 'walk' | 'none' => {
    if (inc.length === 0) return 'all';
    for (const i of inc) {
      if (p === i || p.startsWith(`${i}/`)) {
        matched.add(i);
        return 'all';
      }
    }
    for (const i of inc) if (i.startsWith(`${p}/`)) return 'walk';
    return 'none';
  };

  const walk = async (treeId: string, snapDir: string, destDir: string, depth: number, all: boolean): Promise<void> => {
    const tree = await loadTree(repo, treeId);
    const subdirs: Promise<void>[] = [];
    for (const node of tree.nodes) {
      const snapPath = snapDir === '/' ? `/${node.name}` : `${snapDir}/${node.name}`;
      const w = all ? 'all' : want(snapPath);
      if (w === 'none') continue;
      const dest = path.join(destDir, node.name);
      if (!dest.startsWith(prefix)) {
        throw new SafeholdError('UNSAFE_PATH', `refusing to restore ${snapPath}: it resolves outside the target`);
      }
      const item: PlannedNode = { snapPath, dest, node, depth, ...(w === 'walk' ? { ancestor: true } : {}) };
      if (node.type === 'dir') {
        plan.dirs.push(item);
        // loadTree checked that every directory names a valid subtree.
        subdirs.push(walk(node.subtree!, snapPath, dest, depth + 1, w === 'all'));
      } else if (w === 'walk') {
      } else if (node.type === 'file') {
        plan.files.push(item);
        plan.totalBytes += node.size;
      } else if (node.type === 'symlink') {
        plan.symlinks.push(item);
      } else {
        plan.special.push(item);
      }
    }
    await Promise.all(subdirs);
  };
  await walk(rootTree, '/', target, 1, inc.length === 0);
  const missing = inc.filter((i) => !matched.has(i));
  if (missing.length > 0) throw new SafeholdError('NOT_FOUND', `not in the snapshot: ${missing.join(', ')}`);
  plan.dirs.sort((a, b) => a.depth - b.depth || a.dest.localeCompare(b.dest));
  return plan;
}
