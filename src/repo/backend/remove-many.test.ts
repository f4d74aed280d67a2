// Batch deletes through the layers of a remote backend: removeFiles uses
// removeMany where a backend has it and parallel removes otherwise; the
// retrying, rate-limited, cached and fault-injecting wrappers have removeMany
// exactly when the backend they wrap has it, retry it, drop its cache
// entries and count it. Retries are told as one line for logs. The backend
// with batch deletes here is a local directory whose removeMany removes the
// batch in one call (S3's DeleteObjects is tested against radosgw).

import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBackend } from './local-backend.ts';
import { MemoryBackend } from './memory-backend.ts';
import { FaultyBackend } from './faulty-backend.ts';
import { RetryingBackend, describeRetry } from './retrying-backend.ts';
import type { RetryEvent } from './retrying-backend.ts';
import { RateLimitedBackend } from './rate-limited-backend.ts';
import { CachedBackend } from './cached-backend.ts';
import { wrapRemote } from './factory.ts';
import { removeFiles } from './backend.ts';
import type { Handle } from './backend.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { Clock } from '../../core/clock.ts';

/** A local directory with batch deletes: each removeMany call is one "request". */
class BatchLocalBackend extends LocalBackend {
  batches = 0;
  async removeMany(hs: readonly Handle[]): Promise<void> {
    this.batches++;
    await Promise.all(hs.map((h) => this.remove(h)));
  }
}

/** Sleeps end at once (retries without waiting). */
const instant: Clock = { now: () => 0, sleep: async () => {} };

function tmp(t: TestContext): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-remove-many-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return root;
}

/** A snapshot file whose name is the SHA-256 of its bytes (so the cache keeps it). */
function snapshotFile(i: number): { h: Handle; data: Buffer } {
  const data = Buffer.from(`snapshot ${i}`);
  return { h: { type: 'snapshots', name: crypto.createHash('sha256').update(data).digest('hex') }, data };
}

describe('batch deletes through the backend layers', () => {
  it('every wrapper has removeMany exactly when the backend it wraps has it', () => {
    const plain = new MemoryBackend();
    const batch = new BatchLocalBackend('/nonexistent');
    const wrap = [
      (b: MemoryBackend | BatchLocalBackend) => new RetryingBackend(b),
      (b: MemoryBackend | BatchLocalBackend) => new RateLimitedBackend(b, { upload: 1000 }),
      (b: MemoryBackend | BatchLocalBackend) => new CachedBackend(b, '/nonexistent-cache'),
      (b: MemoryBackend | BatchLocalBackend) => new FaultyBackend(b),
    ];
    for (const w of wrap) {
      assert.equal(w(plain).removeMany, undefined);
      assert.equal(typeof w(batch).removeMany, 'function');
    }
  });

  it('removeFiles removes in one batch where the stack has removeMany, retried, cache entries dropped', async (t) => {
    const root = tmp(t);
    const inner = new BatchLocalBackend(path.join(root, 'repo'));
    const faulty = new FaultyBackend(inner, [{ op: 'remove', nth: 2, kind: 'transient' }]);
    const events: RetryEvent[] = [];
    const cacheDir = path.join(root, 'cache');
    const b = wrapRemote(faulty, {
      cacheDir,
      clock: instant,
      rateLimit: { upload: 1e9 },
      retry: { timeoutMs: 0, onRetry: (e) => events.push(e) },
    });
    await b.create();
    const files = Array.from({ length: 5 }, (_, i) => snapshotFile(i));
    for (const f of files) await b.save(f.h, f.data);
    assert.equal(fs.readdirSync(path.join(cacheDir, 'snapshots')).length, 5, 'saved files are cached');
    const missing: Handle = { type: 'snapshots', name: 'f'.repeat(64) };
    await removeFiles(b, [...files.slice(0, 4).map((f) => f.h), missing]);
    assert.deepEqual(
      events.map((e) => [e.op, e.what, e.attempt]),
      [['removeMany', '5 files', 1]],
    );
    assert.equal(inner.batches, 1, 'the failed attempt stopped before the store; the retry is one batch');
    assert.equal(faulty.calls('remove'), 10, 'each file of each attempt counts as a remove');
    assert.deepEqual(
      (await b.list('snapshots')).map((f) => f.name),
      [files[4]!.h.name],
    );
    assert.deepEqual(fs.readdirSync(path.join(cacheDir, 'snapshots')), [files[4]!.h.name]);
  });

  it('removeFiles falls back to parallel removes, at most `concurrency` at once', async () => {
    const mem = new MemoryBackend();
    let inFlight = 0;
    let most = 0;
    const remove = mem.remove.bind(mem);
    mem.remove = async (h) => {
      most = Math.max(most, ++inFlight);
      await new Promise((r) => setTimeout(r, 2));
      await remove(h);
      inFlight--;
    };
    await mem.create();
    const hs: Handle[] = Array.from({ length: 20 }, (_, i) => ({ type: 'locks', name: `${i}`.padStart(64, '0') }));
    for (const h of hs) await mem.save(h, Buffer.from('l'));
    await removeFiles(mem, hs, 3);
    assert.deepEqual(await mem.list('locks'), []);
    assert.equal(most, 3);
  });
});

describe('describeRetry', () => {
  it('says which kind of request failed, why, the delay and the next attempt', () => {
    const error = new SafeholdError('IO', 'loading data/1a2b at https://h, bucket b: slow down (SlowDown, HTTP 503)', {
      retryable: true,
    });
    const e: RetryEvent = {
      location: 's3:https://h/b',
      op: 'load',
      what: 'data/1a2b',
      attempt: 1,
      maxAttempts: 6,
      delayMs: 1234,
      error,
    };
    assert.equal(
      describeRetry(e),
      'S3 request failed (loading data/1a2b at https://h, bucket b: slow down (SlowDown, HTTP 503)), retrying in 1.2 s (attempt 2 of 6)',
    );
    assert.match(
      describeRetry({ ...e, location: 'sftp:u@h:/r', attempt: 5, delayMs: 30_000 }),
      /^SFTP request failed \(.*\), retrying in 30\.0 s \(attempt 6 of 6\)$/,
    );
  });

  it('the retrying backend produces the line of each retry', async () => {
    const lines: string[] = [];
    const faulty = new FaultyBackend(new MemoryBackend(), [{ op: 'list', nth: 1, kind: 'transient', times: 2 }]);
    const b = new RetryingBackend(faulty, {
      clock: instant,
      timeoutMs: 0,
      random: () => 0.5,
      onRetry: (e) => lines.push(describeRetry(e)),
    });
    await b.list('snapshots');
    assert.deepEqual(lines, [
      'Backend request failed (list list snapshots at memory:: injected transient fault (503 slow down)), retrying in 0.1 s (attempt 2 of 6)',
      'Backend request failed (list list snapshots at memory:: injected transient fault (503 slow down)), retrying in 0.2 s (attempt 3 of 6)',
    ]);
  });
});
