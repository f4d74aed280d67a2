// Approvals of runbook steps: the roles (viewer < operator < admin), and
// waiting for an approval row written by any process (the CLI's
// `runbook approve`, the API) by polling the catalog every 250 ms.

import type { Clock } from '../../core/clock.ts';
import type { Catalog } from '../../catalog/catalog.ts';
import type { ApprovalAction, RunbookApprovalRecord } from '../../catalog/runbook-runs.ts';
import type { RunbookRole } from '../../config/types.ts';

export const APPROVAL_POLL_MS = 250;

const RANK: Record<string, number> = { viewer: 0, operator: 1, admin: 2 };

/** Whether `role` is at least `needed`. */
export function roleAllows(role: string, needed: RunbookRole): boolean {
  return (RANK[role] ?? -1) >= RANK[needed]!;
}

/**
 * Waits until an approval of `step` with one of `actions` from a role at
 * least `needed` is recorded; marks it used and returns it. Approvals that do
 * not fit (another action, a lower role) are used up and ignored.
 */
export async function waitForApproval(o: {
  catalog: Catalog;
  clock: Clock;
  runId: string;
  step: string;
  needed: RunbookRole;
  actions: readonly ApprovalAction[];
  signal: AbortSignal;
}): Promise<RunbookApprovalRecord> {
  const store = o.catalog.runbookRuns();
  for (;;) {
    o.signal.throwIfAborted();
    const a = store.unusedApproval(o.runId, o.step);
    if (a !== null) {
      store.markApprovalUsed(o.runId, a.seq);
      if (o.actions.includes(a.action) && roleAllows(a.role, o.needed)) return a;
      continue;
    }
    await o.clock.sleep(APPROVAL_POLL_MS, o.signal);
  }
}
