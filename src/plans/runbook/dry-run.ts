// The dry run of a runbook: for each step in order, its parameters with the
// placeholders resolved from what is known (outputs of steps not run yet
// show as <output of S.Y>), every precondition evaluated (checks only read),
// and what the step would change as its kind describes it. Nothing is
// written: no run row, no step runs.

import type { Clock } from '../../core/clock.ts';
import { isSafeholdError } from '../../core/errors.ts';
import type { Catalog } from '../../catalog/catalog.ts';
import type { Config, Runbook, RunbookStep } from '../../config/types.ts';
import { describeCondition, evaluateCondition, evaluateThat } from './conditions.ts';
import { resolveDeep } from './placeholders.ts';
import type { ResolveScope } from './placeholders.ts';
import type { DryRunPlan } from './runbook-views.ts';
import type { StepContext } from './step-kind.ts';
import { stepKind } from './step-registry.ts';

type PlannedStep = DryRunPlan['steps'][number];

export async function dryRunPlan(
  deps: { config: Config; catalog: Catalog; clock: Clock },
  rb: Runbook,
  vars: Record<string, string>,
): Promise<DryRunPlan> {
  const scope: ResolveScope = {
    vars,
    steps: {},
    run: { id: 'dry-run', startedAt: deps.clock.now(), runbook: rb.name },
  };
  const steps: PlannedStep[] = [];
  for (const step of rb.steps) steps.push(await planStep(deps, rb, step, scope));
  return { runbook: rb.name, vars, steps };
}

function message(e: unknown): string {
  return isSafeholdError(e) || e instanceof Error ? e.message : String(e);
}

async function planStep(
  deps: { config: Config; catalog: Catalog; clock: Clock },
  rb: Runbook,
  step: RunbookStep,
  scope: ResolveScope,
): Promise<PlannedStep> {
  const signal = AbortSignal.timeout(step.timeoutMs ?? 60_000);
  const params = resolveDeep(step.params, scope, 'dry') as Record<string, unknown>;
  const preconditions: PlannedStep['preconditions'] = [];
  for (const c of step.preconditions) {
    const r = await evaluateCondition(c, scope, { mode: 'dry', signal, config: deps.config });
    preconditions.push({ text: describeCondition(c), holds: r.holds, why: r.why });
  }
  const planned = { name: step.name, kind: step.kind, params, preconditions };
  if (step.when !== null) {
    const holds = evaluateThat(step.when, scope, 'dry');
    if (holds === false) return { ...planned, changes: [`skipped: ${step.when} does not hold`] };
    if (holds === null)
      preconditions.push({
        text: `when ${step.when}`,
        holds: null,
        why: 'depends on the outputs of steps not run yet',
      });
  }
  const kind = stepKind(step.kind);
  if (kind === undefined)
    return { ...planned, changes: [`cannot tell: the step kind '${step.kind}' is not available`] };
  const ctx: StepContext = {
    runId: 'dry-run',
    runbook: rb.name,
    step: step.name,
    attempt: 1,
    signal,
    clock: deps.clock,
    config: deps.config,
    catalog: deps.catalog,
    log: () => {},
    alert: async () => {},
  };
  try {
    return { ...planned, changes: await kind.plan(params, ctx) };
  } catch (e) {
    return { ...planned, changes: [`cannot tell before it runs: ${message(e)}`] };
  }
}
