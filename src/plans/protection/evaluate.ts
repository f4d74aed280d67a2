// Computes the protection report (docs/protection.md): reads every
// destination the plans write to once, finds the units the plans backed up,
// and for each its copies per destination and per site, its last passed
// drill, and the result of each of its plan's rules. Reads only.

import type { Catalog } from '../../catalog/catalog.ts';
import type { ProtectionKey } from '../../catalog/protection.ts';
import { defaultRules } from '../../config/compile-protection.ts';
import type { Config, ProtectionRules } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import { copiesIn, readDestinations, unitsFromTags } from './holdings.ts';
import type { Holdings } from './holdings.ts';
import type { ProtectionReport, UnitCopies, UnitProtection } from './report-types.ts';
import { applyRules } from './rules.ts';
import { distinctUnits, placesOf, reachedDestinations } from './unit-places.ts';

export interface ProtectionDeps {
  config: Config;
  catalog: Catalog;
  clock: Clock;
}

/** The rules of a plan's units: its compiled rules, else the global ones, else the defaults. */
export function rulesOf(config: Config, plan: string): ProtectionRules {
  return config.plans[plan]?.protection ?? config.protection?.rules ?? defaultRules();
}

export async function evaluateProtection(deps: ProtectionDeps): Promise<ProtectionReport> {
  const { config, catalog, clock } = deps;
  const holdings = await readDestinations(config, reachedDestinations(config), clock);
  const store = catalog.protection();
  const units = distinctUnits(config, [...store.backedUpUnits(), ...unitsFromTags(holdings.values())]);
  const drills = new Map(store.lastPassedDrills().map((d) => [JSON.stringify([d.target, d.unit]), d.at]));
  const now = clock.now();
  const reports = units.map((u) =>
    unitReport(config, u, holdings, drills.get(JSON.stringify([u.target, u.unit])) ?? null, now),
  );
  return {
    evaluatedAt: now,
    ok: reports.every((r) => r.ok),
    destinations: [...holdings.values()].map((h) => h.state),
    units: reports,
  };
}

function unitReport(
  config: Config,
  u: ProtectionKey,
  holdings: Map<string, Holdings>,
  lastDrill: number | null,
  now: number,
): UnitProtection {
  const copies = placesOf(config, u).flatMap((name) => {
    const h = holdings.get(name);
    return h ? [copiesIn(h, u, config.targets[u.target])] : [];
  });
  const rules = applyRules(rulesOf(config, u.plan), copies, lastDrill, now);
  const times = copies.flatMap((c) => (c.newest !== null ? [c.newest] : []));
  return {
    plan: u.plan,
    target: u.target,
    unit: u.unit,
    ok: rules.every((r) => r.ok),
    copies,
    sites: newestPerSite(copies),
    newest: times.length ? Math.max(...times) : null,
    lastDrill,
    rules,
  };
}

function newestPerSite(copies: readonly UnitCopies[]): { site: string; newest: number }[] {
  const by = new Map<string, number>();
  for (const c of copies)
    if (c.site !== null && c.newest !== null) by.set(c.site, Math.max(by.get(c.site) ?? 0, c.newest));
  return [...by.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([site, newest]) => ({ site, newest }));
}

/** One unit as people write it: 'plan/target/unit' (or 'plan/target' for a whole target). */
export function unitLabel(u: ProtectionKey): string {
  return `${u.plan}/${u.target}${u.unit !== null ? `/${u.unit}` : ''}`;
}
