// Changing the tags of snapshots (safehold tag). Snapshots are immutable
// files named by their content, so a change writes a new snapshot file with
// the new tags and then removes the old one; the new one records the id the
// snapshot was first written with in `original` (kept when already set, as
// by a copy). A snapshot whose tags would not change is left as it is. The
// caller holds the repository's exclusive lock.

import type { Repository } from '../../repo/repository.ts';
import { saveSnapshot } from '../../repo/snapshot.ts';
import type { Snapshot, SnapshotWithId } from '../../repo/snapshot.ts';
import { SafeholdError } from '../../core/errors.ts';

export interface TagChange {
  /** Replace every tag with these (an empty list removes them all); not with add or remove. */
  set?: readonly string[];
  add?: readonly string[];
  remove?: readonly string[];
}

export interface Retagged {
  /** The snapshot's id before the change. */
  old: string;
  /** Its id after (the same when nothing changed). */
  id: string;
  before: string[];
  tags: string[];
  changed: boolean;
}

/** USAGE when the change is empty or mixes set with add/remove. */
export function checkTagChange(c: TagChange): void {
  const editing = (c.add?.length ?? 0) + (c.remove?.length ?? 0) > 0;
  if (c.set !== undefined && editing)
    throw new SafeholdError('USAGE', '--set replaces every tag: it does not go with --add or --remove');
  if (c.set === undefined && !editing) throw new SafeholdError('USAGE', 'give tags to --add, --remove or --set');
}

/** The tags after the change, in order, without duplicates. */
export function changedTags(tags: readonly string[], c: TagChange): string[] {
  if (c.set !== undefined) return [...new Set(c.set)];
  const out = [...new Set(tags)];
  for (const t of c.add ?? []) if (!out.includes(t)) out.push(t);
  const drop = new Set(c.remove ?? []);
  return out.filter((t) => !drop.has(t));
}

/** Applies the change to each snapshot (with `dryRun`, only says what it would do). */
export async function retagSnapshots(
  repo: Repository,
  snapshots: readonly SnapshotWithId[],
  change: TagChange,
  opts: { dryRun?: boolean } = {},
): Promise<Retagged[]> {
  checkTagChange(change);
  const out: Retagged[] = [];
  for (const s of snapshots) {
    const tags = changedTags(s.tags, change);
    const changed = tags.length !== s.tags.length || tags.some((t, i) => t !== s.tags[i]);
    let id = s.id;
    if (changed && !opts.dryRun) {
      const { id: _old, ...rest } = s;
      const next: Snapshot = { ...rest, tags, original: s.original ?? s.id };
      id = await saveSnapshot(repo, next);
      await repo.backend.remove({ type: 'snapshots', name: s.id });
    }
    out.push({ old: s.id, id, before: s.tags, tags, changed });
  }
  return out;
}
