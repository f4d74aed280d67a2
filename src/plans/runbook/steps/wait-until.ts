// The `wait-until` step: checks a condition (an sql, command or http check
// and a `that:` expression over its results) every `interval` (default 5s)
// until it holds; the step's timeout ends the wait. Outputs: waitedMs, checks.

import { SafeholdError } from '../../../core/errors.ts';
import type { RunbookCondition } from '../../../config/types.ts';
import type { WaitUntilParams } from '../../../config/runbook-params.ts';
import { parseDuration } from '../../../config/values.ts';
import { compileCondition } from '../../../config/compile-runbooks.ts';
import { describeCondition, evaluateCondition } from '../conditions.ts';
import type { ResolveScope } from '../placeholders.ts';
import type { StepContext, StepKind } from '../step-kind.ts';

const DEFAULT_INTERVAL_MS = 5000;

function conditionOf(p: WaitUntilParams): RunbookCondition {
  return compileCondition(p);
}

function intervalOf(p: WaitUntilParams): number {
  if (p.interval === undefined) return DEFAULT_INTERVAL_MS;
  const ms = parseDuration(p.interval);
  if (ms === null || ms <= 0)
    throw new SafeholdError('RUNBOOK_STEP_FAILED', `interval '${p.interval}' is not a duration like '5s'`);
  return ms;
}

/** Placeholders were resolved before the step ran; only the check's own results remain. */
function scopeOf(ctx: StepContext): ResolveScope {
  return { vars: {}, steps: {}, run: { id: ctx.runId, startedAt: 0, runbook: ctx.runbook } };
}

export const waitUntilStep: StepKind<WaitUntilParams> = {
  kind: 'wait-until',
  idempotent: true,
  async plan(p, ctx) {
    const c = conditionOf(p);
    const now = await evaluateCondition(c, scopeOf(ctx), { mode: 'dry', signal: ctx.signal, config: ctx.config });
    const state = now.holds === null ? '' : now.holds ? ' (holds now)' : ` (does not hold now: ${now.why})`;
    return [`wait until ${describeCondition(c)}, checking every ${intervalOf(p) / 1000}s${state}`];
  },
  async run(p, ctx) {
    const c = conditionOf(p);
    const every = intervalOf(p);
    const start = ctx.clock.now();
    for (let checks = 1; ; checks++) {
      const r = await evaluateCondition(c, scopeOf(ctx), { mode: 'run', signal: ctx.signal, config: ctx.config });
      if (r.holds === true) return { waitedMs: ctx.clock.now() - start, checks };
      ctx.log(`not yet: ${r.why}`);
      await ctx.clock.sleep(every, ctx.signal);
    }
  },
};
