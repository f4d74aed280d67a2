// Choosing snapshots for a command that reads several (find, stats, tag):
// snapshot references (ids, unique id prefixes, 'latest'), or else every
// snapshot, then narrowed by host, backed-up path and tag lists.

import type { Repository } from './repository.ts';
import { findSnapshot, listSnapshots } from './snapshot.ts';
import type { SnapshotWithId } from './snapshot.ts';
import { hasTagLists } from './snapshot-tags.ts';

export interface SnapshotFilter {
  /** Keep snapshots made on one of these hosts (none: any host). */
  hosts?: readonly string[];
  /** Keep snapshots whose paths include every one of these (none: any paths). */
  paths?: readonly string[];
  /** Keep snapshots with every tag of at least one list (none: any tags). */
  tagLists?: readonly (readonly string[])[];
}

/** Whether `s` passes the filter. */
export function matchesFilter(s: SnapshotWithId, f: SnapshotFilter): boolean {
  if (f.hosts?.length && !f.hosts.includes(s.hostname)) return false;
  if (f.paths?.length && !f.paths.every((p) => s.paths.includes(p))) return false;
  return hasTagLists(s, f.tagLists ?? []);
}

/** Whether the filter narrows anything. */
export function filterIsEmpty(f: SnapshotFilter): boolean {
  return !f.hosts?.length && !f.paths?.length && !f.tagLists?.length;
}

/**
 * The snapshots `refs` name (each must exist; duplicates dropped), or every
 * snapshot when `refs` is empty, that pass `filter`; oldest first.
 */
export async function selectSnapshots(
  repo: Repository,
  refs: readonly string[],
  filter: SnapshotFilter = {},
): Promise<SnapshotWithId[]> {
  const chosen =
    refs.length === 0
      ? await listSnapshots(repo)
      : [...new Map((await Promise.all(refs.map((r) => findSnapshot(repo, r)))).map((s) => [s.id, s])).values()];
  return chosen
    .filter((s) => matchesFilter(s, filter))
    .sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
}
