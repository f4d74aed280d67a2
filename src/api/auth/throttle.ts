// Login throttling, kept in the server's memory (a restart forgets it). What
// is enforced (`LoginThrottle.attempt` runs one password check under it):
// - Per name: 5 failed logins for one user name within 15 minutes lock that
//   name for 15 minutes, even for the right password.
// - Per client address: 50 failed logins from one address within 15
//   minutes, whatever the names, lock that address for 15 minutes, so
//   flooding many names from one place gets that place refused. IPv6
//   addresses count per /64 (the block one host usually holds). A call
//   without an address (null) has no per-address limit. The address is the
//   socket's: behind a reverse proxy every client has the proxy's address
//   and they share this limit. A successful login forgets its name's
//   failures, not its address's.
// - One check at a time per name: while a password check for a name runs,
//   another attempt for that name is refused at once (not queued) with the
//   same retryable LOCKED error, retry after 1 s. Parallel guesses are so
//   checked one by one, each failure counted before the next is checked.
// - Locks are looked at before the slow (scrypt) check and again after it:
//   an attempt whose name or address was locked while it ran fails even with
//   the right password.
// Memory: a locked name or address is never dropped before its lock ends.
// Their number is bounded by the failure rate: every failure costs one
// scrypt check (~0.1 s of a core) and a lock takes 5 failures (50 for an
// address), so at V checks a second at most V × 900 s / 5 names are locked
// at once (~7,000 at 40 checks/s: a few MB). Names and addresses with
// failures but no lock are capped at 10,000 each; past that the least
// recently failing one is dropped, which forgives at most 4 failures of one
// name and takes 10,000 fresh failures (from at least 200 addresses) to
// reach. Checks in flight are at most one per name, each an open request.

import type { Clock } from '../../core/clock.ts';
import { SafeholdError } from '../../core/errors.ts';

export interface ThrottlePolicy {
  /** Failures of one name within windowMs that lock it. */
  maxFailures: number;
  windowMs: number;
  /** How long a name or address stays locked. */
  lockMs: number;
  /** Names with failures but no lock kept at most (locked names are never dropped). */
  maxNames: number;
  /** Failures from one client address (IPv6: one /64) within windowMs that lock it; 0 turns the limit off. */
  ipMaxFailures: number;
  /** Addresses with failures but no lock kept at most. */
  maxAddresses: number;
}

export const DEFAULT_THROTTLE: ThrottlePolicy = {
  maxFailures: 5,
  windowMs: 15 * 60_000,
  lockMs: 15 * 60_000,
  maxNames: 10_000,
  ipMaxFailures: 50,
  maxAddresses: 10_000,
};

/** How long a client is told to wait when another check for the same name is running. */
export const BUSY_RETRY_MS = 1000;

/** How many keys are tracked (for tests and the memory bound). */
export interface ThrottleStats {
  names: number;
  lockedNames: number;
  addresses: number;
  lockedAddresses: number;
  checking: number;
}

/** Failure times and locks for one kind of key (names, or addresses). */
class FailureLedger {
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly lockMs: number;
  private readonly maxTracked: number;
  /** Keys with failures and no lock, least recently failed first. */
  private readonly recent = new Map<string, number[]>();
  /** Locked keys and the end of their lock, oldest lock first (so also soonest end first). */
  private readonly locked = new Map<string, number>();

  constructor(maxFailures: number, windowMs: number, lockMs: number, maxTracked: number) {
    this.maxFailures = maxFailures;
    this.windowMs = windowMs;
    this.lockMs = lockMs;
    this.maxTracked = maxTracked;
  }

  /** Milliseconds until `key`'s lock ends; 0 when it is not locked. */
  lockedFor(key: string, now: number): number {
    this.expire(now);
    const until = this.locked.get(key);
    return until === undefined ? 0 : until - now;
  }

  /** Counts a failure; returns whether the key is locked now. A failure while locked does not extend the lock. */
  fail(key: string, now: number): boolean {
    this.expire(now);
    if (this.locked.has(key)) return true;
    const failures = (this.recent.get(key) ?? []).filter((t) => t > now - this.windowMs);
    failures.push(now);
    this.recent.delete(key); // re-inserted below: the map stays ordered by last failure
    if (failures.length >= this.maxFailures) {
      this.locked.set(key, now + this.lockMs);
      return true;
    }
    this.recent.set(key, failures);
    this.trim(now);
    return false;
  }

  /** Forgets the key's failures (never its lock). */
  forget(key: string): void {
    this.recent.delete(key);
  }

  counts(now: number): { tracked: number; locked: number } {
    this.expire(now);
    return { tracked: this.recent.size, locked: this.locked.size };
  }

  private expire(now: number): void {
    for (const [key, until] of this.locked) {
      if (until > now) break;
      this.locked.delete(key);
    }
  }

