// Runs one step of a runbook run and records every transition before the
// next thing happens: skipped (its `when:` does not hold), pending while its
// preconditions are checked, running (waiting for an approval step) for each
// attempt, then succeeded or failed. Each attempt has the step's timeout (an
// AbortSignal fired by the clock); failed attempts are retried after a
// backoff that doubles each time, with jitter.

import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import type { RunbookStepRecord } from '../../catalog/runbook-runs.ts';
import type { RunbookStep } from '../../config/types.ts';
import { formatDuration } from '../../core/format.ts';
import { requireConditions, evaluateThat } from './conditions.ts';
import { resolveDeep } from './placeholders.ts';
import type { RunEnv } from './run-env.ts';
import { approvalRole } from './run-view.ts';
import type { StepContext, StepKind, StepOutputs } from './step-kind.ts';
import { stepKind } from './step-registry.ts';

export type StepResult =
  | { status: 'succeeded' | 'skipped'; outputs: StepOutputs }
  | { status: 'failed'; error: string };

/** The wait before attempt `attempt + 1`: base·2^(attempt-1), between half and all of it (jitter). */
export function backoffMs(baseMs: number, attempt: number, random: () => number): number {
  const full = baseMs * 2 ** (attempt - 1);
  return Math.round(full / 2 + random() * (full / 2));
}

function message(e: unknown): string {
  return isSafeholdError(e) || e instanceof Error ? e.message : String(e);
}

/** Writes a step row change, then tells the watcher. */
function update(
  env: RunEnv,
  seq: number,
  patch: Parameters<ReturnType<RunEnv['catalog']['runbookRuns']>['updateStep']>[2],
) {
  env.catalog.runbookRuns().updateStep(env.runId, seq, patch);
  env.changed();
}

function finish(env: RunEnv, step: RunbookStep, seq: number, r: StepResult): StepResult {
  const now = env.clock.now();
  if (r.status === 'failed') {
    update(env, seq, { status: 'failed', error: r.error, finishedAt: now });
    env.audit(step.name, `step ${step.name} failed: ${r.error}`, 500);
  } else {
    update(env, seq, { status: r.status, outputs: r.outputs, error: null, finishedAt: now });
    env.audit(step.name, `step ${step.name} ${r.status}`);
  }
  env.scope.steps[step.name] = { status: r.status, outputs: r.status === 'failed' ? null : r.outputs };
  return r;
}

/**
 * Runs `step` (phase main or rollback). `row` is its existing row on resume
 * (re-used, its attempts counted on); otherwise a row is added.
 */
export async function runStep(
  env: RunEnv,
  step: RunbookStep,
  phase: 'main' | 'rollback',
  row: RunbookStepRecord | null,
): Promise<StepResult> {
  const kind = stepKind(step.kind);
  const idempotent = step.idempotent ?? kind?.idempotent ?? false;
  const seq = row?.seq ?? env.nextSeq();
  if (row === null) {
    env.catalog.runbookRuns().addStep({
      runId: env.runId,
      seq,
      name: step.name,
      kind: step.kind,
      phase,
      status: 'pending',
      attempt: 0,
      startedAt: env.clock.now(),
      idempotent,
    });
    env.changed();
  }
  try {
    if (step.when !== null && evaluateThat(step.when, env.scope, 'run') !== true) {
      env.log(`${step.name}: skipped (${step.when} does not hold)`);
      return finish(env, step, seq, { status: 'skipped', outputs: {} });
    }
    if (kind === undefined)
      throw new SafeholdError('RUNBOOK_STEP_FAILED', `the step kind '${step.kind}' is not available in this build`);
    await requireConditions(step.preconditions, env.scope, env.signal, env.config);
  } catch (e) {
    if (env.signal.aborted) throw e;
    return finish(env, step, seq, { status: 'failed', error: message(e) });
  }
  return attempts(env, step, kind, seq, row?.attempt ?? 0);
}

async function attempts(
  env: RunEnv,
  step: RunbookStep,
  kind: StepKind,
  seq: number,
  before: number,
): Promise<StepResult> {
  const { attempts: max, backoffMs: base } = step.retries;
  for (let n = 1; ; n++) {
    const attempt = before + n;
    const waits = step.kind === 'approval';
    update(env, seq, { status: waits ? 'waiting' : 'running', attempt, error: null });
    env.audit(step.name, `step ${step.name} ${waits ? 'waiting for approval' : 'running'} (attempt ${attempt})`);
    if (waits) await announceApproval(env, step);
    try {
      const params = resolveDeep(step.params, env.scope, 'run') as Record<string, unknown>;
      const outputs = await attemptOnce(env, step, kind, params, attempt);
      if (waits) env.catalog.runbookRuns().setStatus(env.runId, 'running');
      return finish(env, step, seq, { status: 'succeeded', outputs });
    } catch (e) {
      if (env.signal.aborted) throw e;
      if (n >= max || (isSafeholdError(e) && e.code === 'PRECONDITION_FAILED'))
        return finish(env, step, seq, { status: 'failed', error: message(e) });
      const wait = backoffMs(base, n, env.random);
      env.log(`${step.name}: attempt ${attempt} failed: ${message(e)}; retrying in ${formatDuration(wait)}`, 'warn');
      update(env, seq, { error: message(e) });
      await env.clock.sleep(wait, env.signal);
    }
  }
}

async function announceApproval(env: RunEnv, step: RunbookStep): Promise<void> {
  env.catalog.runbookRuns().setStatus(env.runId, 'waiting');
  env.changed();
  const role = approvalRole(step);
  const msg = (step.params as { message?: string }).message;
  await env.alert({
    event: 'runbook-approval',
    severity: 'warning',
    summary: `runbook ${env.runbook.name}: step ${step.name} waits for the approval of ${role === 'viewer' ? 'a' : 'an'} ${role}${msg ? `: ${msg}` : ''}`,
    details: { runbook: env.runbook.name, run: env.runId, step: step.name, role, destructive: env.runbook.destructive },
  });
}

/** One attempt under the step's timeout; a kind that ignores its signal is left behind when the signal fires. */
async function attemptOnce(
  env: RunEnv,
  step: RunbookStep,
  kind: StepKind,
  params: Record<string, unknown>,
  attempt: number,
): Promise<StepOutputs> {
  const timer = new AbortController();
  const timeout = new AbortController();
  if (step.timeoutMs !== null)
    env.clock.sleep(step.timeoutMs, timer.signal).then(
      () =>
        timeout.abort(
          new SafeholdError(
            'RUNBOOK_STEP_FAILED',
            `step ${step.name} timed out after ${formatDuration(step.timeoutMs!)}`,
            {
              retryable: true,
            },
          ),
        ),
      () => {},
    );
  const signal = AbortSignal.any([env.signal, timeout.signal]);
  const ctx: StepContext = {
    runId: env.runId,
    runbook: env.runbook.name,
    step: step.name,
    attempt,
    signal,
    clock: env.clock,
    config: env.config,
    catalog: env.catalog,
    log: (m, level) => env.log(`${step.name}: ${m}`, level),
    alert: (e) => env.alert(e),
  };
  const stopped = new Promise<never>((_, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  stopped.catch(() => {});
  try {
    return await Promise.race([kind.run(params, ctx), stopped]);
  } catch (e) {
    if (timeout.signal.aborted && !env.signal.aborted) throw timeout.signal.reason;
    throw e;
  } finally {
    timer.abort();
  }
}
