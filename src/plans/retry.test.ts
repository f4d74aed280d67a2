// Tests of the retry policies (S5) with an injected clock: the exact attempt
// times of 10 min / 4 h and 10 min / 6 h, success and permanent failure
// stopping early, and on-demand runs refused at once.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../core/clock.ts';
import { PURGE_RETRY, SCHEDULED_BACKUP_RETRY, attemptTimes, withRetries } from './retry.ts';
import type { AttemptOutcome, RetryResult } from './retry.ts';
import type { RetryPolicy } from '../config/types.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 25, 1, 0);

/** Runs withRetries while moving the manual clock a minute at a time, until it settles. */
async function drive<T>(policy: RetryPolicy | null, outcome: (n: number, now: number) => AttemptOutcome<T>): Promise<RetryResult<T>> {
  const clock = new ManualClock(T0);
  let done = false;
  const p = withRetries((n) => Promise.resolve(outcome(n, clock.now())), policy, clock).finally(() => { done = true; });
  while (!done) await clock.advance(MIN);
  return p;
}

const held: AttemptOutcome<never> = { ok: false, retryable: true, reason: 'target:QA1 held by run 1a2b3c4d (backup) since 01:00' };

describe('retry policies', () => {
  it('retries a scheduled backup every 10 minutes for up to 4 hours: 25 attempts at exact times, then alerts', async () => {
    const r = await drive(SCHEDULED_BACKUP_RETRY, () => held);
    assert.equal(r.attempts.length, 25);
    assert.deepEqual(r.attempts.map((t) => (t - T0) / MIN), Array.from({ length: 25 }, (_, k) => k * 10));
    assert.equal(r.ok, false);
    assert.equal(r.exhausted, true);
    assert.equal(r.reason, held.reason);
  });

  it('retries a purge every 10 minutes for up to 6 hours: 37 attempts, the last at +6 h', async () => {
    const r = await drive(PURGE_RETRY, () => held);
    assert.equal(r.attempts.length, 37);
    assert.equal((r.attempts.at(-1)! - T0) / MIN, 360);
    assert.deepEqual(attemptTimes(PURGE_RETRY, T0), r.attempts);
  });

  it('stops at the first success', async () => {
    const r = await drive(SCHEDULED_BACKUP_RETRY, (n) => (n < 3 ? held : { ok: true, value: 'snapshot 9f' }));
    assert.deepEqual([r.ok, r.value, r.exhausted], [true, 'snapshot 9f', false]);
    assert.deepEqual(r.attempts.map((t) => (t - T0) / MIN), [0, 10, 20]);
  });

  it('does not retry a failure that will not go away', async () => {
    const r = await drive(SCHEDULED_BACKUP_RETRY, () => ({ ok: false, retryable: false, reason: 'wrong password' }));
    assert.deepEqual([r.attempts.length, r.ok, r.exhausted, r.reason], [1, false, false, 'wrong password']);
  });

  it('refuses an on-demand run at once, with the reason', async () => {
    const r = await drive(null, () => held);
    assert.deepEqual([r.attempts, r.ok, r.exhausted, r.reason], [[T0], false, false, held.reason]);
  });

  it('keeps to the schedule when attempts take time (no drift)', async () => {
    const clock = new ManualClock(T0);
    let done = false;
    const p = withRetries(async () => { await clock.sleep(3 * MIN); return held; }, { intervalMs: 10 * MIN, maxDurationMs: 30 * MIN }, clock).finally(() => { done = true; });
    while (!done) await clock.advance(MIN);
    assert.deepEqual((await p).attempts.map((t) => (t - T0) / MIN), [0, 10, 20, 30]);
  });
});
