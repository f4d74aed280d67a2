// What each destination holds, read once per evaluation of the protection
// report: a repository is opened once and its snapshots listed (their tags
// say which plan, target and unit each is of: repo/snapshot-tags.ts); a
// directory destination is checked for reachability and its closed
// generations are looked up per unit (the file names a backup gives them,
// task-backup.ts unitScheme). A destination that cannot be read is reported
// with the reason and holds nothing.

import type { Config, Destination, DirectoryDestination, Target } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import { closedGenerations } from '../../engine/directory/generations.ts';
import { listSnapshots } from '../../repo/snapshot.ts';
import { isOfUnit, isSafetyBackup, tagValue } from '../../repo/snapshot-tags.ts';
import { checkReachable } from '../run/destination-checks.ts';
import { openDestinationRepo } from '../run/destination-repo.ts';
import { unitScheme } from '../task/task-backup.ts';
import type { ProtectionKey } from '../../catalog/protection.ts';
import type { DestinationState, UnitCopies } from './report-types.ts';

/** A destination as read: its state and, for a readable repository, its snapshots' tags and times. */
export interface Holdings {
  state: DestinationState;
  dest: Destination;
  snapshots: { tags: readonly string[]; time: number }[];
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Reads each named destination once. */
export async function readDestinations(
  config: Config,
  names: Iterable<string>,
  clock: Clock,
): Promise<Map<string, Holdings>> {
  const out = new Map<string, Holdings>();
  for (const name of names) {
    const dest = config.destinations[name];
    if (dest && !out.has(name)) out.set(name, await readDestination(config, dest, clock));
  }
  return out;
}

async function readDestination(config: Config, dest: Destination, clock: Clock): Promise<Holdings> {
  const state = (error: string | null): DestinationState => ({
    name: dest.name,
    type: dest.type,
    site: dest.site,
    error,
  });
  const reach = await checkReachable(dest, config.file).catch((e: unknown) => ({
    ok: false as const,
    reason: message(e),
  }));
  if (!reach.ok) return { state: state(reach.reason), dest, snapshots: [] };
  if (dest.type === 'directory') return { state: state(null), dest, snapshots: [] };
  try {
    const repo = await openDestinationRepo(dest, clock);
    try {
      const snaps = await listSnapshots(repo);
      return {
        state: state(null),
        dest,
        snapshots: snaps.filter((s) => !isSafetyBackup(s)).map((s) => ({ tags: s.tags, time: Date.parse(s.time) })),
      };
    } finally {
      await repo.close().catch(() => {});
    }
  } catch (e) {
    return {
      state: state(`destination ${dest.name} (${dest.path}) cannot be read: ${message(e)}`),
      dest,
      snapshots: [],
    };
  }
}

/** The units the snapshots' tags name: (plan, target, unit) of every snapshot made by a plan. */
export function unitsFromTags(all: Iterable<Holdings>): ProtectionKey[] {
  const out: ProtectionKey[] = [];
  for (const h of all)
    for (const s of h.snapshots) {
      const plan = tagValue(s.tags, 'plan');
      const target = tagValue(s.tags, 'target');
      if (plan !== null && target !== null) out.push({ plan, target, unit: tagValue(s.tags, 'unit') });
    }
  return out;
}

/** The copies of `u` in `h`: its snapshots there (made by its plan), or its closed generations. */
export function copiesIn(h: Holdings, u: ProtectionKey, target: Target | undefined): UnitCopies {
  const base = { destination: h.dest.name, site: h.dest.site };
  if (h.state.error !== null) return { ...base, count: 0, newest: null, error: h.state.error };
  if (h.dest.type === 'directory') return generationCopies(h.dest, u, target, base);
  const mine = h.snapshots.filter((s) => tagValue(s.tags, 'plan') === u.plan && isOfUnit(s, u.target, u.unit));
  return { ...base, count: mine.length, newest: newestOf(mine.map((s) => s.time)), error: null };
}

/** Closed generations of the unit in a directory destination (any plan's: the files do not say). */
function generationCopies(
  d: DirectoryDestination,
  u: ProtectionKey,
  target: Target | undefined,
  base: { destination: string; site: string | null },
): UnitCopies {
  if (!target)
    return {
      ...base,
      count: 0,
      newest: null,
      error: `target ${u.target} is no longer configured: its files there are not known`,
    };
  const kind = target.kind === 'files' ? 'files' : 'stream';
  const states = target.kind === 'device' ? ['persisted', 'running'] : [null];
  try {
    const gens = states.flatMap((state) => closedGenerations(unitScheme(d, u, kind, state)));
    return { ...base, count: gens.length, newest: newestOf(gens.map((g) => g.mtime)), error: null };
  } catch (e) {
    return { ...base, count: 0, newest: null, error: message(e) };
  }
}

function newestOf(times: number[]): number | null {
  return times.length === 0 ? null : Math.max(...times);
}
