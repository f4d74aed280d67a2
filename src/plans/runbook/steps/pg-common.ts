// What the pg.* step kinds share: where a server is in words safe to show
// (never a password), whether a parameter still holds an unresolved
// placeholder (a dry run shows later steps' outputs as <output of S.Y>),
// numeric parameters given as strings, and the state of a server in one
// phrase for the dry-run lines.

import { SafeholdError } from '../../../core/errors.ts';
import { status } from '../../../drivers/pg-ha/pg-status.ts';
import type { PgStatus } from '../../../drivers/pg-ha/pg-status.ts';
import { pgTarget } from '../../../drivers/pg-ha/pg-target.ts';
import type { StepOutputs } from '../step-kind.ts';

export const unresolved = (v: unknown): boolean => typeof v === 'string' && /<output of [^>]+>/.test(v);

/** host:port (or socket dir and port) of a URL or conninfo; the text itself when it is a placeholder. */
export function whereOf(spec: string): string {
  if (unresolved(spec)) return spec;
  try {
    return pgTarget(spec).where;
  } catch {
    return '(an invalid server address)';
  }
}

/** An optional integer parameter (placeholders resolve to strings). */
export function intParam(v: number | string | undefined, what: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isInteger(n) || n < 0) throw new SafeholdError('CONFIG', `${what} must be a whole number, not ${v}`);
  return n;
}

/** The state of a server for a dry run; null when its address is not known yet. */
export async function stateOf(spec: string, signal?: AbortSignal): Promise<PgStatus | null> {
  if (unresolved(spec)) return null;
  return status(spec, { signal });
}

/** "standby, timeline 1, replay LSN 0/3000060" and the like. */
export function describeState(s: PgStatus | null): string {
  if (!s) return 'not known before the run';
  if (!s.reachable) return 'unreachable now';
  if (s.role === 'primary') return `primary, timeline ${s.timeline}, LSN ${s.lsn}`;
  return `standby, timeline ${s.timeline}, replay LSN ${s.replayLsn}${s.paused ? ', replay paused' : ''}`;
}

/** A driver result as step outputs (only scalar fields). */
export function outputsOf(r: object): StepOutputs {
  const out: StepOutputs = {};
  for (const [k, v] of Object.entries(r)) {
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  }
  return out;
}