  /** Drops keys whose failures all left the window, then the least recently failing past the cap. */
  private trim(now: number): void {
    for (const [key, failures] of this.recent) {
      const stale = failures[failures.length - 1]! <= now - this.windowMs;
      if (!stale && this.recent.size <= this.maxTracked) break;
      this.recent.delete(key);
    }
  }
}

export class LoginThrottle {
  private readonly clock: Clock;
  private readonly policy: ThrottlePolicy;
  private readonly names: FailureLedger;
  private readonly addresses: FailureLedger;
  /** Names whose password check is running now. */
  private readonly checking = new Set<string>();

  constructor(clock: Clock, policy: Partial<ThrottlePolicy> = {}) {
    this.clock = clock;
    this.policy = { ...DEFAULT_THROTTLE, ...policy };
    const p = this.policy;
    this.names = new FailureLedger(p.maxFailures, p.windowMs, p.lockMs, p.maxNames);
    this.addresses = new FailureLedger(p.ipMaxFailures, p.windowMs, p.lockMs, p.maxAddresses);
  }

  /**
   * Runs one password check for `name` from `ip` under the throttle. Throws
   * 'LOCKED' (retryable, details.retryAfterMs) when the name or address is
   * locked, before or after the check, or when another check for the name is
   * running. `check` returns null for a failed login, which is counted.
   * Returns check's value, or null for a failure that did not lock.
   */
  async attempt<T>(name: string, ip: string | null, check: () => Promise<T | null>): Promise<T | null> {
    this.refuseIfLocked(name, ip);
    if (this.checking.has(name)) throw busy(name);
    this.checking.add(name);
    let result: T | null;
    try {
      result = await check();
    } finally {
      this.checking.delete(name);
    }
    if (result === null) this.fail(name, ip);
    this.refuseIfLocked(name, ip);
    if (result !== null) this.succeed(name);
    return result;
  }

  /** Milliseconds until `name` (from `ip`, when given) may try again; 0 when it may now. */
  blockedFor(name: string, ip: string | null = null): number {
    return Math.max(this.names.lockedFor(name, this.clock.now()), this.addressLockedFor(ip));
  }

  /** Records a failed login of `name` (from `ip`, when given); returns whether the name or address is locked now. */
  fail(name: string, ip: string | null = null): boolean {
    const now = this.clock.now();
    const byName = this.names.fail(name, now);
    const byAddress = this.limitsAddress(ip) && this.addresses.fail(addressKey(ip), now);
    return byName || byAddress;
  }

  /** A successful login forgets the name's failures (not its address's). */
  succeed(name: string): void {
    this.names.forget(name);
  }

  stats(): ThrottleStats {
    const now = this.clock.now();
    const n = this.names.counts(now);
    const a = this.addresses.counts(now);
    return {
      names: n.tracked,
      lockedNames: n.locked,
      addresses: a.tracked,
      lockedAddresses: a.locked,
      checking: this.checking.size,
    };
  }

  private refuseIfLocked(name: string, ip: string | null): void {
    const now = this.clock.now();
    const byName = this.names.lockedFor(name, now);
    if (byName > 0) throw locked(`too many failed logins for ${name}`, byName);
    const byAddress = this.addressLockedFor(ip);
    if (byAddress > 0) throw locked('too many failed logins from this address', byAddress);
  }

  private addressLockedFor(ip: string | null): number {
    return this.limitsAddress(ip) ? this.addresses.lockedFor(addressKey(ip), this.clock.now()) : 0;
  }

  private limitsAddress(ip: string | null): ip is string {
    return ip !== null && ip !== '' && this.policy.ipMaxFailures > 0;
  }
}

/** The key an address counts under: IPv4 as it is (also when IPv4-mapped), IPv6 by its /64. */
export function addressKey(ip: string): string {
  const bare = ip.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped) return mapped[1]!;
  if (!bare.includes(':')) return bare;
  return `${ipv6Groups(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, '::' expanded and leading zeros dropped. */
function ipv6Groups(ip: string): string[] {
  const split = (s: string | undefined) =>
    s ? s.split(':').flatMap((g) => (g.includes('.') ? ['v4', 'v4'] : [g])) : [];
  const [head, tail] = ip.split('::');
  const left = split(head);
  const right = split(tail);
  const zeros = tail === undefined ? [] : Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0');
  return [...left, ...zeros, ...right].map((g) => g.replace(/^0+(?=.)/, ''));
}

function locked(why: string, waitMs: number): SafeholdError {
  const minutes = Math.ceil(waitMs / 60_000);
  return new SafeholdError('LOCKED', `${why}; try again in ${minutes} min`, {
    retryable: true,
    details: { retryAfterMs: waitMs },
  });
}

function busy(name: string): SafeholdError {
  return new SafeholdError('LOCKED', `another login for ${name} is being checked; try again in a moment`, {
    retryable: true,
    details: { retryAfterMs: BUSY_RETRY_MS },
  });
}
