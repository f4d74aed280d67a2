// The protection rules applied to one unit's copies: minCopies (destinations
// holding a copy), minSites (distinct sites among them; a destination without
// a site counts for none), rpo (age of the newest copy) and drillWithin (age
// of the last passed drill). Each result says, in plain words, why.

import type { ProtectionRules } from '../../config/types.ts';
import { formatDuration } from '../../core/format.ts';
import type { RuleResult, UnitCopies } from './report-types.ts';

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/** Every rule that is set, in the order minCopies, minSites, rpo, drillWithin. */
export function applyRules(
  rules: ProtectionRules,
  copies: readonly UnitCopies[],
  lastDrill: number | null,
  now: number,
): RuleResult[] {
  const out = [minCopies(rules.minCopies, copies), minSites(rules.minSites, copies)];
  if (rules.rpoMs !== null) out.push(rpo(rules.rpoMs, copies, now));
  if (rules.drillWithinMs !== null) out.push(drillWithin(rules.drillWithinMs, lastDrill, now));
  return out;
}

/** " (B could not be read: …)" for the destinations that could not be read. */
function unreadable(copies: readonly UnitCopies[]): string {
  const bad = copies.filter((c) => c.error !== null);
  return bad.length === 0 ? '' : `; ${bad.map((c) => `${c.destination} could not be read (${c.error})`).join('; ')}`;
}

function minCopies(expected: number, copies: readonly UnitCopies[]): RuleResult {
  const holding = copies.filter((c) => c.count > 0);
  const ok = holding.length >= expected;
  const where = holding.length ? ` (${holding.map((c) => c.destination).join(', ')})` : '';
  const why = `${plural(holding.length, 'destination holds', 'destinations hold')} a copy${where}; ${ok ? 'at least ' : ''}${expected} needed${unreadable(copies)}`;
  return { rule: 'minCopies', ok, expected, actual: holding.length, why };
}

function minSites(expected: number, copies: readonly UnitCopies[]): RuleResult {
  const holding = copies.filter((c) => c.count > 0);
  const sites = [...new Set(holding.map((c) => c.site).filter((s): s is string => s !== null))].sort();
  const noSite = holding.filter((c) => c.site === null).map((c) => c.destination);
  const ok = sites.length >= expected;
  let why =
    sites.length === 0
      ? `no site holds a copy; ${expected} needed`
      : `copies on ${plural(sites.length, 'site', 'sites')} (${sites.join(', ')}); ${ok ? 'at least ' : ''}${expected} needed`;
  if (noSite.length > 0)
    why += `; ${noSite.join(', ')} ${noSite.length === 1 ? 'has' : 'have'} no site and count${noSite.length === 1 ? 's' : ''} for none`;
  return { rule: 'minSites', ok, expected, actual: sites.length, why: why + unreadable(copies) };
}

function rpo(expected: number, copies: readonly UnitCopies[], now: number): RuleResult {
  const newest = copies.reduce<UnitCopies | null>(
    (best, c) => (c.newest !== null && (best === null || c.newest > best.newest!) ? c : best),
    null,
  );
  if (!newest)
    return {
      rule: 'rpo',
      ok: false,
      expected,
      actual: null,
      why: `no copy at all; the newest may be at most ${age(expected)} old`,
    };
  const old = Math.max(0, now - newest.newest!);
  const ok = old <= expected;
  const why = `the newest copy (in ${newest.destination}) is ${age(old)} old; ${ok ? 'within' : 'more than'} the ${age(expected)} allowed`;
  return { rule: 'rpo', ok, expected, actual: old, why };
}

function drillWithin(expected: number, lastDrill: number | null, now: number): RuleResult {
  if (lastDrill === null)
    return {
      rule: 'drillWithin',
      ok: false,
      expected,
      actual: null,
      why: `no passed restore drill recorded; one within ${age(expected)} needed`,
    };
  const old = Math.max(0, now - lastDrill);
  const ok = old <= expected;
  const why = `the last passed restore drill was ${age(old)} ago; one within ${age(expected)} ${ok ? 'is' : 'was'} needed`;
  return { rule: 'drillWithin', ok, expected, actual: old, why };
}

/** A duration for the why: '3d4h' from two days up, else like formatDuration ('2h30m', '40.00s'). */
export function age(ms: number): string {
  const DAY = 86_400_000;
  if (ms < 2 * DAY) return formatDuration(ms);
  const d = Math.floor(ms / DAY);
  const h = Math.round((ms - d * DAY) / 3_600_000);
  return h === 24 ? `${d + 1}d` : `${d}d${h ? `${h}h` : ''}`;
}
