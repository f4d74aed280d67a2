// The server's periodic sweep of stale scope locks: leases past their maximum
// age, whose heartbeat stopped, or whose process is gone are cleared, each
// logged and raised as a 'stale-lock-cleared' alert.

import type { LeaseStore } from '../catalog/leases.ts';
import type { AlertEvent } from '../core/alert-event.ts';
import type { Clock } from '../core/clock.ts';
import { formatTime } from '../core/format.ts';

export interface SweepDeps {
  clock: Clock;
  alert(e: AlertEvent): void;
  log(level: 'info' | 'warn' | 'error', msg: string): void;
}

/** Clears the stale leases of `leases` (a failed sweep is logged, not thrown). */
export function sweepStaleLeases(leases: () => LeaseStore, deps: SweepDeps): void {
  let cleared;
  try {
    cleared = leases().sweep();
  } catch (e) {
    deps.log('warn', `lease sweep failed: ${e instanceof Error ? e.message : String(e)}`);
    return;
  }
  for (const c of cleared) {
    const l = c.lease;
    const why =
      c.why === 'max-age'
        ? 'older than the maximum age'
        : c.why === 'heartbeat'
          ? 'its heartbeat stopped'
          : 'its process is gone';
    deps.log(
      'warn',
      `cleared the lock on ${l.scope} held by ${l.runId ? `run ${l.runId.slice(0, 8)}` : l.holder} since ${formatTime(l.createdAt)}: ${why}`,
    );
    deps.alert({
      event: 'stale-lock-cleared',
      severity: 'warning',
      summary: `lock on ${l.scope} cleared: ${why}`,
      details: {
        scope: l.scope,
        holder: l.holder,
        runId: l.runId,
        ageMs: deps.clock.now() - l.createdAt,
        why: c.why,
      },
    });
  }
}
