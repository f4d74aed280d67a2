// Executes a runbook run from its first step, or resumes it after its
// process died: steps already done are kept (their outputs feed the
// placeholders), the step that was running re-runs when it is idempotent,
// and when it is not the run is `interrupted` until someone approves a rerun
// or marks it done. A failed step stops the run, lets it continue, or runs
// its rollback steps. The run's row carries a heartbeat while this process
// owns it; an abort recorded by another process is noticed within a second.

import { hostname } from 'node:os';
import type { RunbookRunStatus, RunbookStepRecord } from '../../catalog/runbook-runs.ts';
import type { RunbookStep } from '../../config/types.ts';
import { isSafeholdError } from '../../core/errors.ts';
import { waitForApproval } from './approvals.ts';
import type { RunEnv } from './run-env.ts';
import { runStep } from './step-runner.ts';
import type { StepResult } from './step-runner.ts';
import { stepKind } from './step-registry.ts';

/** How often the owner writes its heartbeat and looks for an abort. */
export const HEARTBEAT_MS = 1000;
/** A heartbeat older than this means the owner is gone, even if a process of its pid lives. */
export const HEARTBEAT_STALE_MS = 15_000;

const DONE = new Set(['succeeded', 'skipped']);

/** Runs (or resumes) the run to a final status, or to 'interrupted' when this process stops. */
export async function executeRun(env: RunEnv, o: { stop: AbortSignal }): Promise<RunbookRunStatus> {
  const store = env.catalog.runbookRuns();
  store.claim(env.runId, process.pid, hostname());
  const beat = setInterval(() => heartbeat(env), HEARTBEAT_MS);
  beat.unref();
  try {
    const status = await runSteps(env);
    return settle(env, status.status, status.error);
  } catch (e) {
    if (o.stop.aborted && !isAborted(env)) return settle(env, 'interrupted', 'the process running it stopped');
    if (isAborted(env)) return settle(env, 'aborted', store.get(env.runId)?.error ?? 'aborted');
    return settle(env, 'failed', isSafeholdError(e) || e instanceof Error ? e.message : String(e));
  } finally {
    clearInterval(beat);
  }
}

function isAborted(env: RunEnv): boolean {
  return env.catalog.runbookRuns().get(env.runId)?.status === 'aborted';
}

function heartbeat(env: RunEnv): void {
  try {
    const store = env.catalog.runbookRuns();
    store.heartbeat(env.runId);
    if (store.get(env.runId)?.status === 'aborted') (env as RunEnvWithAbort).abortRun?.();
  } catch {
    // A busy catalog skips one beat.
  }
}

/** The engine's handle to abort its own run (set by the service). */
export type RunEnvWithAbort = RunEnv & { abortRun?: () => void };

async function settle(env: RunEnv, status: RunbookRunStatus, error: string | null): Promise<RunbookRunStatus> {
  const store = env.catalog.runbookRuns();
  for (const r of store.steps(env.runId))
    if (['running', 'waiting', 'pending'].includes(r.status))
      store.updateStep(env.runId, r.seq, {
        status: status === 'interrupted' ? 'interrupted' : 'failed',
        error: status === 'interrupted' ? 'the process running it stopped' : status,
        finishedAt: env.clock.now(),
      });
  store.setStatus(env.runId, status, status === 'succeeded' ? null : error);
  env.audit(null, `run ${status}${error ? `: ${error}` : ''}`, status === 'succeeded' ? 200 : 500);
  env.changed();
  if (status === 'failed')
    await env.alert({
      event: 'runbook-failed',
      severity: 'critical',
      summary: `runbook ${env.runbook.name} failed: ${error ?? 'unknown error'}`,
      details: { runbook: env.runbook.name, run: env.runId, error },
    });
  return status;
}

function latestRow(rows: readonly RunbookStepRecord[], name: string, phase: 'main' | 'rollback') {
  return rows.filter((r) => r.name === name && r.phase === phase).at(-1) ?? null;
}

