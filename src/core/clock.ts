// The one clock of Safehold. Everything that reads the time or waits takes a
// Clock, so that retry windows, stale locks and maintenance windows can be
// tested in milliseconds with a ManualClock.

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        clearTimeout(t);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

/** A clock that only moves when told to; sleepers wake when `advance` passes their deadline. */
export class ManualClock implements Clock {
  private t: number;
  private sleepers: { until: number; resolve: () => void }[] = [];
  /** Called after every advance: tests use it to keep a simulated holder's heartbeat fresh. */
  onAdvance: ((now: number) => void) | null = null;

  constructor(start = Date.UTC(2026, 0, 1)) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const sleeper = {
        until: this.t + ms,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.sleepers = this.sleepers.filter((s) => s !== sleeper);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.sleepers.push(sleeper);
    });
  }

  /** How many sleepers are waiting (tests wait for a run to reach its next sleep). */
  get waiting(): number {
    return this.sleepers.length;
  }

  /** Moves time forward, waking every sleeper whose deadline is reached, in deadline order. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      this.sleepers.sort((a, b) => a.until - b.until);
      const next = this.sleepers[0];
      if (!next || next.until > end) break;
      this.sleepers.shift();
      this.t = Math.max(this.t, next.until);
      this.onAdvance?.(this.t);
      next.resolve();
      await new Promise((r) => setImmediate(r));
    }
    this.t = end;
    this.onAdvance?.(this.t);
  }

  set(ms: number): void {
    this.t = ms;
  }
}
