// The shape of the protection report (docs/protection.md), shared by its
// computation, the CLI, the API, the metrics and the console: per unit that
// a plan backs up, its copies per destination and per site, its last passed
// drill, and for each rule whether it holds, what was expected, what was
// found and why in plain words.

export type ProtectionRuleName = 'minCopies' | 'minSites' | 'rpo' | 'drillWithin';

export interface RuleResult {
  rule: ProtectionRuleName;
  ok: boolean;
  /** minCopies/minSites: a count; rpo/drillWithin: a duration in ms. */
  expected: number;
  /** minCopies/minSites: the count found; rpo/drillWithin: the age in ms (null: no copy / no drill). */
  actual: number | null;
  why: string;
}

/** The copies of a unit in one destination the plan reaches. */
export interface UnitCopies {
  destination: string;
  site: string | null;
  count: number;
  /** Time of the newest copy there (ms since the epoch), null when none. */
  newest: number | null;
  /** Why the destination could not be read (it then counts as holding nothing), else null. */
  error: string | null;
}

export interface UnitProtection {
  plan: string;
  target: string;
  /** null: the whole target. */
  unit: string | null;
  ok: boolean;
  copies: UnitCopies[];
  /** The sites holding a copy, with their newest copy. */
  sites: { site: string; newest: number }[];
  /** The newest copy anywhere, null when none. */
  newest: number | null;
  /** When the last passed restore drill of the unit finished, null when none. */
  lastDrill: number | null;
  rules: RuleResult[];
}

/** A destination read for the report: null error when it could be read. */
export interface DestinationState {
  name: string;
  type: 'repository' | 'directory';
  site: string | null;
  error: string | null;
}

export interface ProtectionReport {
  evaluatedAt: number;
  /** Every unit meets every rule. */
  ok: boolean;
  destinations: DestinationState[];
  units: UnitProtection[];
}
