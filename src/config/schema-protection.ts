// The `protection:` section of safehold.yaml (zod) and the same rules as a
// plan's `protection:` overrides: how many places and sites must hold a copy
// of every unit, how fresh the newest copy must be, how recent its last
// successful drill. Compiled by compile-protection.ts; docs/protection.md.

import { count, duration, obj } from './schema-values.ts';

const rules = {
  minCopies: count.optional().describe('Destinations that must hold at least one copy of each unit (default 2).'),
  minSites: count
    .optional()
    .describe('Distinct sites among those destinations (default 2); a destination without a site counts for none.'),
  rpo: duration
    .optional()
    .describe("The newest copy of each unit may be at most this old, e.g. '26h' (default: not checked)."),
  drillWithin: duration
    .optional()
    .describe("Each unit needs a passed restore drill within this, e.g. '30d' (default: not checked)."),
};

/** A plan's `protection:`: overrides of the global rules for the units of that plan. */
export const planProtection = obj(rules).describe("Overrides of the global protection rules for this plan's units.");

/** The top-level `protection:`: the rules of every unit, and how often the server checks them. */
export const protection = obj({
  ...rules,
  checkEvery: duration
    .optional()
    .describe('Server: how often the protection report is evaluated and its alerts raised (default 15m).'),
}).describe(
  'The protection report (docs/protection.md): rules every backed-up unit must meet; their presence (or any site) makes the server check them periodically.',
);
