// S5 exclusion for one plan run: the leases on every scope its tasks touch
// (all or none) and, for a repository destination, the repository lock
// (shared for backups and copies, exclusive when a retention purge must
// prune). Taken with the run's retry policy: a scheduled run waits and
// retries on the policy's grid, an on-demand run is refused at once with
// who holds what since when. Leases cleared for being stale are logged and
// alerted. While held, the leases' heartbeat is renewed.

import type { RetryPolicy } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import type { AlertEvent } from '../../core/alert-event.ts';
import { isSafeholdError } from '../../core/errors.ts';
import { formatDuration, formatTime } from '../../core/format.ts';
import type { LeaseKind, LeaseStore } from '../../catalog/leases.ts';
import { describeHolder, scopesOverlap, taskScope } from '../../catalog/leases.ts';
import type { PlanRunStore } from '../../catalog/plan-runs.ts';
import type { ActivityKind } from '../../config/types.ts';
import type { Repository } from '../../repo/repository.ts';
import { RepoLock, removeLocks } from '../../repo/lock.ts';
import { withRetries } from './retry.ts';

export interface RunLockRequest {
  leases: LeaseStore;
  runId: string;
  scopes: string[];
  /** What the run does on each scope (its lease's kind). */
  kind: LeaseKind | ((scope: string) => LeaseKind);
  /** What the run holding a lease does now ('plan nightly: backup of QA1/x'), for the refusal; null: the lease's kind. */
  holderActivity?: (runId: string, scope: string) => string | null;
  /** The repository to lock, or null (directory destination). */
  repo: Repository | null;
  exclusive: boolean;
  policy: RetryPolicy | null;
  /** Start of the retry window (a scheduled run's due time); default now. */
  windowStart?: number;
  heartbeatMs: number;
  clock: Clock;
  signal?: AbortSignal;
  log(msg: string, level?: 'info' | 'warn' | 'error'): void;
  alert(e: AlertEvent): void;
}

export interface HeldLocks {
  repoLock: RepoLock | null;
  release(): Promise<void>;
}

export type RunLockResult =
  | { ok: true; locks: HeldLocks; attempts: number }
  | { ok: false; reason: string; attempts: number; exhausted: boolean };

export async function acquireRunLocks(req: RunLockRequest): Promise<RunLockResult> {
  const r = await withRetries(async () => tryOnce(req), req.policy, req.clock, req.signal, {
    ...(req.windowStart !== undefined ? { start: req.windowStart } : {}),
    onWait: (at, n, of) => req.log(`lock retry ${n} of ${of} at ${formatTime(at)}`),
  });
  if (r.ok) return { ok: true, locks: r.value!, attempts: r.attempts.length };
  const over =
    r.attempts.length > 1
      ? ` (${r.attempts.length} attempts over ${formatDuration(r.attempts.at(-1)! - r.attempts[0]!)})`
      : '';
  return { ok: false, reason: `${r.reason}${over}`, attempts: r.attempts.length, exhausted: r.exhausted };
}

/** The lease kind of a task's activity: purges and copies are named, the rest (backup, export, drill) read as backups. */
export function leaseKindOf(kind: ActivityKind): LeaseKind {
  return kind === 'purge' || kind === 'copy' ? kind : 'backup';
}

/**
 * What the run holding a lease does on that scope, from the catalog: its
 * plan and the task running (else the first to run) there, e.g. 'plan
 * nightly: backup of QA1/DOMAIN1'; null when the run is not recorded.
 */
export function holderActivity(store: PlanRunStore): (runId: string, scope: string) => string | null {
  return (runId, scope) => {
    const holder = store.getRun(runId);
    if (!holder) return null;
    const onScope = store.tasks(runId).filter((t) => scopesOverlap(taskScope(t.target, t.unit), scope));
    const t = onScope.find((x) => x.status === 'running') ?? onScope.find((x) => x.status === 'pending') ?? onScope[0];
    return `plan ${holder.plan}${t ? `: ${t.kind} of ${t.target}${t.unit ? `/${t.unit}` : ''}` : ''}`;
  };
}

async function tryOnce(req: RunLockRequest) {
  const got = req.leases.acquire(req.scopes, { kind: req.kind, holder: req.runId, runId: req.runId });
  for (const c of got.cleared) {
    const l = c.lease;
    const age = req.clock.now() - l.createdAt;
    const why =
      c.why === 'max-age'
        ? `older than the maximum age (${formatDuration(age)})`
        : c.why === 'heartbeat'
          ? `its heartbeat stopped ${formatDuration(req.clock.now() - l.heartbeatAt)} ago`
          : `its process ${l.pid} is gone`;
    req.log(
      `cleared the lock on ${l.scope} held by ${l.runId ? `run ${l.runId.slice(0, 8)}` : l.holder}: ${why}`,
      'warn',
    );
    req.alert({
      event: 'stale-lock-cleared',
      severity: 'warning',
      summary: `lock on ${l.scope} cleared: ${why}`,
      details: { scope: l.scope, holder: l.holder, runId: l.runId, ageMs: age, why: c.why, clearedBy: req.runId },
    });
  }
  if (!got.ok) {
    const h = got.heldBy;
    const doing = h.runId ? (req.holderActivity?.(h.runId, h.scope) ?? null) : null;
    const reason = `${h.scope} is ${describeHolder(h, req.clock.now(), doing)}`;
    req.log(reason, 'warn');
    return { ok: false as const, retryable: true, reason };
  }
  let repoLock: RepoLock | null = null;
  if (req.repo) {
    try {
      // Locks of processes that are gone (or silent past the stale limit) are reclaimed, not waited for.
      const removed = await removeLocks(req.repo, false);
      if (removed > 0) req.log(`removed ${removed} stale repository lock(s) left by processes that are gone`, 'warn');
      repoLock = await RepoLock.acquire(req.repo, req.exclusive);
    } catch (e) {
      req.leases.release(req.runId);
      if (!isSafeholdError(e, 'LOCKED')) throw e;
      req.log(e.message, 'warn');
      return { ok: false as const, retryable: true, reason: e.message };
    }
  }
  req.log(
    `locked ${req.scopes.join(', ')}${req.repo ? ` and the repository (${req.exclusive ? 'exclusive' : 'shared'})` : ''}`,
  );
  const beat = setInterval(() => {
    try {
      req.leases.heartbeat(req.runId);
    } catch {
      /* the catalog is busy: the next beat renews */
    }
  }, req.heartbeatMs);
  beat.unref();
  const locks: HeldLocks = {
    repoLock,
    async release() {
      clearInterval(beat);
      await repoLock?.release().catch(() => {});
      req.leases.release(req.runId);
    },
  };
  return { ok: true as const, value: locks };
}
