// S3 step 5: expands a plan's activities into tasks, in definition order, by
// matching the activities' target and unit patterns against the live
// inventory. A target that is unavailable yields one skipped task carrying
// the unexpanded unit pattern (the seed's "TEST9 / DOMAIN*"). A pattern that
// matches nothing (a target or unit pattern, a database target's own
// `databases:`/`files:` filter, a group member's named unit) yields a failed
// task, so the run fails and alerts instead of succeeding with less than was
// asked; an activity with `allowEmpty` leaves that part out (logged, no
// task). Targets and units are taken in natural name order (QA2 before
// QA10). Each target is probed and listed at most once per expansion, many
// at a time.

import type { Activity, Group } from '../../config/types.ts';
import type { InventoryTarget } from '../../drivers/target/inventory-target.ts';
import type { Availability } from '../../drivers/availability.ts';
import { globToRegExp, naturalCompare } from '../../core/glob.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { matchTargets } from '../../config/activity-targets.ts';
import { NoMatchError } from '../../drivers/no-match.ts';

export type { InventoryTarget };

export interface ExpandedTask {
  /** 1-based creation order; tasks run in this order (S3 step 8). */
  seq: number;
  activity: Activity;
  /** The target's name, or the unmatched target pattern for a skipped task. */
  target: string;
  /** The unit, null for a whole-target task, or the unexpanded pattern of a skipped task. */
  unit: string | null;
  /** pending: to run; skipped: not run (target unavailable); failed: nothing matched (see the reason). */
  status: 'pending' | 'skipped' | 'failed';
  reason: string | null;
}

type Add = (activity: Activity, target: string, unit: string | null, reason: string | null) => void;
type Listing = string[] | Error;

const PROBES_AT_ONCE = 64;

export async function expandActivities(
  activities: readonly Activity[],
  inventory: readonly InventoryTarget[],
  groups: Readonly<Record<string, Group>> = {},
  log: (msg: string) => void = () => {},
): Promise<ExpandedTask[]> {
  const byName = [...inventory].sort((a, b) => naturalCompare(a.name, b.name));
  const inventoryNames = byName.map((t) => t.name);
  const byKey = new Map(byName.map((t) => [t.name, t]));
  const unmatchedOf = new Map<Activity, string[]>();
  const matches = activities.map((a) => {
    if (a.group !== null) {
      // A group backup: its members, in the group's order.
      const names = (groups[a.group]?.members ?? []).map((m) => m.target);
      return names.flatMap((n) => byName.filter((t) => t.name === n));
    }
    const { matched, unmatched } = matchTargets(a.targets, inventoryNames);
    unmatchedOf.set(a, unmatched);
    return matched.map((n) => byKey.get(n)!);
  });
  // Probe every matched target once, concurrently, before building tasks in order.
  const wanted = new Map<string, InventoryTarget>();
  for (const list of matches) for (const t of list) wanted.set(t.name, t);
  const availability = new Map<string, Availability>();
  await mapLimit([...wanted.values()], PROBES_AT_ONCE, async (t) => {
    availability.set(
      t.name,
      await t.available().catch((e: unknown): Availability => ({ ok: false, reason: String(e) })),
    );
  });
  const needUnits = new Map<string, InventoryTarget>();
  activities.forEach((a, i) => {
    for (const t of matches[i]!)
      if (availability.get(t.name)?.ok && (a.units !== null || t.kind !== 'device')) needUnits.set(t.name, t);
  });
  const units = new Map<string, Listing>();
  await mapLimit([...needUnits.values()], PROBES_AT_ONCE, async (t) => {
    units.set(
      t.name,
      await t.listUnits().then(
        (u) => [...u].sort(naturalCompare),
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      ),
    );
  });

  const tasks: ExpandedTask[] = [];
  const push = (
    activity: Activity,
    target: string,
    unit: string | null,
    status: ExpandedTask['status'],
    reason: string | null,
  ) => tasks.push({ seq: tasks.length + 1, activity, target, unit, status, reason });
  const add: Add = (activity, target, unit, reason) =>
    push(activity, target, unit, reason === null ? 'pending' : 'skipped', reason);
  // Nothing matched: a failed task, or (allowEmpty) only a line in the run's log.
  const empty: Add = (activity, target, unit, reason) => {
    if (activity.allowEmpty) log(`activity ${activity.name}: ${reason}; left out (allowEmpty)`);
    else push(activity, target, unit, 'failed', reason);
  };
  activities.forEach((a, i) => {
    const targets = matches[i]!;
    if (a.group !== null) {
      addGroup(a, groups[a.group], targets, availability, units, add, empty);
      return;
    }
    // Each pattern must match a target (a name in a list that is gone is as wrong as a glob matching nothing).
    for (const p of unmatchedOf.get(a) ?? []) empty(a, p, a.units, `no target matches '${p}'`);
    for (const t of targets) addTarget(a, t, availability, units.get(t.name), add, empty);
  });
  return tasks;
}

