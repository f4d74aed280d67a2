// The vocabulary of alerts (S9), shared by the catalog that stores them and
// the channels that send them: event kinds, severities, and an event's shape.

export const ALERT_EVENTS = [
  'run-failed',
  'run-incomplete',
  'retries-exhausted',
  'stale-lock-cleared',
  'low-space',
  'quiesce-repaired',
  'protection-violation',
  'runbook-approval',
  'runbook-failed',
] as const;

export type AlertEventType = (typeof ALERT_EVENTS)[number];

export type Severity = 'info' | 'warning' | 'critical';

export const SEVERITIES: readonly Severity[] = ['info', 'warning', 'critical'];

/** What happened: the event kind, how bad, one line for humans, and details for machines. */
export interface AlertEvent {
  event: AlertEventType;
  severity: Severity;
  summary: string;
  details: Record<string, unknown>;
}
