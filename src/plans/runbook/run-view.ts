// Builds the view of a runbook run (runbook-views.ts) from its catalog rows:
// the steps reached, in order, then the main steps not reached yet (seq 0,
// status pending), and for a step that waits the approval it needs.

import type { RunbookRunRecord, RunbookStepRecord } from '../../catalog/runbook-runs.ts';
import type { Runbook, RunbookRole, RunbookStep } from '../../config/types.ts';
import type { RunView, StepView } from './runbook-views.ts';
import { stepKind } from './step-registry.ts';

/** The least role that may approve a step that waits: the approval step's own, else operator. */
export function approvalRole(step: RunbookStep | undefined): RunbookRole {
  if (step?.kind === 'approval') return ((step.params as { role?: RunbookRole }).role ?? 'operator') as RunbookRole;
  return 'operator';
}

export function stepDefinition(rb: Runbook, name: string, phase: 'main' | 'rollback'): RunbookStep | undefined {
  return phase === 'main' ? rb.steps.find((s) => s.name === name) : rb.rollbackSteps[name];
}

function stepView(r: RunbookStepRecord, rb: Runbook): StepView {
  const waits = r.status === 'waiting' || r.status === 'interrupted';
  return {
    seq: r.seq,
    name: r.name,
    kind: r.kind,
    phase: r.phase,
    status: r.status,
    attempt: r.attempt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    outputs: r.outputs,
    error: r.error,
    idempotent: r.idempotent,
    approval: waits ? { role: approvalRole(stepDefinition(rb, r.name, r.phase)), needsConfirm: rb.destructive } : null,
  };
}

function pendingView(s: RunbookStep): StepView {
  return {
    seq: 0,
    name: s.name,
    kind: s.kind,
    phase: 'main',
    status: 'pending',
    attempt: 0,
    startedAt: null,
    finishedAt: null,
    outputs: null,
    error: null,
    idempotent: s.idempotent ?? stepKind(s.kind)?.idempotent ?? false,
    approval: null,
  };
}

export function toRunView(run: RunbookRunRecord, rows: readonly RunbookStepRecord[]): RunView {
  const rb = run.definition as Runbook;
  const reached = new Set(rows.filter((r) => r.phase === 'main').map((r) => r.name));
  return {
    id: run.id,
    runbook: run.runbook,
    status: run.status,
    dryRun: run.dryRun,
    vars: run.vars,
    startedBy: run.startedBy,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    error: run.error,
    steps: [
      ...rows.map((r) => stepView(r, rb)),
      ...(rb.steps ?? []).filter((s) => !reached.has(s.name)).map(pendingView),
    ],
  };
}