async function runSteps(env: RunEnv): Promise<{ status: RunbookRunStatus; error: string | null }> {
  const rows = env.catalog.runbookRuns().steps(env.runId);
  for (const r of rows)
    if (DONE.has(r.status)) env.scope.steps[r.name] = { status: r.status, outputs: r.outputs ?? {} };
  for (const step of env.runbook.steps) {
    const row = latestRow(rows, step.name, 'main');
    if (row !== null && DONE.has(row.status)) continue;
    const result =
      row !== null && row.status === 'failed' ? failedBefore(row) : await runOrResume(env, step, 'main', row);
    if (result.status !== 'failed') continue;
    if (step.onFailure === 'continue') {
      env.log(`${step.name} failed (${result.error}); continuing`, 'warn');
      continue;
    }
    if (step.onFailure === 'rollback') return rollback(env, step, rows, result.error);
    return { status: 'failed', error: `step ${step.name} failed: ${result.error}` };
  }
  return { status: 'succeeded', error: null };
}

function failedBefore(row: RunbookStepRecord): StepResult {
  return { status: 'failed', error: row.error ?? 'failed' };
}

/** A step reached before: an idempotent one re-runs; another waits for an approval to rerun or to be marked done. */
async function runOrResume(
  env: RunEnv,
  step: RunbookStep,
  phase: 'main' | 'rollback',
  row: RunbookStepRecord | null,
): Promise<StepResult> {
  const interrupted = row !== null && ['running', 'waiting', 'interrupted'].includes(row.status);
  const idempotent = step.idempotent ?? stepKind(step.kind)?.idempotent ?? false;
  if (!interrupted || idempotent) return runStep(env, step, phase, row);
  const store = env.catalog.runbookRuns();
  store.updateStep(env.runId, row.seq, { status: 'interrupted', error: 'interrupted while running; not idempotent' });
  store.setStatus(env.runId, 'interrupted');
  env.audit(step.name, `step ${step.name} interrupted: waits for an approval to rerun it or mark it done`);
  env.changed();
  await env.alert({
    event: 'runbook-approval',
    severity: 'warning',
    summary: `runbook ${env.runbook.name}: step ${step.name} was interrupted and is not idempotent: approve a rerun or mark it done`,
    details: { runbook: env.runbook.name, run: env.runId, step: step.name, role: 'operator', interrupted: true },
  });
  const a = await waitForApproval({
    catalog: env.catalog,
    clock: env.clock,
    runId: env.runId,
    step: step.name,
    needed: 'operator',
    actions: ['rerun', 'mark-done'],
    signal: env.signal,
  });
  store.setStatus(env.runId, 'running');
  env.log(`${step.name}: ${a.action} approved by ${a.principal} (${a.role})`);
  if (a.action === 'rerun') return runStep(env, step, phase, row);
  store.updateStep(env.runId, row.seq, {
    status: 'succeeded',
    outputs: { markedDone: true },
    error: null,
    finishedAt: env.clock.now(),
  });
  env.scope.steps[step.name] = { status: 'succeeded', outputs: { markedDone: true } };
  env.audit(step.name, `step ${step.name} marked done by ${a.principal}`);
  env.changed();
  return { status: 'succeeded', outputs: { markedDone: true } };
}

async function rollback(
  env: RunEnv,
  failed: RunbookStep,
  rows: readonly RunbookStepRecord[],
  error: string,
): Promise<{ status: RunbookRunStatus; error: string }> {
  env.log(`${failed.name} failed (${error}); rolling back: ${failed.rollback.join(', ')}`, 'warn');
  for (const name of failed.rollback) {
    const def = env.runbook.rollbackSteps[name]!;
    const row = latestRow(rows, name, 'rollback');
    if (row !== null && DONE.has(row.status)) continue;
    const r =
      row !== null && row.status === 'failed' ? failedBefore(row) : await runOrResume(env, def, 'rollback', row);
    if (r.status === 'failed')
      return {
        status: 'failed',
        error: `step ${failed.name} failed: ${error}; rollback step ${name} failed: ${r.error}`,
      };
  }
  const main = latestRow(env.catalog.runbookRuns().steps(env.runId), failed.name, 'main');
  if (main !== null) env.catalog.runbookRuns().updateStep(env.runId, main.seq, { status: 'rolled-back' });
  env.changed();
  return {
    status: 'failed',
    error: `step ${failed.name} failed: ${error}; rolled back (${failed.rollback.join(', ')})`,
  };
}
