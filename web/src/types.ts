// The shapes of the API's responses the console reads (see docs/api.md and
// the OpenAPI document at /api/openapi.json).

export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'refused' | 'skipped' | 'cancelled';
export type TaskStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface Run {
  id: string;
  plan: string;
  trigger: 'scheduled' | 'on-demand' | 'retry';
  startedAt: number;
  finishedAt: number | null;
  status: RunStatus;
  reason: string | null;
  retryOf: string | null;
  coalescedInto: string | null;
}

export interface Task {
  id: string;
  seq: number;
  activity: string;
  kind: string;
  target: string;
  unit: string | null;
  status: TaskStatus;
  reason: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  snapshots: string[];
  bytes: number | null;
}

export interface LogLine {
  seq: number;
  taskId: string | null;
  at: number;
  level: 'info' | 'warn' | 'error';
  message: string;
}

export interface Plan {
  name: string;
  description: string;
  destination: string;
  schedule: { cron: string; timezone: string } | null;
  activities: { name: string; kind: string; targets: string; units: string | null; group: string | null }[];
  nextDue: number | null;
  lastRun: Run | null;
  lastSuccessAt: number | null;
}

export interface Snapshot {
  snapshot: string;
  index: number;
  plan: string;
  destination: string | null;
  runId: string;
  taskId: string;
  kind: string;
  target: string;
  unit: string | null;
  time: number;
  bytes: number | null;
}

export interface Alert {
  id: string;
  event: string;
  severity: 'info' | 'warning' | 'critical';
  summary: string;
  at: number;
  deliveries?: { channel: string; ok: boolean; detail: string | null; at: number }[];
}

export interface Drill {
  id: string;
  runId: string | null;
  plan: string | null;
  target: string;
  unit: string | null;
  snapshot: string | null;
  startedAt: number;
  finishedAt: number;
  restoreMs: number | null;
  verifyMs: number | null;
  status: 'passed' | 'failed';
  summary: string;
}

export interface Dashboard {
  plans: { name: string; description: string; schedule: string | null; nextDue: number | null; lastRun: Pick<Run, 'id' | 'status' | 'trigger' | 'startedAt' | 'finishedAt' | 'reason'> | null; lastSuccessAt: number | null }[];
  running: { runId: string; plan: string; startedAt: number; tasks: { seq: number; target: string; unit: string | null; status: TaskStatus }[] }[];
  locks: { scope: string; kind: string; holder: string; runId: string | null; createdAt: number; heartbeatAt: number }[];
  alerts: { id: string; at: number; event: string; severity: 'info' | 'warning' | 'critical'; summary: string }[];
  failures24h: number;
  protection: { plan: string; target: string; unit: string | null; lastSnapshotAt: number | null; ageMs: number | null; state: 'ok' | 'stale' | 'never' }[];
}

export interface RestoreResult {
  ok: boolean;
  groupRun: string | null;
  failedStep: string | null;
  reason: string | null;
  safety: { groupRun: string; snapshots: string[] } | null;
  restored: { target: string; unit: string | null; snapshot: string; into: string }[];
  rollback: string | null;
  log: { step: string; level: 'info' | 'warn' | 'error'; message: string }[];
}

export interface RunChart {
  plan: string;
  points: { runId: string; at: number; durationMs: number; bytesAdded: number; status: string }[];
}

export interface RepoChart {
  destination?: string;
  points: { at: number; bytes: number }[];
}
