// The `notify` step: sends a runbook-notice alert (severity info unless it
// names another) with its message through the configured alert channels.

import type { NotifyParams } from '../../../config/runbook-params.ts';
import type { StepKind } from '../step-kind.ts';

export const notifyStep: StepKind<NotifyParams> = {
  kind: 'notify',
  idempotent: true,
  async plan(p) {
    return [`send a ${p.severity ?? 'info'} notice: ${p.message}`];
  },
  async run(p, ctx) {
    await ctx.alert({
      event: 'runbook-notice',
      severity: p.severity ?? 'info',
      summary: p.message,
      details: { runbook: ctx.runbook, run: ctx.runId, step: ctx.step },
    });
    return { sent: true, severity: p.severity ?? 'info' };
  },
};
