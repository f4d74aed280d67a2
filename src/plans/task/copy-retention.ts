// A copy activity's own retention: which of a unit's snapshots its copy
// destination keeps. The rules see the snapshots the destination has and
// those the source could still send it as one history (a copy keeps its
// source's time and tags), per plan and device state as a retention purge
// does; the source snapshots they keep are copied, the destination's copies
// they drop are forgotten there (then pruned). A snapshot the rules drop is
// never copied, so it cannot come back at the next copy.

import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { tagValue } from '../../repo/snapshot-tags.ts';
import { chooseByPolicy } from '../../engine/maintenance/forget-policy.ts';
import type { Retention } from '../../config/types.ts';

export interface CopyChoice {
  /** Source snapshots to copy (those already there are skipped by the copy). */
  copy: SnapshotWithId[];
  /** Ids of the destination's snapshots to forget. */
  forget: string[];
}

/** Each plan's snapshots, and a device unit's persisted and running states, are kept by the rules on their own. */
export function byPlanAndState(s: SnapshotWithId): string {
  return `${tagValue(s.tags, 'plan') ?? ''} ${tagValue(s.tags, 'state') ?? ''}`;
}

/**
 * `source`: the unit's snapshots in the source repository (id `sourceRepo`);
 * `there`: the unit's snapshots in the destination.
 */
export function chooseCopies(
  source: readonly SnapshotWithId[],
  there: readonly SnapshotWithId[],
  sourceRepo: string,
  keep: Retention,
): CopyChoice {
  // A source snapshot already copied is one snapshot with its copy: the rules see the copy.
  const copyOf = new Map<string, string>();
  for (const d of there) if (d.original && d.originalRepo === sourceRepo) copyOf.set(d.original, d.id);
  const thereIds = new Set(there.map((d) => d.id));
  const notYet = source.filter((s) => !copyOf.has(s.id) && !thereIds.has(s.id));
  const { remove } = chooseByPolicy([...there, ...notYet], keep, { groupBy: [], partition: byPlanAndState });
  const dropped = new Set(remove);
  return {
    copy: source.filter((s) => !dropped.has(copyOf.get(s.id) ?? s.id)),
    forget: there.filter((d) => dropped.has(d.id)).map((d) => d.id),
  };
}
