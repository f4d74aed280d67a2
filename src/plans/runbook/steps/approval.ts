// The `approval` step: blocks until someone whose role is at least the one
// named (default operator) approves it, through `safehold runbook approve` or
// the API. The engine marks the step waiting and sends the runbook-approval
// alert; a destructive runbook's approval also needs its typed name (checked
// when the approval is given). Outputs: approvedBy, role.

import type { ApprovalParams } from '../../../config/runbook-params.ts';
import { waitForApproval } from '../approvals.ts';
import type { StepKind } from '../step-kind.ts';

export const approvalStep: StepKind<ApprovalParams> = {
  kind: 'approval',
  idempotent: true,
  async plan(p) {
    const role = p.role ?? 'operator';
    return [`wait for the approval of ${role === 'viewer' ? 'a' : 'an'} ${role}${p.message ? `: ${p.message}` : ''}`];
  },
  async run(p, ctx) {
    const a = await waitForApproval({
      catalog: ctx.catalog,
      clock: ctx.clock,
      runId: ctx.runId,
      step: ctx.step,
      needed: p.role ?? 'operator',
      actions: ['approve'],
      signal: ctx.signal,
    });
    ctx.log(`approved by ${a.principal} (${a.role})`);
    return { approvedBy: a.principal, role: a.role };
  },
};
