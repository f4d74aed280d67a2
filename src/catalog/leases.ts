// Leases on scopes (S5): at most one holder per scope, so two backups of a
// scope never run at once, nor a backup and a purge. Acquiring is atomic
// across processes sharing the catalog (one SQLite write transaction). A
// lease whose holder's heartbeat is older than the heartbeat timeout, or
// whose process is gone from this host, is reclaimed; one older than the
// maximum age (default 12 h) is cleared whatever its heartbeat says. Both
// are reported to the caller, who logs and alerts. A whole target's scope
// and its units' scopes exclude each other (scopesOverlap).

import { hostname } from 'node:os';
import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../core/clock.ts';
import { SafeholdError } from '../core/errors.ts';
import { formatDuration, formatTime } from '../core/format.ts';
import { CatalogStore } from './db.ts';
import { processAlive } from '../core/process.ts';

export type LeaseKind = 'backup' | 'purge' | 'restore' | 'copy';

export interface Lease {
  scope: string;
  kind: LeaseKind;
  holder: string;
  runId: string | null;
  pid: number | null;
  hostname: string | null;
  createdAt: number;
  heartbeatAt: number;
}

export interface LeasePolicy {
  /** A lease older than this is cleared whatever its heartbeat (S5: default 12 h). */
  maxAgeMs: number;
  /** A lease whose heartbeat is older than this is reclaimed (its holder stopped renewing). */
  heartbeatTimeoutMs: number;
}

export const DEFAULT_LEASE_POLICY: LeasePolicy = { maxAgeMs: 12 * 3600_000, heartbeatTimeoutMs: 5 * 60_000 };

/** A lease removed so that another could be taken, and why: for the log and an alert. */
export interface ClearedLease {
  lease: Lease;
  why: 'max-age' | 'heartbeat' | 'holder-gone';
}

export type AcquireResult =
  | { ok: true; lease: Lease; cleared: ClearedLease[] }
  | { ok: false; heldBy: Lease; cleared: ClearedLease[] };

export class LeaseStore extends CatalogStore {
  private readonly policy: LeasePolicy;

  constructor(db: DatabaseSync, clock: Clock, policy: LeasePolicy = DEFAULT_LEASE_POLICY) {
    super(db, clock);
    this.policy = policy;
  }

