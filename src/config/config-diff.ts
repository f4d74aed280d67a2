// What changed between two configurations, for the server's reload log line:
// plans added, changed and removed by name, the other sections that changed,
// and the settings that only take effect when the server starts again.

import type { Config } from './types.ts';

export interface ConfigDiff {
  plans: { total: number; added: string[]; changed: string[]; removed: string[] };
  /** Other sections with any difference: targets, destinations, alerts, ... */
  sections: string[];
  /** Settings that changed but are read only at start (settings.dataDir, settings.metrics). */
  restartOnly: string[];
}

const SECTIONS = ['settings', 'sites', 'targets', 'destinations', 'alerts', 'groups', 'restorePlans'] as const;
const RESTART_ONLY = ['dataDir', 'metrics'] as const;

export function diffConfig(old: Config, next: Config): ConfigDiff {
  const before = old.plans;
  const after = next.plans;
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  return {
    plans: {
      total: Object.keys(after).length,
      added: Object.keys(after).filter((n) => !(n in before)),
      changed: Object.keys(after).filter((n) => n in before && !same(before[n], after[n])),
      removed: Object.keys(before).filter((n) => !(n in after)),
    },
    sections: SECTIONS.filter((s) => !same(old[s], next[s])),
    restartOnly: RESTART_ONLY.filter((k) => !same(old.settings[k], next.settings[k])).map((k) => `settings.${k}`),
  };
}

/** "3 plans (1 added, 1 changed, 0 removed); targets and alerts changed" */
export function describeDiff(d: ConfigDiff): string {
  const p = d.plans;
  const plans = `${p.total} plan${p.total === 1 ? '' : 's'} (${p.added.length} added, ${p.changed.length} changed, ${p.removed.length} removed)`;
  const others = d.sections.length > 0 ? `; ${listed(d.sections)} changed` : '';
  return `${plans}${others}`;
}

function listed(xs: string[]): string {
  return xs.length === 1 ? xs[0]! : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1]}`;
}
