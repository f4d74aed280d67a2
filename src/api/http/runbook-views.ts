// What the runbook routes answer: the runbook service's records shaped for
// schemas-runbooks.ts, with every credential in a URL or conninfo string
// (postgres://user:PASSWORD@host, password=…) hidden, since runbook
// parameters, variables and outputs often hold connection strings.

import type { Runbook, RunbookCondition, RunbookStep } from '../../config/types.ts';
import type { DryRunPlan, RunView, RunbookSummary } from '../../plans/runbook/runbook-service.ts';

const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*):[^@/?#\s]*@/gi;
const CONNINFO_PASSWORD = /\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)/gi;

/** A string with the passwords of URLs and conninfo strings replaced by ***. */
export function hideCredentials(s: string): string {
  return s.replace(URL_PASSWORD, '$1:***@').replace(CONNINFO_PASSWORD, 'password=***');
}

/** hideCredentials on every string inside a JSON-like value. */
export function hideDeep<T>(v: T): T {
  if (typeof v === 'string') return hideCredentials(v) as T;
  if (Array.isArray(v)) return v.map(hideDeep) as T;
  if (v !== null && typeof v === 'object')
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, hideDeep(x)])) as T;
  return v;
}

export function summaryView(s: RunbookSummary) {
  return { name: s.name, description: s.description, destructive: s.destructive, steps: s.steps, source: s.source };
}

/** A condition in words, as written (placeholders unresolved). */
export function conditionText(c: RunbookCondition): string {
  const that = c.type !== 'that' && c.that ? `, then ${c.that}` : '';
  switch (c.type) {
    case 'that':
      return c.that;
    case 'sql':
      return `sql "${c.sql}" on ${c.url}${that}`;
    case 'command':
      return `command ${c.argv.join(' ')}${that || ' exits 0'}`;
    case 'http':
      return `http ${c.url}${that}`;
  }
}

function stepView(s: RunbookStep) {
  return hideDeep({
    name: s.name,
    kind: s.kind,
    description: s.description,
    params: { ...s.params },
    timeoutMs: s.timeoutMs,
    retries: { attempts: s.retries.attempts, backoffMs: s.retries.backoffMs },
    idempotent: s.idempotent,
    onFailure: s.onFailure,
    rollback: [...s.rollback],
    preconditions: s.preconditions.map(conditionText),
    when: s.when,
    source: s.source,
  });
}

export function runbookView(r: Runbook) {
  return {
    name: r.name,
    description: r.description,
    destructive: r.destructive,
    source: r.source,
    vars: Object.values(r.vars).map((v) => ({
      name: v.name,
      default: v.default === null ? null : hideCredentials(v.default),
      description: v.description,
    })),
    steps: r.steps.map(stepView),
    rollbackSteps: Object.values(r.rollbackSteps).map(stepView),
  };
}

function runFields(v: RunView) {
  return {
    id: v.id,
    runbook: v.runbook,
    status: v.status,
    dryRun: v.dryRun,
    vars: hideDeep({ ...v.vars }),
    startedBy: v.startedBy,
    startedAt: v.startedAt,
    finishedAt: v.finishedAt,
    error: v.error === null ? null : hideCredentials(v.error),
  };
}

export function runView(v: RunView) {
  return {
    ...runFields(v),
    steps: v.steps.map((s) => ({
      seq: s.seq,
      name: s.name,
      kind: s.kind,
      phase: s.phase,
      status: s.status,
      attempt: s.attempt,
      startedAt: s.startedAt,
      finishedAt: s.finishedAt,
      outputs: s.outputs === null ? null : hideDeep({ ...s.outputs }),
      error: s.error === null ? null : hideCredentials(s.error),
      idempotent: s.idempotent,
      approval: s.approval ? { role: s.approval.role, needsConfirm: s.approval.needsConfirm } : null,
    })),
  };
}

const NOW = new Set(['running', 'waiting', 'interrupted']);

export function runSummaryView(v: RunView) {
  const current = v.steps.find((s) => NOW.has(s.status)) ?? null;
  return {
    ...runFields(v),
    steps: v.steps.length,
    current: current?.name ?? null,
    waiting: v.steps.some((s) => s.approval !== null),
  };
}

export function dryRunView(p: DryRunPlan) {
  return hideDeep({
    runbook: p.runbook,
    vars: { ...p.vars },
    steps: p.steps.map((s) => ({
      name: s.name,
      kind: s.kind,
      params: { ...s.params },
      preconditions: s.preconditions.map((c) => ({ text: c.text, holds: c.holds, why: c.why })),
      changes: [...s.changes],
    })),
  });
}
