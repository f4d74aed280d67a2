// Which targets an activity takes: its compiled target patterns (globs and
// names, a `group:NAME` already replaced by the group's members) matched
// against a list of target names, in the names' order. The one place that
// matches an activity's targets: the plan run's expansion (against the live
// inventory), `config show` and the dashboard (against the configured ones).

import { globToRegExp } from '../core/glob.ts';
import type { Activity, Config } from './types.ts';

/** The prefix of a `targets` entry naming a consistency group. */
export const GROUP_PREFIX = 'group:';

export interface TargetMatch {
  /** The names matched by at least one pattern, in the order given. */
  matched: string[];
  /** The patterns that matched no name. */
  unmatched: string[];
}

/** Matches `patterns` against `names`. */
export function matchTargets(patterns: readonly string[], names: readonly string[]): TargetMatch {
  const res = patterns.map((p) => ({ p, re: globToRegExp(p), hit: false }));
  const matched: string[] = [];
  for (const name of names) {
    let any = false;
    for (const r of res) {
      if (!r.re.test(name)) continue;
      r.hit = true;
      any = true;
    }
    if (any) matched.push(name);
  }
  return { matched, unmatched: res.filter((r) => !r.hit).map((r) => r.p) };
}

/** The configured targets an activity takes: a group backup's members, else the targets its patterns match. */
export function configuredTargets(a: Activity, config: Pick<Config, 'targets' | 'groups'>): string[] {
  if (a.group !== null) return [...new Set((config.groups[a.group]?.members ?? []).map((m) => m.target))];
  return matchTargets(a.targets, Object.keys(config.targets)).matched;
}
