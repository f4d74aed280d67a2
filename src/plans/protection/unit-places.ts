// Which units the protection report covers and where each one's copies may
// be: the units plans backed up (the catalog's succeeded backup and export
// tasks, and the plan/target/unit tags of the snapshots in the destinations),
// and for each the destinations its data reaches: its plan's destination,
// then every destination a copy activity (of any plan) takes it to from a
// destination already reached, for its target and unit.

import type { Activity, Config } from '../../config/types.ts';
import { configuredTargets, matchTargets } from '../../config/activity-targets.ts';
import { globToRegExp } from '../../core/glob.ts';
import type { ProtectionKey } from '../../catalog/protection.ts';

/** Every destination some plan writes to: plan destinations and copy activities' `to`. */
export function reachedDestinations(config: Config): string[] {
  const out = new Set<string>();
  for (const p of Object.values(config.plans)) {
    out.add(p.destination);
    for (const a of p.activities) if (a.kind === 'copy' && a.to !== null) out.add(a.to);
  }
  return [...out];
}

/**
 * The units the configured plans back up, each once, sorted by plan, target
 * and unit: of those found, the ones whose plan still has a backup or export
 * activity taking that target (and unit).
 */
export function distinctUnits(config: Config, found: Iterable<ProtectionKey>): ProtectionKey[] {
  const byKey = new Map<string, ProtectionKey>();
  for (const k of found) {
    if (!backedUpBy(config, k)) continue;
    byKey.set(JSON.stringify([k.plan, k.target, k.unit]), { plan: k.plan, target: k.target, unit: k.unit });
  }
  return [...byKey.values()].sort(
    (a, b) => cmp(a.plan, b.plan) || cmp(a.target, b.target) || cmp(a.unit ?? '', b.unit ?? ''),
  );
}

/** Whether the unit's plan has a backup or export activity that takes its target and unit. */
function backedUpBy(config: Config, k: ProtectionKey): boolean {
  const plan = Object.hasOwn(config.plans, k.plan) ? config.plans[k.plan] : undefined;
  if (!plan) return false;
  return plan.activities.some(
    (a) =>
      (a.kind === 'backup' || a.kind === 'export') &&
      configuredTargets(a, config).includes(k.target) &&
      (a.group !== null || a.units === null || k.unit === null || globToRegExp(a.units).test(k.unit)),
  );
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The destinations the unit's data reaches, its plan's destination first. */
export function placesOf(config: Config, u: ProtectionKey): string[] {
  const plan = config.plans[u.plan];
  if (!plan) return [];
  const places = [plan.destination];
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of Object.values(config.plans)) {
      if (!places.includes(p.destination)) continue;
      for (const a of p.activities) {
        if (a.kind !== 'copy' || a.to === null || places.includes(a.to) || !copiesUnit(config, a, u)) continue;
        places.push(a.to);
        grew = true;
      }
    }
  }
  return places;
}

/** Whether a copy activity takes this unit: its target matches the activity's targets and its unit the units glob. */
function copiesUnit(config: Config, a: Activity, u: ProtectionKey): boolean {
  const targetOk =
    a.group !== null
      ? (config.groups[a.group]?.members ?? []).some((m) => m.target === u.target)
      : matchTargets(a.targets, [u.target]).matched.length > 0;
  if (!targetOk) return false;
  if (a.units === null || u.unit === null) return true;
  return globToRegExp(a.units).test(u.unit);
}
