// At start: quiesces recorded by a process that died before undoing them are
// undone now (unquiesce through the target's adapter), logged, and released.
// Runs left 'running' by a dead process are marked failed and the leases
// they held are released. The caller gets what was repaired, so it can raise
// 'quiesce-repaired' alerts and retry abandoned scheduled runs (server.ts).

import type { PlanRunRecord, PlanRunStore } from '../../catalog/plan-runs.ts';
import type { LeaseStore } from '../../catalog/leases.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';
import type { AlertEvent } from '../../core/alert-event.ts';

export interface RepairedQuiesce {
  target: string;
  unit: string | null;
  runId: string;
  pid: number | null;
}

export interface Recovery {
  runsFailed: number;
  /** The runs just marked failed, as they are now. */
  abandoned: PlanRunRecord[];
  unquiesced: string[];
  repaired: RepairedQuiesce[];
  notUndone: string[];
  leasesReleased: number;
}

export async function recoverAbandoned(
  store: PlanRunStore,
  targets: readonly PlanTarget[],
  leases?: LeaseStore,
): Promise<Recovery> {
  const res: Recovery = {
    runsFailed: 0,
    abandoned: [],
    unquiesced: [],
    repaired: [],
    notUndone: [],
    leasesReleased: 0,
  };
  for (const q of store.abandonedQuiesces()) {
    const what = q.unit ? `${q.target}/${q.unit}` : q.target;
    const device = targets.find((t) => t.name === q.target)?.device;
    try {
      if (!device) throw new Error(`target ${q.target} is no longer configured as a device`);
      await device.unquiesce(q.unit, 60);
      store.releaseQuiesce(q.id, `unquiesced at start (left by process ${q.pid}, which died)`);
      store.log(
        q.runId,
        'warn',
        `unquiesced ${what} at start: the quiesce was left by process ${q.pid}, which died`,
        q.taskId,
      );
      res.unquiesced.push(what);
      res.repaired.push({ target: q.target, unit: q.unit, runId: q.runId, pid: q.pid });
    } catch (e) {
      store.log(
        q.runId,
        'error',
        `could not undo the quiesce of ${what} left by process ${q.pid}: ${e instanceof Error ? e.message : String(e)}`,
        q.taskId,
      );
      res.notUndone.push(what);
    }
  }
  res.abandoned = store.markAbandonedRuns();
  res.runsFailed = res.abandoned.length;
  for (const r of res.abandoned) {
    const n = leases?.release(r.id) ?? 0;
    if (n > 0) store.log(r.id, 'warn', `released ${n} lease(s) held by this run, whose process ${r.pid} died`);
    res.leasesReleased += n;
  }
  return res;
}

/** The 'quiesce-repaired' alert for a quiesce undone at start. */
export function quiesceRepairedAlert(q: RepairedQuiesce): AlertEvent {
  const what = q.unit ? `${q.target}/${q.unit}` : q.target;
  return {
    event: 'quiesce-repaired',
    severity: 'warning',
    summary: `unquiesced ${what} at start: left behind by process ${q.pid}, which died`,
    details: { target: q.target, unit: q.unit, runId: q.runId, pid: q.pid },
  };
}
