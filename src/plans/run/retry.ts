// Retry policies by trigger (S5): a scheduled backup is retried every 10 min
// for up to 4 h, a purge every 10 min for up to 6 h (configurable); an
// on-demand run is not retried: it is refused at once with the reason.
// Attempts happen at exact multiples of the interval from the first attempt
// (no drift from the time attempts take), the last one no later than the
// window's end. Time comes from the injected clock.

import type { Clock } from '../../core/clock.ts';
import type { RetryPolicy } from '../../config/types.ts';

export const SCHEDULED_BACKUP_RETRY: RetryPolicy = { intervalMs: 10 * 60_000, maxDurationMs: 4 * 3600_000 };
export const PURGE_RETRY: RetryPolicy = { intervalMs: 10 * 60_000, maxDurationMs: 6 * 3600_000 };

export type AttemptOutcome<T> =
  | { ok: true; value: T }
  /** `retryable`: the cause may go away (a lease held, a device busy); false stops at once. */
  | { ok: false; retryable: boolean; reason: string };

export interface RetryResult<T> {
  ok: boolean;
  value?: T;
  /** Clock time of every attempt made, in order. */
  attempts: number[];
  /** The last failure's reason ('' on success). */
  reason: string;
  /** True when the policy's window ran out with the cause still there: alert. */
  exhausted: boolean;
}

/**
 * The times at which attempts would be made when none succeeds: `start`,
 * `start + interval`, … up to `start + maxDuration`. When `now` is later than
 * `start` (a retry resumed after a restart), the first attempt is `now`, if
 * still inside the window, followed by the remaining points of the grid.
 */
export function attemptTimes(policy: RetryPolicy | null, start: number, now = start): number[] {
  if (!policy || policy.intervalMs <= 0) return [Math.max(start, now)];
  const out: number[] = [];
  if (now > start && now <= start + policy.maxDurationMs) out.push(now);
  for (let k = 0; k * policy.intervalMs <= policy.maxDurationMs; k++) {
    const t = start + k * policy.intervalMs;
    if (t > now || (t === now && out.length === 0)) out.push(t);
  }
  return out;
}

/**
 * Runs `attempt` until it succeeds, fails for good, or the policy's window is
 * over. A null policy (on-demand) makes exactly one attempt.
 */
export async function withRetries<T>(
  attempt: (n: number) => Promise<AttemptOutcome<T>>,
  policy: RetryPolicy | null,
  clock: Clock,
  signal?: AbortSignal,
  opts: { start?: number; onWait?: (nextAt: number, attempt: number, of: number) => void } = {},
): Promise<RetryResult<T>> {
  const times = attemptTimes(policy, opts.start ?? clock.now(), clock.now());
  const res: RetryResult<T> = { ok: false, attempts: [], reason: '', exhausted: false };
  for (let i = 0; i < times.length; i++) {
    const wait = times[i]! - clock.now();
    if (wait > 0) {
      opts.onWait?.(times[i]!, i + 1, times.length);
      await clock.sleep(wait, signal);
    }
    signal?.throwIfAborted();
    res.attempts.push(clock.now());
    const r = await attempt(i + 1);
    if (r.ok) return { ...res, ok: true, value: r.value, reason: '' };
    res.reason = r.reason;
    if (!r.retryable) return res;
  }
  res.exhausted = policy !== null && policy.intervalMs > 0 && times.length > 0;
  return res;
}
