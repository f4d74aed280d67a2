// Retries of transient backend faults: wraps a backend and repeats a call
// that failed with a retryable SafeholdError (5xx, throttling, connection
// resets, timeouts, transport corruption) with exponential backoff and full
// jitter, on the injected clock. A permanent error passes through at once;
// after the last attempt the error says how many attempts were made and what
// the last cause was. Each attempt has a timeout (a request that never
// answers becomes a retryable error), and a load that returns fewer bytes
// than asked for — or than list/stat/save said the file has — is a short
// read: transient, retried.

import { isSafeholdError, SafeholdError } from '../../core/errors.ts';
import { systemClock } from '../../core/clock.ts';
import type { Clock } from '../../core/clock.ts';
import type { Backend, FileInfo, FileType, Handle } from './backend.ts';

export const RETRY_DEFAULTS = {
  maxAttempts: 6,
  baseDelayMs: 200,
  maxDelayMs: 30_000,
  /** One request (a whole pack upload or download) may take this long before it counts as hung. */
  timeoutMs: 10 * 60_000,
} as const;

/** One retry about to happen, for logs (describeRetry says it in a line). */
export interface RetryEvent {
  /** The backend's location (never holds credentials). */
  location: string;
  op: string;
  /** `data/1a2b…`, or the type listed. */
  what: string;
  /** The attempt that failed (1-based). */
  attempt: number;
  maxAttempts: number;
  delayMs: number;
  error: SafeholdError;
}

export interface RetryOptions {
  maxAttempts?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** 0: no timeout. */
  timeoutMs?: number;
  clock?: Clock;
  /** In [0, 1): the jitter source (tests pass a fixed one). */
  random?: () => number;
  onRetry?: (e: RetryEvent) => void;
}

export class RetryingBackend implements Backend {
  readonly location: string;
  readonly saveNew?: (h: Handle, data: Uint8Array) => Promise<void>;
  readonly cleanTmp?: (olderThanMs: number, now: number) => Promise<number>;
  readonly removeMany?: (hs: readonly Handle[]) => Promise<void>;
  private readonly inner: Backend;
  private readonly opts: Required<Omit<RetryOptions, 'onRetry'>> & Pick<RetryOptions, 'onRetry'>;
  /** Sizes learnt from list, stat and save, to catch short whole-file loads. */
  private readonly sizes = new Map<string, number>();

  constructor(inner: Backend, opts: RetryOptions = {}) {
    this.inner = inner;
    this.location = inner.location;
    this.opts = {
      maxAttempts: Math.max(1, opts.maxAttempts ?? RETRY_DEFAULTS.maxAttempts),
      baseDelayMs: opts.baseDelayMs ?? RETRY_DEFAULTS.baseDelayMs,
      maxDelayMs: opts.maxDelayMs ?? RETRY_DEFAULTS.maxDelayMs,
      timeoutMs: opts.timeoutMs ?? RETRY_DEFAULTS.timeoutMs,
      clock: opts.clock ?? systemClock,
      random: opts.random ?? Math.random,
      onRetry: opts.onRetry,
    };
    if (inner.saveNew) this.saveNew = (h, data) => this.createNew(h, data);
    if (inner.cleanTmp) this.cleanTmp = (olderThanMs, now) => inner.cleanTmp!(olderThanMs, now);
    if (inner.removeMany) {
      this.removeMany = async (hs) => {
        for (const h of hs) this.sizes.delete(key(h));
        await this.run('removeMany', `${hs.length} file${hs.length === 1 ? '' : 's'}`, () => inner.removeMany!(hs));
      };
    }
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    await this.run('save', describe(h), () => this.inner.save(h, data));
    this.sizes.set(key(h), data.byteLength);
  }

  async load(h: Handle, offset = 0, length?: number): Promise<Buffer> {
    return this.run('load', describe(h), async () => {
      const got = await this.inner.load(h, offset, length);
      const known = this.sizes.get(key(h));
      const want = length ?? (known === undefined ? undefined : known - offset);
      if (want !== undefined && got.byteLength !== want) {
        throw new SafeholdError(
          'IO',
          `short read of ${describe(h)} from ${this.location}: got ${got.byteLength} of ${want} bytes at offset ${offset}`,
          { retryable: true, details: { type: h.type, name: h.name, offset, wanted: want, got: got.byteLength } },
        );
      }
      return got;
    });
  }

  async stat(h: Handle): Promise<FileInfo> {
    const info = await this.run('stat', describe(h), () => this.inner.stat(h));
    this.sizes.set(key(h), info.size);
    return info;
  }

