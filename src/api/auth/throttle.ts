// Login throttling: after 5 failed logins for one user name within 15
// minutes, logins for that name are refused for 15 minutes (even with the
// right password). Kept in memory by the server process (a restart forgets
// it); the number of names tracked is capped so unknown names cannot grow it
// without bound.

import type { Clock } from '../../core/clock.ts';

export interface ThrottlePolicy {
  maxFailures: number;
  windowMs: number;
  lockMs: number;
  maxNames: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = { maxFailures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000, maxNames: 10_000 };

interface Entry {
  failures: number[];
  lockedUntil: number;
}

export class LoginThrottle {
  private readonly clock: Clock;
  private readonly policy: ThrottlePolicy;
  private readonly names = new Map<string, Entry>();

  constructor(clock: Clock, policy: ThrottlePolicy = DEFAULT_THROTTLE) {
    this.clock = clock;
    this.policy = policy;
  }

  /** Milliseconds until `name` may try again; 0 when it may now. */
  blockedFor(name: string): number {
    const e = this.names.get(name);
    return e ? Math.max(0, e.lockedUntil - this.clock.now()) : 0;
  }

  /** Records a failed login; returns whether the name is now locked. */
  fail(name: string): boolean {
    const now = this.clock.now();
    const e = this.names.get(name) ?? { failures: [], lockedUntil: 0 };
    e.failures = e.failures.filter((t) => t > now - this.policy.windowMs);
    e.failures.push(now);
    if (e.failures.length >= this.policy.maxFailures) {
      e.lockedUntil = now + this.policy.lockMs;
      e.failures = [];
    }
    this.names.delete(name); // re-insert: the map stays ordered by last activity
    this.names.set(name, e);
    this.trim(now);
    return e.lockedUntil > now;
  }

  /** A successful login forgets the name's failures. */
  succeed(name: string): void {
    this.names.delete(name);
  }

  private trim(now: number): void {
    if (this.names.size <= this.policy.maxNames) return;
    for (const [name, e] of this.names) {
      if (e.lockedUntil <= now && e.failures.every((t) => t <= now - this.policy.windowMs)) this.names.delete(name);
    }
    // Still too many: drop the least recently active.
    for (const name of this.names.keys()) {
      if (this.names.size <= this.policy.maxNames) break;
      this.names.delete(name);
    }
  }
}
