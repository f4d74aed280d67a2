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
  'runbook-notice',
  'run-started',
  'run-succeeded',
] as const;

export type AlertEventType = (typeof ALERT_EVENTS)[number];

/**
 * Events a channel gets only when it asks for them (its `events` names them,
 * or it is a heartbeat channel such as healthchecks): they say that all is
 * well, so they are stored only when some channel takes them.
 */
export const OPT_IN_EVENTS: readonly AlertEventType[] = ['run-started', 'run-succeeded'];

/** Severities, least severe first. */
export const SEVERITIES = ['info', 'warning', 'critical'] as const;

export type Severity = (typeof SEVERITIES)[number];

/** What happened: the event kind, how bad, one line for humans, and details for machines. */
export interface AlertEvent {
  event: AlertEventType;
  severity: Severity;
  summary: string;
  details: Record<string, unknown>;
}
