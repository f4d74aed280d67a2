// Browsing a snapshot's tree one directory at a time (the console's file
// browser): the entries of one directory, and a search by name (a part of
// the name, any case) that stops at a limit. Paths are absolute snapshot
// paths; '..' is refused (nodeAt), so nothing outside the tree is reachable.

import type { Repository } from '../../repo/repository.ts';
import { loadTree } from '../../repo/tree.ts';
import type { NodeType, TreeNode } from '../../repo/tree.ts';
import { SafeholdError } from '../../core/errors.ts';
import { nodeAt } from './tree-walk.ts';

export interface BrowseEntry {
  name: string;
  /** Absolute path in the snapshot. */
  path: string;
  type: NodeType;
  size: number;
  /** Modification time, ms since the epoch. */
  mtime: number;
  linkTarget: string | null;
}

function entry(dir: string, n: TreeNode): BrowseEntry {
  return {
    name: n.name,
    path: dir === '/' ? `/${n.name}` : `${dir}/${n.name}`,
    type: n.type,
    size: n.size,
    mtime: Number(BigInt(n.mtime) / 1_000_000n),
    linkTarget: n.linkTarget ?? null,
  };
}

/** A snapshot path made canonical: absolute, no '.', '..' or empty parts; USAGE otherwise. */
export function snapshotPath(p: string): string {
  if (!p.startsWith('/')) throw new SafeholdError('USAGE', `give a path from '/' (got ${p})`);
  const parts = p.split('/').filter((x) => x !== '');
  if (parts.some((x) => x === '.' || x === '..' || x.includes('\0')))
    throw new SafeholdError('USAGE', `${p}: give a path without '.' or '..'`);
  return `/${parts.join('/')}`;
}

/** The entries of directory `dir` of the tree `root`, directories first, then by name. */
export async function listDir(repo: Repository, root: string, dir: string): Promise<BrowseEntry[]> {
  const at = await nodeAt(repo, root, snapshotPath(dir));
  if (at.node.type !== 'dir' || !at.node.subtree)
    throw new SafeholdError('USAGE', `${at.path} is a ${at.node.type}, not a directory`);
  const nodes = (await loadTree(repo, at.node.subtree)).nodes;
  return nodes
    .map((n) => entry(at.path, n))
    .sort((a, b) => Number(b.type === 'dir') - Number(a.type === 'dir') || a.name.localeCompare(b.name));
}

/**
 * Entries whose name contains `text` (any case), depth first in name order,
 * at most `limit`; `truncated` when there were more.
 */
export async function searchNames(
  repo: Repository,
  root: string,
  text: string,
  limit: number,
): Promise<{ items: BrowseEntry[]; truncated: boolean }> {
  const needle = text.trim().toLowerCase();
  if (needle === '') throw new SafeholdError('USAGE', 'give a part of a name to search for');
  await repo.loadIndex();
  const items: BrowseEntry[] = [];
  let truncated = false;
  const walk = async (treeId: string, dir: string): Promise<void> => {
    for (const n of (await loadTree(repo, treeId)).nodes) {
      if (truncated) return;
      if (n.name.toLowerCase().includes(needle)) {
        if (items.length === limit) {
          truncated = true;
          return;
        }
        items.push(entry(dir, n));
      }
      if (n.type === 'dir' && n.subtree) await walk(n.subtree, dir === '/' ? `/${n.name}` : `${dir}/${n.name}`);
    }
  };
  await walk(root, '/');
  return { items, truncated };
}
