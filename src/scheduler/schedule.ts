// When a plan's scheduled runs are due: its 5-field cron expression in its
// IANA time zone (croner). DST-correct like cron users expect: a daily time
// that does not exist on the spring-forward day runs once, at the first
// instant after the gap; a daily time that occurs twice on the fall-back day
// runs once, at its first occurrence; an hourly schedule runs every real hour.

import { Cron } from 'croner';
import { SafeholdError } from '../core/errors.ts';

const cache = new Map<string, Cron>();

function cronFor(expression: string, timezone: string): Cron {
  const key = `${timezone}\u0000${expression}`;
  let c = cache.get(key);
  if (!c) {
    try {
      c = new Cron(expression, { timezone, paused: true, mode: '5-part' });
    } catch (e) {
      throw new SafeholdError(
        'CONFIG',
        `invalid schedule '${expression}' (${timezone}): ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    cache.set(key, c);
  }
  return c;
}

/** The first due time strictly after `afterMs`, or null if the schedule never fires again. */
export function nextDue(
  schedule: { readonly cron: string; readonly timezone: string },
  afterMs: number,
): number | null {
  const next = cronFor(schedule.cron, schedule.timezone).nextRun(new Date(afterMs));
  return next ? next.getTime() : null;
}

/** The due times in (fromMs, toMs], in order (for tests and `safehold server --dry-run` style listings). */
export function dueTimes(
  schedule: { readonly cron: string; readonly timezone: string },
  fromMs: number,
  toMs: number,
  max = 10_000,
): number[] {
  const out: number[] = [];
  let t = fromMs;
  while (out.length < max) {
    const n = nextDue(schedule, t);
    if (n === null || n > toMs) break;
    out.push(n);
    t = n;
  }
  return out;
}
