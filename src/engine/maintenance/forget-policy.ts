// Retention → forget → prune, wired once: which snapshots a keep policy
// removes (optionally in partitions that the policy sees one at a time, as a
// plan's purge keeps each plan's and each device state's snapshots on their
// own), and the removal of chosen snapshots followed by a prune. The CLI's
// `forget` and a plan's retention purge both go through here. The caller holds
// the exclusive repository lock.

import type { Repository } from '../../repo/repository.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { applyRetention } from './retention.ts';
import type { RetentionGroup, RetentionOptions, RetentionPolicy } from './retention.ts';
import { forget } from './forget.ts';
import { prune } from './prune.ts';
import type { PruneOptions, PruneStats } from './prune.ts';

export interface PolicyChoice {
  /** Each group's decision (every partition's groups, in the order met). */
  groups: RetentionGroup[];
  /** The ids the policy removes. */
  remove: string[];
}

export interface ChooseOptions extends RetentionOptions {
  /** Snapshots with different keys are kept by the policy on their own. */
  partition?: (s: SnapshotWithId) => string;
}

/** The snapshots a keep policy removes, group by group. */
export function chooseByPolicy(
  snapshots: readonly SnapshotWithId[],
  policy: RetentionPolicy,
  opts: ChooseOptions = {},
): PolicyChoice {
  const { partition, ...retention } = opts;
  const parts = new Map<string, SnapshotWithId[]>();
  for (const s of snapshots) {
    const k = partition ? partition(s) : '';
    parts.set(k, [...(parts.get(k) ?? []), s]);
  }
  const groups = [...parts.values()].flatMap((p) => applyRetention(p, policy, retention).groups);
  return { groups, remove: groups.flatMap((g) => g.remove.map((s) => s.id)) };
}

export interface RemoveOptions {
  /** Remove nothing; a prune (if asked for) previews as if the snapshots were gone. */
  dryRun?: boolean;
  /** Prune after forgetting (only when something was chosen); false: forget only. */
  prune?: false | Omit<PruneOptions, 'dryRun' | 'ignoreSnapshots'>;
  /** Called with the removed ids before the prune starts (e.g. to update a catalog). */
  forgotten?: (ids: string[]) => void;
}

export interface RemoveResult {
  removed: string[];
  prune: PruneStats | null;
}

/** Forgets these snapshots, then prunes the data they alone used (a caller that goes on using `repo` reloads its index). */
export async function forgetAndPrune(
  repo: Repository,
  ids: readonly string[],
  opts: RemoveOptions = {},
): Promise<RemoveResult> {
  const dryRun = opts.dryRun === true;
  const removed = dryRun ? [] : await forget(repo, ids);
  opts.forgotten?.(removed);
  if (!opts.prune || ids.length === 0) return { removed, prune: null };
  const stats = await prune(repo, { ...opts.prune, dryRun, ...(dryRun ? { ignoreSnapshots: new Set(ids) } : {}) });
  return { removed, prune: stats };
}
