// Tests of the rate limit: uploads and downloads each wait on their own token
// bucket, so transfers average the configured bytes per second (measured on
// an injected clock), and a backend without a limit is not slowed.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBackend } from './memory-backend.ts';
import { RateLimitedBackend, TokenBucket } from './rate-limited-backend.ts';
import { isSafeholdError } from '../../core/errors.ts';
import type { Clock } from '../../core/clock.ts';

/** Time moves only by sleeping; each sleep is recorded. */
class SleepClock implements Clock {
  t = 1_000_000;
  readonly slept: number[] = [];
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.slept.push(ms);
    this.t += ms;
  }
}

describe('RateLimitedBackend', () => {
  it('holds uploads to the upload limit and leaves downloads alone', async () => {
    const clock = new SleepClock();
    const b = new RateLimitedBackend(new MemoryBackend(), { upload: 1000 }, clock);
    const start = clock.now();
    // The bucket starts with one second of tokens; 5000 bytes more take 5 s.
    for (let i = 0; i < 6; i++) await b.save({ type: 'data', name: `0${i}` }, Buffer.alloc(1000));
    assert.equal(clock.now() - start, 5000);
    const before = clock.now();
    for (let i = 0; i < 6; i++) await b.load({ type: 'data', name: `0${i}` });
    assert.equal(clock.now(), before, 'no download limit');
  });

  it('holds downloads to the download limit, ranged and whole', async () => {
    const clock = new SleepClock();
    const mem = new MemoryBackend();
    await mem.save({ type: 'data', name: 'aa' }, Buffer.alloc(4000));
    const b = new RateLimitedBackend(mem, { download: 2000 }, clock);
    const start = clock.now();
    await b.load({ type: 'data', name: 'aa' }, 0, 3000);
    assert.equal(clock.now() - start, 500, '3000 bytes, 2000 in the bucket: 1000 more at 2000/s');
    await b.load({ type: 'data', name: 'aa' });
    assert.equal(clock.now() - start, 2500, 'then 4000 bytes at 2000/s');
    await b.saveNew!({ type: 'locks', name: 'bb' }, Buffer.alloc(10_000));
    assert.equal(clock.now() - start, 2500, 'no upload limit');
  });

  it('refills with time and never holds more than one second of tokens', async () => {
    const clock = new SleepClock();
    const bucket = new TokenBucket(100, clock);
    await bucket.take(100);
    assert.deepEqual(clock.slept, []);
    clock.t += 10_000;
    await bucket.take(300);
    assert.deepEqual(clock.slept, [2000], 'only 100 tokens saved up, 200 to wait for');
  });

  it('refuses a limit that is not a positive number', () => {
    assert.throws(
      () => new TokenBucket(0),
      (e: unknown) => isSafeholdError(e, 'USAGE'),
    );
    assert.throws(
      () => new TokenBucket(Number.NaN),
      (e: unknown) => isSafeholdError(e, 'USAGE'),
    );
  });
});
