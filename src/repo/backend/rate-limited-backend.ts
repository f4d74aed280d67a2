// A bandwidth limit on a backend: one token bucket per direction, in bytes
// per second (opts.rateLimit). Uploads (save, saveNew) take their size from
// the upload bucket before they start; downloads (load) take the requested
// length before, or the returned size after a whole-file load. A bucket holds
// at most one second of tokens; a transfer larger than that runs into debt,
// and the next transfer waits until the debt is paid, so the average stays at
// the limit. Waiting uses the injected clock.

import { SafeholdError } from '../../core/errors.ts';
import { systemClock } from '../../core/clock.ts';
import type { Clock } from '../../core/clock.ts';
import type { Backend, FileInfo, FileType, Handle } from './backend.ts';

/** Bytes per second; absent or 0: unlimited. */
export interface RateLimit {
  upload?: number;
  download?: number;
}

/** Tokens (bytes) refilled at `rate` per second, up to one second's worth. */
export class TokenBucket {
  private readonly rate: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

  constructor(bytesPerSecond: number, clock: Clock = systemClock) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) {
      throw new SafeholdError('USAGE', `a rate limit is a positive number of bytes per second, not ${bytesPerSecond}`);
    }
    this.rate = bytesPerSecond;
    this.clock = clock;
    this.tokens = bytesPerSecond;
    this.last = clock.now();
  }

  /** Takes `n` tokens, waiting as long as the bucket is in debt afterwards. */
  async take(n: number): Promise<void> {
    const now = this.clock.now();
    this.tokens = Math.min(this.rate, this.tokens + ((now - this.last) * this.rate) / 1000);
    this.last = now;
    this.tokens -= n;
    if (this.tokens < 0) await this.clock.sleep(Math.ceil((-this.tokens * 1000) / this.rate));
  }
}

export class RateLimitedBackend implements Backend {
  readonly location: string;
  readonly saveNew?: (h: Handle, data: Uint8Array) => Promise<void>;
  readonly cleanTmp?: (olderThanMs: number, now: number) => Promise<number>;
  readonly removeMany?: (hs: readonly Handle[]) => Promise<void>;
  private readonly inner: Backend;
  private readonly up: TokenBucket | null;
  private readonly down: TokenBucket | null;

  constructor(inner: Backend, limit: RateLimit, clock: Clock = systemClock) {
    this.inner = inner;
    this.location = inner.location;
    this.up = limit.upload ? new TokenBucket(limit.upload, clock) : null;
    this.down = limit.download ? new TokenBucket(limit.download, clock) : null;
    if (inner.saveNew) {
      this.saveNew = async (h, data) => {
        await this.up?.take(data.byteLength);
        await inner.saveNew!(h, data);
      };
    }
    if (inner.cleanTmp) this.cleanTmp = (olderThanMs, now) => inner.cleanTmp!(olderThanMs, now);
    if (inner.removeMany) this.removeMany = (hs) => inner.removeMany!(hs);
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    await this.up?.take(data.byteLength);
    await this.inner.save(h, data);
  }

  async load(h: Handle, offset?: number, length?: number): Promise<Buffer> {
    if (!this.down) return this.inner.load(h, offset, length);
    if (length !== undefined) await this.down.take(length);
    const got = await this.inner.load(h, offset, length);
    if (length === undefined) await this.down.take(got.byteLength);
    return got;
  }

  stat(h: Handle): Promise<FileInfo> {
    return this.inner.stat(h);
  }

  list(type: FileType): Promise<FileInfo[]> {
    return this.inner.list(type);
  }

  remove(h: Handle): Promise<void> {
    return this.inner.remove(h);
  }

  exists(): Promise<boolean> {
    return this.inner.exists();
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