  async list(type: FileType): Promise<FileInfo[]> {
    const files = await this.run('list', type, () => this.inner.list(type));
    for (const f of files) this.sizes.set(key({ type, name: f.name }), f.size);
    return files;
  }

  async remove(h: Handle): Promise<void> {
    this.sizes.delete(key(h));
    await this.run('remove', describe(h), () => this.inner.remove(h));
  }

  exists(): Promise<boolean> {
    return this.run('exists', 'config', () => this.inner.exists());
  }

  create(): Promise<void> {
    return this.run('create', 'the repository', () => this.inner.create());
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /**
   * saveNew, retried. When an attempt failed after the store took the file
   * (the answer was lost), the next one finds the name taken: if the stored
   * bytes are ours, that is the success the lost answer would have said.
   */
  private async createNew(h: Handle, data: Uint8Array): Promise<void> {
    let failedBefore = false;
    await this.run('saveNew', describe(h), async () => {
      try {
        await this.inner.saveNew!(h, data);
      } catch (e) {
        if (failedBefore && isSafeholdError(e, 'ALREADY_EXISTS') && (await this.holds(h, data))) return;
        failedBefore = true;
        throw e;
      }
    });
    this.sizes.set(key(h), data.byteLength);
  }

  private async holds(h: Handle, data: Uint8Array): Promise<boolean> {
    const stored = await this.inner.load(h).catch(() => undefined);
    return stored !== undefined && Buffer.from(data.buffer, data.byteOffset, data.byteLength).equals(stored);
  }

  /** Runs `fn` until it succeeds, fails permanently, or runs out of attempts. */
  private async run<T>(op: string, what: string, fn: () => Promise<T>): Promise<T> {
    const { maxAttempts, clock } = this.opts;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.withTimeout(op, what, fn);
      } catch (e) {
        if (!isSafeholdError(e) || !e.retryable) throw e;
        if (attempt >= maxAttempts) throw exhausted(e, op, what, this.location, attempt);
        const delayMs = this.delay(attempt);
        this.opts.onRetry?.({ location: this.location, op, what, attempt, maxAttempts, delayMs, error: e });
        await clock.sleep(delayMs);
      }
    }
  }

  /** Full jitter: uniform in [0, min(max, base · 2^(attempt−1))]. */
  private delay(attempt: number): number {
    const cap = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** (attempt - 1));
    return Math.floor(this.opts.random() * cap);
  }

  /** One attempt; one that has not settled after timeoutMs fails with a retryable timeout. */
  private async withTimeout<T>(op: string, what: string, fn: () => Promise<T>): Promise<T> {
    const { timeoutMs, clock } = this.opts;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) return fn();
    const timer = new AbortController();
    const timedOut = clock.sleep(timeoutMs, timer.signal).then(
      () => {
        throw new SafeholdError('IO', `${op} ${what} at ${this.location}: no answer within ${timeoutMs} ms`, {
          retryable: true,
          details: { timeoutMs },
        });
      },
      () => new Promise<never>(() => {}),
    );
    try {
      return await Promise.race([fn(), timedOut]);
    } finally {
      timer.abort();
    }
  }
}

/**
 * A retry as one line for a command's output or a run's log, e.g.
 * "S3 request failed (…), retrying in 1.2 s (attempt 2 of 6)".
 */
export function describeRetry(e: RetryEvent): string {
  const kind = e.location.startsWith('s3:') ? 'S3' : e.location.startsWith('sftp:') ? 'SFTP' : 'Backend';
  return `${kind} request failed (${e.error.message}), retrying in ${(e.delayMs / 1000).toFixed(1)} s (attempt ${e.attempt + 1} of ${e.maxAttempts})`;
}

function exhausted(last: SafeholdError, op: string, what: string, location: string, attempts: number): SafeholdError {
  return new SafeholdError(
    last.code,
    `${op} ${what} at ${location} failed after ${attempts} attempt${attempts === 1 ? '' : 's'}; last error: ${last.message}`,
    { cause: last, retryable: last.retryable, details: { ...last.details, attempts } },
  );
}

function key(h: Handle): string {
  return h.type === 'config' ? 'config' : `${h.type}/${h.name}`;
}

/** `data/1a2b3c4d5e6f` (file ids shortened); plain names (WAL files) in full, as they say what the file is. */
function describe(h: Handle): string {
  if (h.type === 'config') return 'config';
  return `${h.type}/${/^[0-9a-f]{64}$/.test(h.name) ? h.name.slice(0, 12) : h.name}`;
}
