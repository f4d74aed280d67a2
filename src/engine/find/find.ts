// Finding entries in snapshots by pattern (safehold find): which snapshots
// hold a path, and where. A pattern without '/' matches an entry's name at
// any depth ('*.conf'); one starting with '/' matches the absolute path
// ('/etc/*.conf', '/home/**/notes.txt'); any other pattern with '/' matches
// the end of the path ('nginx/*.conf' is '**/nginx/*.conf'). Subtrees that
// several snapshots share (same tree id at the same place) are searched once.

import path from 'node:path';
import type { Repository } from '../../repo/repository.ts';
import { loadTree } from '../../repo/tree.ts';
import type { TreeNode } from '../../repo/tree.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { SafeholdError } from '../../core/errors.ts';

export interface FindOptions {
  patterns: readonly string[];
  /** Compare names and paths without regard to case. */
  ignoreCase?: boolean;
}

export interface FoundEntry {
  /** Absolute path of the entry in the snapshot. */
  path: string;
  node: TreeNode;
}

export interface SnapshotMatches {
  snapshot: SnapshotWithId;
  /** Matching entries, depth first in name order. */
  matches: FoundEntry[];
}

/** A pattern made ready to match: against the name, or against the absolute path. */
interface Matcher {
  glob: string;
  onPath: boolean;
}

/** The matchers of the patterns; USAGE for an empty pattern. */
export function compilePatterns(patterns: readonly string[], ignoreCase = false): Matcher[] {
  if (patterns.length === 0) throw new SafeholdError('USAGE', 'give at least one pattern to find');
  return patterns.map((raw) => {
    if (raw.trim() === '') throw new SafeholdError('USAGE', 'an empty pattern matches nothing: give a name or a path');
    let p = ignoreCase ? raw.toLowerCase() : raw;
    if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
    if (!p.includes('/')) return { glob: p, onPath: false };
    return { glob: p.startsWith('/') ? p : `**/${p}`, onPath: true };
  });
}

function matches(ms: readonly Matcher[], absPath: string, name: string, ignoreCase: boolean): boolean {
  const p = ignoreCase ? absPath.toLowerCase() : absPath;
  const n = ignoreCase ? name.toLowerCase() : name;
  return ms.some((m) => path.matchesGlob(m.onPath ? p : n, m.glob));
}

/**
 * The entries of each snapshot that match one of the patterns; snapshots
 * without a match are left out. Snapshots are searched in the order given.
 */
export async function findInSnapshots(
  repo: Repository,
  snapshots: readonly SnapshotWithId[],
  opts: FindOptions,
): Promise<SnapshotMatches[]> {
  const ignoreCase = opts.ignoreCase ?? false;
  const ms = compilePatterns(opts.patterns, ignoreCase);
  await repo.loadIndex();
  const memo = new Map<string, Promise<FoundEntry[]>>();
  const search = (treeId: string, dir: string): Promise<FoundEntry[]> => {
    const key = `${treeId}\0${dir}`;
    let found = memo.get(key);
    if (!found) {
      found = searchTree(treeId, dir);
      memo.set(key, found);
    }
    return found;
  };
  const searchTree = async (treeId: string, dir: string): Promise<FoundEntry[]> => {
    const out: FoundEntry[] = [];
    for (const node of (await loadTree(repo, treeId)).nodes) {
      const p = dir === '/' ? `/${node.name}` : `${dir}/${node.name}`;
      if (matches(ms, p, node.name, ignoreCase)) out.push({ path: p, node });
      if (node.type === 'dir' && node.subtree) for (const f of await search(node.subtree, p)) out.push(f);
    }
    return out;
  };
  const res: SnapshotMatches[] = [];
  for (const snapshot of snapshots) {
    const found = await search(snapshot.tree, '/');
    if (found.length > 0) res.push({ snapshot, matches: found });
  }
  return res;
}
