// Walking snapshot trees: listing every entry (ls) and comparing two
// snapshots entry by entry (diff), and looking up one path (dump).
// Unchanged subtrees (same id) are skipped.

import type { Repository } from '../../repo/repository.ts';
import { loadTree } from '../../repo/tree.ts';
import type { TreeNode } from '../../repo/tree.ts';
import { SafeholdError } from '../../core/errors.ts';

export interface ListedNode {
  path: string;
  node: TreeNode;
}

/** Depth-first, in name order; `under` limits the listing to one subtree (or one entry). */
export async function listTree(repo: Repository, root: string, under = '/'): Promise<ListedNode[]> {
  const prefix = under.length > 1 && under.endsWith('/') ? under.slice(0, -1) : under;
  await repo.loadIndex();
  const out: ListedNode[] = [];
  let found = prefix === '/';
  const walk = async (treeId: string, dir: string): Promise<void> => {
    for (const node of (await loadTree(repo, treeId)).nodes) {
      const p = dir === '/' ? `/${node.name}` : `${dir}/${node.name}`;
      const inside = prefix === '/' || p === prefix || p.startsWith(`${prefix}/`);
      const above = prefix.startsWith(`${p}/`);
      if (inside) {
        found = true;
        out.push({ path: p, node });
      }
      if (node.type === 'dir' && node.subtree && (inside || above)) await walk(node.subtree, p);
    }
  };
  await walk(root, '/');
  if (!found) throw new SafeholdError('NOT_FOUND', `${under} is not in the snapshot`);
  return out;
}

/**
 * The node at absolute path `p` of a snapshot's tree ('/' is the root: a
 * directory node named '' whose subtree is `root`); NOT_FOUND when absent.
 */
export async function nodeAt(repo: Repository, root: string, p: string): Promise<ListedNode> {
  const parts = p.split('/').filter((x) => x !== '' && x !== '.');
  if (parts.includes('..')) throw new SafeholdError('USAGE', `${p}: give a path without '..'`);
  await repo.loadIndex();
  let node: TreeNode = {
    name: '',
    type: 'dir',
    mode: 0o755,
    uid: 0,
    gid: 0,
    mtime: '0',
    ctime: '0',
    inode: 0,
    device: 0,
    links: 1,
    size: 0,
    subtree: root,
  };
  let at = '';
  for (const part of parts) {
    if (node.type !== 'dir' || !node.subtree)
      throw new SafeholdError('NOT_FOUND', `${p} is not in the snapshot (${at} is not a directory)`);
    const next = (await loadTree(repo, node.subtree)).nodes.find((n) => n.name === part);
    at += `/${part}`;
    if (!next) throw new SafeholdError('NOT_FOUND', `${p} is not in the snapshot`);
    node = next;
  }
  return { path: at || '/', node };
}

export type Change = '+' | '-' | 'M' | 'T' | 'U';

export interface DiffEntry {
  path: string;
  /** + added, - removed, M content changed, T type changed, U metadata only. */
  change: Change;
  type: string;
}

export interface DiffResult {
  entries: DiffEntry[];
  added: number;
  removed: number;
  changed: number;
  addedBytes: number;
  removedBytes: number;
}

export async function diffTrees(repo: Repository, a: string, b: string): Promise<DiffResult> {
  await repo.loadIndex();
  const res: DiffResult = { entries: [], added: 0, removed: 0, changed: 0, addedBytes: 0, removedBytes: 0 };
  const all = async (treeId: string, dir: string, change: '+' | '-'): Promise<void> => {
    for (const n of (await loadTree(repo, treeId)).nodes) {
      const p = `${dir}/${n.name}`.replace(/^\/\//, '/');
      note(p, change, n);
      if (n.type === 'dir' && n.subtree) await all(n.subtree, p, change);
    }
  };
  const note = (p: string, change: Change, n: TreeNode) => {
    res.entries.push({ path: n.type === 'dir' ? `${p}/` : p, change, type: n.type });
    if (change === '+') {
      res.added++;
      res.addedBytes += n.size;
    } else if (change === '-') {
      res.removed++;
      res.removedBytes += n.size;
    } else res.changed++;
  };
  const cmp = async (ta: string, tb: string, dir: string): Promise<void> => {
    if (ta === tb) return;
    const [x, y] = await Promise.all([loadTree(repo, ta), loadTree(repo, tb)]);
    const left = new Map(x.nodes.map((n) => [n.name, n]));
    const right = new Map(y.nodes.map((n) => [n.name, n]));
    const names = [...new Set([...left.keys(), ...right.keys()])].sort();
    for (const name of names) {
      const p = dir === '/' ? `/${name}` : `${dir}/${name}`;
      const l = left.get(name);
      const r = right.get(name);
      if (!r) {
        note(p, '-', l!);
        if (l!.type === 'dir' && l!.subtree) await all(l!.subtree, p, '-');
        continue;
      }
      if (!l) {
        note(p, '+', r);
        if (r.type === 'dir' && r.subtree) await all(r.subtree, p, '+');
        continue;
      }
      if (l.type !== r.type) {
        note(p, 'T', r);
        continue;
      }
      if (l.type === 'dir') {
        await cmp(l.subtree ?? '', r.subtree ?? '', p);
        continue;
      }
      if (l.type === 'file' && (l.content ?? []).join() !== (r.content ?? []).join()) note(p, 'M', r);
      else if (l.type === 'symlink' && l.linkTarget !== r.linkTarget) note(p, 'M', r);
      else if (l.mode !== r.mode || l.uid !== r.uid || l.gid !== r.gid || l.mtime !== r.mtime) note(p, 'U', r);
    }
  };
  await cmp(a, b, '/');
  return res;
}
