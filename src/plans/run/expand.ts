// S3 step 5: expands a plan's activities into tasks, in definition order, by
// matching the activities' target and unit patterns against the live
// inventory. A target that is unavailable yields one skipped task carrying
// the unexpanded unit pattern (the seed's "TEST9 / DOMAIN*"); a pattern that
// matches nothing yields a skipped task too. Targets and units are taken in
// natural name order (QA2 before QA10). Each target is probed and listed at
// most once per expansion, many at a time.

import type { Activity, Group } from '../../config/types.ts';
import type { InventoryTarget } from '../../drivers/target/inventory-target.ts';
import type { Availability } from '../../drivers/availability.ts';
import { globToRegExp, naturalCompare } from '../../core/glob.ts';
import { mapLimit } from '../../core/concurrency.ts';

export type { InventoryTarget };

export interface ExpandedTask {
  /** 1-based creation order; tasks run in this order (S3 step 8). */
  seq: number;
  activity: Activity;
  /** The target's name, or the unmatched target pattern for a skipped task. */
  target: string;
  /** The unit, null for a whole-target task, or the unexpanded pattern of a skipped task. */
  unit: string | null;
  status: 'pending' | 'skipped';
  reason: string | null;
}

const PROBES_AT_ONCE = 64;

export async function expandActivities(
  activities: readonly Activity[],
  inventory: readonly InventoryTarget[],
  groups: Readonly<Record<string, Group>> = {},
): Promise<ExpandedTask[]> {
  const byName = [...inventory].sort((a, b) => naturalCompare(a.name, b.name));
  const matches = activities.map((a) => {
    if (a.group !== null) {
      // A group backup: its members, in the group's order.
      const names = (groups[a.group]?.members ?? []).map((m) => m.target);
      return names.flatMap((n) => byName.filter((t) => t.name === n));
    }
    const re = globToRegExp(a.targets);
    return byName.filter((t) => re.test(t.name));
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
  const units = new Map<string, string[] | Error>();
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
  const add = (activity: Activity, target: string, unit: string | null, reason: string | null) =>
    tasks.push({
      seq: tasks.length + 1,
      activity,
      target,
      unit,
      status: reason === null ? 'pending' : 'skipped',
      reason,
    });
  activities.forEach((a, i) => {
    const targets = matches[i]!;
    if (a.group !== null) {
      addGroup(a, groups[a.group], targets, availability, units, add);
      return;
    }
    if (targets.length === 0) {
      add(a, a.targets, a.units, `no target matches '${a.targets}'`);
      return;
    }
    for (const t of targets) {
      if (!availability.get(t.name)?.ok) {
        add(a, t.name, a.units, unavailableReason(t.name, availability));
        continue;
      }
      if (a.units === null && t.kind === 'device') {
        add(a, t.name, null, null);
        continue;
      }
      const listed = units.get(t.name)!;
      if (listed instanceof Error) {
        add(a, t.name, a.units, `cannot list the units of ${t.name}: ${listed.message}`);
        continue;
      }
      const re = a.units === null ? null : globToRegExp(a.units);
      const chosen = re ? listed.filter((u) => re.test(u)) : listed;
      if (chosen.length === 0) {
        add(
          a,
          t.name,
          a.units,
          a.units === null ? `${t.name} has no units` : `no unit of ${t.name} matches '${a.units}'`,
        );
        continue;
      }
      for (const u of chosen) add(a, t.name, u, null);
    }
  });
  return tasks;
}

/** The tasks of a group backup: each member's units (all, or those named), or one whole-server task for a physical group's PostgreSQL member. */
function addGroup(
  a: Activity,
  group: Group | undefined,
  targets: readonly InventoryTarget[],
  availability: Map<string, Availability>,
  units: Map<string, string[] | Error>,
  add: (activity: Activity, target: string, unit: string | null, reason: string | null) => void,
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
    const listed = units.get(t.name);
    if (!listed || listed instanceof Error) {
      add(
        a,
        t.name,
        null,
        `cannot list the units of ${t.name}: ${listed instanceof Error ? listed.message : 'not listed'}`,
      );
      continue;
    }
    for (const u of m.units ?? listed)
      add(a, t.name, u, listed.includes(u) ? null : `unit ${u} of ${t.name} does not exist`);
  }
}

/** "target X is unavailable: <the driver's words>" (the cause when one is known). */
function unavailableReason(name: string, availability: Map<string, Availability>): string {
  const a = availability.get(name);
  return `target ${name} is unavailable${a && !a.ok && a.reason ? `: ${a.reason}` : ''}`;
}
