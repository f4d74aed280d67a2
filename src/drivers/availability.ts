// Whether a target can be reached now, and if not, why: the driver's own
// words (connection refused, authentication failed, no such directory), so
// that a skipped task and its alert say the real cause.

import { SafeholdError } from '../core/errors.ts';

export type Availability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export const AVAILABLE: Availability = Object.freeze({ ok: true });

export function unavailable(reason: string): Availability {
  return { ok: false, reason };
}

/** Runs a probe: available when it resolves, unavailable with the error's message when it throws. */
export async function probe(fn: () => Promise<unknown>): Promise<Availability> {
  try {
    await fn();
    return AVAILABLE;
  } catch (e) {
    return unavailable(e instanceof SafeholdError || e instanceof Error ? e.message : String(e));
  }
}
