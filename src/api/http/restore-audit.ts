// The audit entry of a restore request: what was restored where, and the
// live-data decision (into new places only; over which live data, with
// which safety backup; or refused and why).

import { isSafeholdError } from '../../core/errors.ts';
import type { RouteContext } from './route-def.ts';

interface Outcome<T> {
  result: T;
  /** What was restored, where. */
  detail: string;
  /** The live data overwritten (empty: new places only). */
  live: readonly string[];
  safety: string | null;
  /** Instead of the live-data decision (a dry run decides nothing). */
  decision?: string;
}

/** Runs a restore flow and records its decision in the request's audit entry, refused or not. */
export async function auditedRestore<T>(
  ctx: RouteContext,
  req: object,
  what: string,
  run: () => Promise<Outcome<T>>,
): Promise<T> {
  try {
    const o = await run();
    const decision =
      o.decision ??
      (o.live.length === 0
        ? 'new places only'
        : `over live data (${o.live.join('; ')}), safety backup ${o.safety ?? 'none needed'}`);
    ctx.auditDetail(req, `${what}: ${o.detail}; ${decision}`);
    return o.result;
  } catch (e) {
    const why = isSafeholdError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    ctx.auditDetail(req, `${what}: refused or failed (${why})`);
    throw e;
  }
}
