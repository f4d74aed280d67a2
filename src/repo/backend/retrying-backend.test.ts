// Tests of the retry layer (and the fault-injection wrapper it is tested
// with): the conformance suite on retrying(faulty without faults(local));
// transient faults of every kind retried to success; permanent errors passed
// through at once; exhausted attempts reported with their count and cause;
// backoff with full jitter within its bounds, on an injected clock.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { LocalBackend } from './local-backend.ts';
import { MemoryBackend } from './memory-backend.ts';
import { FaultyBackend } from './faulty-backend.ts';
import type { Fault } from './faulty-backend.ts';
import { RETRY_DEFAULTS, RetryingBackend } from './retrying-backend.ts';
import type { RetryEvent, RetryOptions } from './retrying-backend.ts';
import { backendConformanceSuite } from './conformance.ts';
import { isSafeholdError } from '../../core/errors.ts';
import type { Clock } from '../../core/clock.ts';
import type { Handle } from './backend.ts';

backendConformanceSuite('retrying(faulty, no faults)(LocalBackend)', async () => {
  const root = await fs.mkdtemp(join(tmpdir(), 'safehold-retry-'));
  return {
    backend: new RetryingBackend(new FaultyBackend(new LocalBackend(join(root, 'repo')))),
    cleanup: () => fs.rm(root, { recursive: true, force: true }),
  };
});

/** A clock whose sleeps end at once and are recorded (backoff tested without waiting). */
class RecordingClock implements Clock {
  t = 0;
  readonly slept: number[] = [];
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    this.slept.push(ms);
    this.t += ms;
  }
}

const id = (): string => randomBytes(32).toString('hex');

function stack(faults: Fault[], opts: RetryOptions = {}) {
  const clock = new RecordingClock();
  const events: RetryEvent[] = [];
  const mem = new MemoryBackend();
  const faulty = new FaultyBackend(mem, faults);
  // No timeout: this clock's sleeps end at once, so any timeout would fire.
  const b = new RetryingBackend(faulty, { clock, timeoutMs: 0, onRetry: (e) => events.push(e), ...opts });
  return { mem, faulty, b, clock, events };
}

