// Compiles the protection rules: the top-level `protection:` with its
// defaults (minCopies 2, minSites 2, rpo and drillWithin not checked, checked
// every 15m by the server) and each plan's overrides merged over them.

import type { RawConfig } from './schema.ts';
import type { ProtectionConfig, ProtectionRules } from './types.ts';
import { ms } from './compile-context.ts';
import { parseDuration } from './values.ts';

type Raw = NonNullable<RawConfig>;
type RawRules = { minCopies?: number; minSites?: number; rpo?: string; drillWithin?: string };

export const PROTECTION_DEFAULTS = Object.freeze({
  minCopies: 2,
  minSites: 2,
  checkEveryMs: 15 * 60_000,
});

const durationOrNull = (s: string | undefined): number | null => (s === undefined ? null : parseDuration(s)!);

/** The global section; `sites`: whether any site is defined (then the server checks too). */
export function compileProtection(raw: Raw['protection'], anySite: boolean): ProtectionConfig {
  return {
    configured: raw !== undefined,
    monitored: raw !== undefined || anySite,
    checkEveryMs: ms(raw?.checkEvery, PROTECTION_DEFAULTS.checkEveryMs),
    rules: mergeRules(defaultRules(), raw),
  };
}

export function defaultRules(): ProtectionRules {
  return {
    minCopies: PROTECTION_DEFAULTS.minCopies,
    minSites: PROTECTION_DEFAULTS.minSites,
    rpoMs: null,
    drillWithinMs: null,
  };
}

/** `over`'s keys replace those of `base`. */
export function mergeRules(base: ProtectionRules, over: RawRules | undefined): ProtectionRules {
  if (!over) return base;
  return {
    minCopies: over.minCopies ?? base.minCopies,
    minSites: over.minSites ?? base.minSites,
    rpoMs: over.rpo !== undefined ? durationOrNull(over.rpo) : base.rpoMs,
    drillWithinMs: over.drillWithin !== undefined ? durationOrNull(over.drillWithin) : base.drillWithinMs,
  };
}