/** The tasks of one matched target of a (non-group) activity. */
function addTarget(
  a: Activity,
  t: InventoryTarget,
  availability: Map<string, Availability>,
  listing: Listing | undefined,
  add: Add,
  empty: Add,
): void {
  if (!availability.get(t.name)?.ok) {
    add(a, t.name, a.units, unavailableReason(t.name, availability));
    return;
  }
  if (a.units === null && t.kind === 'device') {
    add(a, t.name, null, null);
    return;
  }
  const listed = unitsOf(a, t.name, listing, add, empty);
  if (listed === null) return;
  const re = a.units === null ? null : globToRegExp(a.units);
  const chosen = re ? listed.filter((u) => re.test(u)) : listed;
  if (chosen.length === 0) {
    const why = a.units === null ? `${t.name} has no units` : `no unit of ${t.name} matches '${a.units}'`;
    empty(a, t.name, a.units, `${why}${listed.length > 0 ? ` (units: ${nameList(listed)})` : ''}`);
    return;
  }
  for (const u of chosen) add(a, t.name, u, null);
}

/**
 * A listed target's units; null when there are none to take (its task added:
 * skipped when the listing failed, failed when the target's own filter
 * matched nothing). With allowEmpty, an empty filter leaves what the target
 * still has (PostgreSQL's `_globals`).
 */
function unitsOf(a: Activity, name: string, listing: Listing | undefined, add: Add, empty: Add): string[] | null {
  if (listing instanceof NoMatchError) {
    empty(a, name, a.units, listing.message);
    return a.allowEmpty ? [...listing.rest] : null;
  }
  if (!listing || listing instanceof Error) {
    add(a, name, a.units, `cannot list the units of ${name}: ${listing?.message ?? 'not listed'}`);
    return null;
  }
  return listing;
}

/** The most unit names a reason lists. */
const NAMED_UNITS = 20;

/** "a, b, c" (with ", and N more" past NAMED_UNITS). */
function nameList(names: readonly string[]): string {
  const more = names.length > NAMED_UNITS ? `, and ${names.length - NAMED_UNITS} more` : '';
  return `${names.slice(0, NAMED_UNITS).join(', ')}${more}`;
}

/** The tasks of a group backup: each member's units (all, or those named), or one whole-server task for a physical group's PostgreSQL member. */
function addGroup(
  a: Activity,
  group: Group | undefined,
  targets: readonly InventoryTarget[],
  availability: Map<string, Availability>,
  units: Map<string, Listing>,
  add: Add,
  empty: Add,
): void {
  for (const m of group?.members ?? []) {
    const t = targets.find((x) => x.name === m.target);
    if (!t || !availability.get(m.target)?.ok) {
      add(a, m.target, null, unavailableReason(m.target, availability));
      continue;
    }
    if (group!.mode === 'physical' && t.kind === 'postgres') {
      add(a, t.name, null, null);
      continue;
    }
    const listed = unitsOf({ ...a, units: null }, t.name, units.get(t.name), add, empty);
    if (listed === null) continue;
    if (m.units === null && listed.length === 0) empty(a, t.name, null, `${t.name} has no units`);
    for (const u of m.units ?? listed) {
      if (listed.includes(u)) add(a, t.name, u, null);
      else empty(a, t.name, u, `unit ${u} of ${t.name} does not exist`);
    }
  }
}

/** "target X is unavailable: <the driver's words>" (the cause when one is known). */
function unavailableReason(name: string, availability: Map<string, Availability>): string {
  const a = availability.get(name);
  return `target ${name} is unavailable${a && !a.ok && a.reason ? `: ${a.reason}` : ''}`;
}
