// Alert events (S9): the kinds of event Safehold alerts on, their default
// severity, and constructors that give each a one-line summary and a details
// object (plain JSON) for channels and the catalog.

import { ALERT_EVENTS } from '../core/alert-event.ts';
import type { AlertEvent, AlertEventType, Severity } from '../core/alert-event.ts';

export { ALERT_EVENTS, OPT_IN_EVENTS, SEVERITIES } from '../core/alert-event.ts';
export type { AlertEvent, AlertEventType, Severity } from '../core/alert-event.ts';

/** The JSON document every channel sends: the stored alert (`at` in ISO 8601). */
export interface AlertPayload {
  event: AlertEventType;
  severity: Severity;
  summary: string;
  details: Record<string, unknown>;
  at: string;
  id: string;
}

export const DEFAULT_SEVERITY: Record<AlertEventType, Severity> = {
  'run-failed': 'critical',
  'run-incomplete': 'warning',
  'retries-exhausted': 'critical',
  'stale-lock-cleared': 'warning',
  'low-space': 'warning',
  'quiesce-repaired': 'warning',
  'protection-violation': 'critical',
  'runbook-approval': 'info',
  'runbook-failed': 'critical',
  'runbook-notice': 'info',
  'run-started': 'info',
  'run-succeeded': 'info',
};

export function isAlertEvent(s: string): s is AlertEventType {
  return (ALERT_EVENTS as readonly string[]).includes(s);
}

/** Builds an event; the summary is made one line (newlines and runs of blanks become one space). */
export function alertEvent(
  event: AlertEventType,
  summary: string,
  details: Record<string, unknown> = {},
  severity?: Severity,
): AlertEvent {
  return {
    event,
    severity: severity ?? DEFAULT_SEVERITY[event],
    summary: oneLine(summary),
    details: jsonSafe(details),
  };
}

export function toPayload(id: string, at: number, e: AlertEvent): AlertPayload {
  return {
    event: e.event,
    severity: e.severity,
    summary: e.summary,
    details: e.details,
    at: new Date(at).toISOString(),
    id,
  };
}

export function runFailed(d: { plan: string; runId: string; reason: string }): AlertEvent {
  return alertEvent('run-failed', `plan ${d.plan} run ${d.runId} failed: ${d.reason}`, d);
}

export function retriesExhausted(d: {
  plan: string;
  runId?: string;
  scope?: string;
  attempts: number;
  reason: string;
}): AlertEvent {
  return alertEvent('retries-exhausted', `plan ${d.plan}: gave up after ${d.attempts} attempts: ${d.reason}`, d);
}

export function staleLockCleared(d: { scope: string; holder: string; ageMs: number; runId?: string }): AlertEvent {
  return alertEvent(
    'stale-lock-cleared',
    `cleared stale lock on ${d.scope} held by ${d.holder} for ${Math.round(d.ageMs / 60_000)} min`,
    d,
  );
}

export function lowSpace(d: { path: string; freeBytes: number; thresholdBytes: number }): AlertEvent {
  return alertEvent(
    'low-space',
    `low space on ${d.path}: ${d.freeBytes} bytes free (threshold ${d.thresholdBytes})`,
    d,
  );
}

export function quiesceRepaired(d: {
  target: string;
  unit?: string | null;
  runId: string;
  outcome: string;
}): AlertEvent {
  const what = d.unit ? `${d.target}/${d.unit}` : d.target;
  return alertEvent('quiesce-repaired', `quiesce of ${what} left behind by run ${d.runId} was undone: ${d.outcome}`, d);
}

export function protectionViolation(d: { unit: string; reason: string }): AlertEvent {
  return alertEvent('protection-violation', `protection violated for ${d.unit}: ${d.reason}`, d);
}

export function runbookApproval(d: { runbook: string; runId: string; step: string }): AlertEvent {
  return alertEvent('runbook-approval', `runbook ${d.runbook} run ${d.runId} awaits approval of step ${d.step}`, d);
}

export function runbookFailed(d: { runbook: string; runId: string; step: string; reason: string }): AlertEvent {
  return alertEvent('runbook-failed', `runbook ${d.runbook} run ${d.runId} failed at step ${d.step}: ${d.reason}`, d);
}

export function runStarted(d: { plan: string; runId: string; trigger: string }): AlertEvent {
  return alertEvent('run-started', `plan ${d.plan}: run ${d.runId.slice(0, 8)} started (${d.trigger})`, d);
}

export function runSucceeded(d: { plan: string; runId: string; tasks: number }): AlertEvent {
  return alertEvent('run-succeeded', `plan ${d.plan}: run ${d.runId.slice(0, 8)} succeeded (${d.tasks} tasks)`, d);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** Drops undefined members (JSON has none) so the stored and sent details are the same. */
function jsonSafe(d: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(d)) as Record<string, unknown>;
}
