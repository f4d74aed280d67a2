// Tests of the retry policies (S5) with an injected clock: the exact attempt
// times of 10 min / 4 h and 10 min / 6 h, success and permanent failure
// stopping early, and on-demand runs refused at once.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../core/clock.ts';
import { PURGE_RETRY, SCHEDULED_BACKUP_RETRY, attemptTimes, withRetries } from './retry.ts';
import type { AttemptOutcome, RetryResult } from './retry.ts';
import type { RetryPolicy } from '../../config/types.ts';

const MIN = 60_000;
const T0 = Date.UTC(2026, 10, 25, 1, 0);

/** Runs withRetries while moving the manual clock a minute at a time, until it settles. */
async function drive<T>(
  policy: RetryPolicy | null,
  outcome: (n: number, now: number) => AttemptOutcome<T>,
): Promise<RetryResult<T>> {
  const clock = new ManualClock(T0);
  let done = false;
  const p = withRetries((n) => Promise.resolve(outcome(n, clock.now())), policy, clock).finally(() => {
    done = true;
  });
  while (!done) await clock.advance(MIN);
  return p;
}

const held: AttemptOutcome<never> = {
  ok: false,
  retryable: true,
  reason: 'target:QA1 held by run 1a2b3c4d (backup) since 01:00',
};

describe('retry policies', () => {
  it('retries a scheduled backup every 10 minutes for up to 4 hours: 25 attempts at exact times, then alerts', async () => {
    const r = await drive(SCHEDULED_BACKUP_RETRY, () => held);
    assert.equal(r.attempts.length, 25);
    assert.deepEqual(
      r.attempts.map((t) => (t - T0) / MIN),
      Array.from({ length: 25 }, (_, k) => k * 10),
    );
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
    assert.deepEqual(
      r.attempts.map((t) => (t - T0) / MIN),
      [0, 10, 20],
    );
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
    const p = withRetries(
      async () => {
        await clock.sleep(3 * MIN);
        return held;
      },
      { intervalMs: 10 * MIN, maxDurationMs: 30 * MIN },
      clock,
    ).finally(() => {
      done = true;
    });
    while (!done) await clock.advance(MIN);
    assert.deepEqual(
      (await p).attempts.map((t) => (t - T0) / MIN),
      [0, 10, 20, 30],
    );
  });
});

describe('retry windows resumed after a restart', () => {
  it('a run due at 01:00 resumed at 02:03 tries at once, then on the 10-minute grid, until 05:00', () => {
    const now = T0 + 63 * MIN;
    const times = attemptTimes(SCHEDULED_BACKUP_RETRY, T0, now);
    assert.deepEqual(
      times.map((t) => (t - T0) / MIN),
      [63, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200, 210, 220, 230, 240],
    );
  });

  it('resumed after the window is over: no attempt at all', () => {
    assert.deepEqual(attemptTimes(SCHEDULED_BACKUP_RETRY, T0, T0 + 4 * 60 * MIN + 1), []);
  });

  it('resumed exactly on a grid point: that point once', () => {
    assert.deepEqual(
      attemptTimes(PURGE_RETRY, T0, T0 + 350 * MIN).map((t) => (t - T0) / MIN),
      [350, 360],
    );
  });

  it('withRetries waits on the injected clock and can be cancelled while waiting', async () => {
    const clock = new ManualClock(T0);
    const ac = new AbortController();
    const seen: number[] = [];
    const p = withRetries(async () => held, SCHEDULED_BACKUP_RETRY, clock, ac.signal, {
      onWait: (at) => seen.push((at - T0) / MIN),
    });
    for (let i = 0; i < 25; i++) await clock.advance(MIN);
    ac.abort(new Error('shutting down'));
    await assert.rejects(p, /shutting down/);
    assert.deepEqual(seen, [10, 20, 30]);
    assert.equal(clock.waiting, 0, 'the aborted sleep is gone');
  });
});