describe('RetryingBackend', () => {
  it('retries transient save faults with growing, jittered delays and succeeds', async () => {
    const { b, mem, clock, events } = stack([{ op: 'save', nth: 2, kind: 'transient', times: 3 }], {
      random: () => 0.999,
    });
    const h: Handle = { type: 'data', name: id() };
    await b.save({ type: 'data', name: id() }, Buffer.from('first'));
    await b.save(h, Buffer.from('second'));
    assert.equal((await mem.load(h)).toString(), 'second');
    assert.deepEqual(
      events.map((e) => [e.op, e.attempt, e.maxAttempts]),
      [
        ['save', 1, 6],
        ['save', 2, 6],
        ['save', 3, 6],
      ],
    );
    // Full jitter: below base · 2^(attempt−1); random 0.999 lands just below each cap.
    assert.deepEqual(clock.slept, [199, 399, 799]);
    assert.match(events[0]!.error.message, /transient/);
  });

  it('caps the delay at maxDelayMs and draws it uniformly below the cap', async () => {
    const draws = [0, 0.5, 0.999, 0.25, 0.999];
    const { b, clock } = stack([{ op: 'list', nth: 1, kind: 'transient', times: 5 }], {
      random: () => draws.shift()!,
      baseDelayMs: 1000,
      maxDelayMs: 3000,
    });
    await b.list('index');
    assert.deepEqual(clock.slept, [0, 1000, 2997, 750, 2997]);
  });

  it('passes a permanent error through at once', async () => {
    const { b, clock, events, faulty } = stack([{ op: 'load', nth: 1, kind: 'permanent' }]);
    const h: Handle = { type: 'index', name: id() };
    await b.save(h, Buffer.from('x'));
    await assert.rejects(b.load(h), (e: unknown) => isSafeholdError(e, 'IO') && /permanent/.test(e.message));
    assert.equal(faulty.calls('load'), 1, 'one attempt');
    assert.deepEqual([events.length, clock.slept.length], [0, 0]);
    await assert.rejects(b.load({ type: 'index', name: id() }), (e: unknown) => isSafeholdError(e, 'NOT_FOUND'));
    assert.equal(events.length, 0, 'NOT_FOUND is not retried');
  });

  it('gives up after maxAttempts, saying how many attempts and the last cause', async () => {
    const { b, faulty } = stack([{ op: 'stat', nth: 1, kind: 'transient', times: 100 }], { maxAttempts: 4 });
    await assert.rejects(b.stat({ type: 'snapshots', name: id() }), (e: unknown) => {
      assert.ok(isSafeholdError(e, 'IO'));
      assert.match(e.message, /failed after 4 attempts; last error: .*injected transient fault/);
      assert.equal(e.details?.attempts, 4);
      assert.ok(isSafeholdError(e.cause, 'IO'));
      return true;
    });
    assert.equal(faulty.calls('stat'), 4);
    assert.equal(RETRY_DEFAULTS.maxAttempts, 6);
  });

  it('turns a request that never answers into a retryable timeout', async () => {
    const mem = new MemoryBackend();
    const faulty = new FaultyBackend(mem, [{ op: 'load', nth: 1, kind: 'timeout' }]);
    const events: RetryEvent[] = [];
    const b = new RetryingBackend(faulty, { timeoutMs: 30, baseDelayMs: 1, onRetry: (e) => events.push(e) });
    const h: Handle = { type: 'snapshots', name: id() };
    await b.save(h, Buffer.from('snap'));
    const started = Date.now();
    assert.equal((await b.load(h)).toString(), 'snap');
    assert.ok(Date.now() - started < 2000);
    assert.equal(events.length, 1);
    assert.match(events[0]!.error.message, /no answer within 30 ms/);
  });

  it('retries a connection reset mid-load', async () => {
    const { b, events } = stack([{ op: 'load', nth: 1, kind: 'reset' }]);
    const h: Handle = { type: 'data', name: id() };
    await b.save(h, Buffer.from('0123456789'));
    assert.equal((await b.load(h, 2, 5)).toString(), '23456');
    assert.match(events[0]!.error.message, /connection reset/);
  });

  it('treats a truncated body as a short read and retries it', async () => {
    const { b, faulty, events } = stack([
      { op: 'load', nth: 1, kind: 'truncate' },
      { op: 'load', nth: 3, kind: 'truncate' },
      { op: 'load', nth: 5, kind: 'truncate' },
    ]);
    const h: Handle = { type: 'data', name: id() };
    const data = randomBytes(1000);
    await b.save(h, data);
    // Ranged: the requested length is the truth.
    assert.ok((await b.load(h, 100, 400)).equals(data.subarray(100, 500)));
    // Whole file: the size save (or list, or stat) reported is.
    assert.ok((await b.load(h)).equals(data));
    const other = new RetryingBackend(faulty, { clock: new RecordingClock(), timeoutMs: 0 });
    await other.list('data');
    assert.ok((await other.load(h)).equals(data));
    assert.deepEqual(
      faulty.injected.map((f) => f.kind),
      ['truncate', 'truncate', 'truncate'],
    );
    assert.equal(events.length, 2);
    assert.match(events[0]!.error.message, /short read .*got 200 of 400 bytes/);
  });

  it('a saveNew whose answer was lost succeeds on retry; a real conflict stays ALREADY_EXISTS', async () => {
    const { b, mem, events } = stack([{ op: 'saveNew', nth: 1, kind: 'transient', afterWrite: true }]);
    const h: Handle = { type: 'locks', name: id() };
    await b.saveNew!(h, Buffer.from('mine'));
    assert.equal(events.length, 1);
    assert.equal((await mem.load(h)).toString(), 'mine');
    await assert.rejects(b.saveNew!(h, Buffer.from('other')), (e: unknown) => isSafeholdError(e, 'ALREADY_EXISTS'));
    assert.equal((await mem.load(h)).toString(), 'mine');
  });

  it('has saveNew exactly when the wrapped backend has it', () => {
    const noSaveNew = { ...new MemoryBackend(), saveNew: undefined } as unknown as MemoryBackend;
    assert.equal(typeof new RetryingBackend(new MemoryBackend()).saveNew, 'function');
    assert.equal(new RetryingBackend(new FaultyBackend(noSaveNew)).saveNew, undefined);
  });
});
