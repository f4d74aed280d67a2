// At start: quiesces recorded by a process that died before undoing them are
// undone now (unquiesce through the target's adapter), logged, and released.
// Runs left 'running' by a dead process are marked failed.

import type { PlanRunStore } from '../catalog/plan-runs.ts';
import type { PlanTarget } from './targets.ts';

export interface Recovery {
  runsFailed: number;
  unquiesced: string[];
  notUndone: string[];
}

export async function recoverAbandoned(store: PlanRunStore, targets: readonly PlanTarget[]): Promise<Recovery> {
  const res: Recovery = { runsFailed: 0, unquiesced: [], notUndone: [] };
  for (const q of store.abandonedQuiesces()) {
    const what = q.unit ? `${q.target}/${q.unit}` : q.target;
    const device = targets.find((t) => t.name === q.target)?.device;
    try {
      if (!device) throw new Error(`target ${q.target} is no longer configured as a device`);
      await device.unquiesce(q.unit, 60);
      store.releaseQuiesce(q.id, `unquiesced at start (left by process ${q.pid}, which died)`);
      store.log(q.runId, 'warn', `unquiesced ${what} at start: the quiesce was left by process ${q.pid}, which died`, q.taskId);
      res.unquiesced.push(what);
    } catch (e) {
      store.log(q.runId, 'error', `could not undo the quiesce of ${what} left by process ${q.pid}: ${e instanceof Error ? e.message : String(e)}`, q.taskId);
      res.notUndone.push(what);
    }
  }
  res.runsFailed = store.markAbandonedRuns();
  return res;
}