  /**
   * Takes the leases of all `scopes` for `holder`, or none of them: clears
   * expired leases first, then fails with the first lease still held by
   * someone else. `kind` may differ per scope (what the holder does there).
   */
  acquire(
    scopes: readonly string[],
    req: { kind: LeaseKind | ((scope: string) => LeaseKind); holder: string; runId?: string | null },
  ): AcquireResult {
    const now = this.clock.now();
    return this.tx('acquire lease', () => {
      const cleared: ClearedLease[] = [];
      const held = this.list();
      for (const scope of scopes) {
        for (const cur of held.filter((l) => l.holder !== req.holder && scopesOverlap(l.scope, scope))) {
          if (cleared.some((c) => c.lease.scope === cur.scope)) continue;
          const why = this.expired(cur, now);
          if (!why) return { ok: false as const, heldBy: cur, cleared };
          this.db.prepare('DELETE FROM leases WHERE scope = ?').run(cur.scope);
          cleared.push({ lease: cur, why });
        }
      }
      let lease: Lease | null = null;
      for (const scope of scopes) {
        lease = {
          scope,
          kind: typeof req.kind === 'function' ? req.kind(scope) : req.kind,
          holder: req.holder,
          runId: req.runId ?? null,
          pid: process.pid,
          hostname: hostname(),
          createdAt: now,
          heartbeatAt: now,
        };
        this.db
          .prepare(
            `INSERT INTO leases (scope, kind, holder, run_id, pid, hostname, created_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (scope) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
          )
          .run(scope, lease.kind, lease.holder, lease.runId, lease.pid, lease.hostname, now, now);
      }
      if (!lease) throw new SafeholdError('INTERNAL', 'acquire needs at least one scope');
      return { ok: true as const, lease, cleared };
    });
  }

  /** Renews the heartbeat of every lease of `holder`; returns how many. */
  heartbeat(holder: string): number {
    const r = this.sql('renew leases', () =>
      this.db.prepare('UPDATE leases SET heartbeat_at = ? WHERE holder = ?').run(this.clock.now(), holder),
    );
    return Number(r.changes);
  }

  release(holder: string): number {
    const r = this.sql('release leases', () => this.db.prepare('DELETE FROM leases WHERE holder = ?').run(holder));
    return Number(r.changes);
  }

  list(): Lease[] {
    const rows = this.sql('list leases', () => this.db.prepare('SELECT * FROM leases ORDER BY scope').all()) as Record<
      string,
      unknown
    >[];
    return rows.map(toLease);
  }

  /** Clears every expired lease (a periodic sweep); returns what was cleared. */
  sweep(): ClearedLease[] {
    const now = this.clock.now();
    return this.tx('sweep leases', () => {
      const out: ClearedLease[] = [];
      for (const l of this.list()) {
        const why = this.expired(l, now);
        if (!why) continue;
        this.db.prepare('DELETE FROM leases WHERE scope = ? AND holder = ?').run(l.scope, l.holder);
        out.push({ lease: l, why });
      }
      return out;
    });
  }

  private expired(l: Lease, now: number): ClearedLease['why'] | null {
    return leaseStaleness(l, now, this.policy);
  }
}

/**
 * Whether two scopes exclude each other: the same scope, or a whole target
 * ('target:T') and one of its units ('unit:T/U'), since a whole-device
 * backup and a unit's export must not run at once.
 */
export function scopesOverlap(a: string, b: string): boolean {
  if (a === b) return true;
  const unitOf = (s: string) => (s.startsWith('unit:') ? s.slice(5) : null);
  const targetOf = (s: string) => (s.startsWith('target:') ? s.slice(7) : null);
  const ua = unitOf(a);
  const ub = unitOf(b);
  const ta = targetOf(a);
  const tb = targetOf(b);
  const under = (t: string | null, u: string | null) => t !== null && u?.startsWith(`${t}/`) === true;
  return under(ta, ub) || under(tb, ua);
}

/** The lease scope of a task: the whole target, or one unit of it. */
export function taskScope(target: string, unit: string | null): string {
  return unit === null ? `target:${target}` : `unit:${target}/${unit}`;
}

/**
 * 'held by run 1a2b… (backup, pid 42 on host) since 2026-…, 3m ago': for
 * refusals. `doing`, when known, replaces the lease's kind: what the holder
 * does now ('plan nightly: backup of QA1/DOMAIN1').
 */
export function describeHolder(l: Lease, now: number, doing?: string | null): string {
  return `held by ${l.runId ? `run ${l.runId.slice(0, 8)}` : l.holder} (${doing ?? l.kind}, pid ${l.pid ?? '?'} on ${l.hostname ?? '?'}) since ${formatTime(l.createdAt)}, ${formatDuration(now - l.createdAt)} ago`;
}

function toLease(r: Record<string, unknown>): Lease {
  return {
    scope: r.scope as string,
    kind: r.kind as LeaseKind,
    holder: r.holder as string,
    runId: (r.run_id as string | null) ?? null,
    pid: (r.pid as number | null) ?? null,
    hostname: (r.hostname as string | null) ?? null,
    createdAt: r.created_at as number,
    heartbeatAt: r.heartbeat_at as number,
  };
}

/**
 * Why a lease may be taken away (the most precise reason first), or null
 * while it is live: its holder process on this host is gone, it is older
 * than the maximum age, or its heartbeat is older than the timeout.
 */
export function leaseStaleness(l: Lease, now: number, policy: LeasePolicy): ClearedLease['why'] | null {
  if (l.hostname === hostname() && l.pid !== null && l.pid !== process.pid && !processAlive(l.pid))
    return 'holder-gone';
  if (now - l.createdAt >= policy.maxAgeMs) return 'max-age';
  if (now - l.heartbeatAt >= policy.heartbeatTimeoutMs) return 'heartbeat';
  return null;
}
