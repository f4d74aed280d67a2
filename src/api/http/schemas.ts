// The zod schemas of the API's resources, shared by the routes: they validate
// the responses and make the OpenAPI document's components.

import { z } from 'zod';

export const errorSchema = z.object({
  error: z.object({
    code: z.string().describe('stable code: a SafeholdError code (NOT_FOUND, USAGE, LOCKED, …) or UNAUTHORIZED, FORBIDDEN, CSRF, UNAVAILABLE'),
    message: z.string(),
    requestId: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
}).meta({ id: 'Error' });

export const runStatus = z.enum(['running', 'succeeded', 'partial', 'failed', 'refused', 'skipped', 'cancelled']);
export const runTrigger = z.enum(['scheduled', 'on-demand', 'retry']);

export const runSchema = z.object({
  id: z.string(),
  plan: z.string(),
  trigger: runTrigger,
  configFile: z.string().nullable(),
  startedAt: z.number().describe('ms since the epoch'),
  finishedAt: z.number().nullable(),
  status: runStatus,
  reason: z.string().nullable(),
  pid: z.number().nullable(),
  hostname: z.string().nullable(),
  scheduledFor: z.number().nullable(),
  retryOf: z.string().nullable(),
  coalescedInto: z.string().nullable(),
}).meta({ id: 'Run' });

export const taskSchema = z.object({
  id: z.string(),
  runId: z.string(),
  seq: z.number(),
  activity: z.string(),
  kind: z.string(),
  target: z.string(),
  unit: z.string().nullable(),
  status: z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled']),
  reason: z.string().nullable(),
  startedAt: z.number().nullable(),
  finishedAt: z.number().nullable(),
  snapshots: z.array(z.string()),
  bytes: z.number().nullable(),
}).meta({ id: 'Task' });

export const runWithTasksSchema = z.object({ run: runSchema, tasks: z.array(taskSchema) }).meta({ id: 'RunWithTasks' });

export const logLineSchema = z.object({
  seq: z.number(),
  taskId: z.string().nullable(),
  at: z.number(),
  level: z.enum(['info', 'warn', 'error']),
  message: z.string(),
}).meta({ id: 'LogLine' });

export const snapshotSchema = z.object({
  snapshot: z.string().describe('snapshot id (repository) or generation file name (directory)'),
  index: z.number(),
  plan: z.string(),
  destination: z.string().nullable().describe('the plan\'s destination as configured now'),
  runId: z.string(),
  taskId: z.string(),
  activity: z.string(),
  kind: z.string(),
  target: z.string(),
  unit: z.string().nullable(),
  time: z.number(),
  bytes: z.number().nullable().describe('bytes the task added to the repository or wrote to the directory'),
}).meta({ id: 'Snapshot' });

export const alertSchema = z.object({
  id: z.string(),
  event: z.string(),
  severity: z.enum(['info', 'warning', 'critical']),
  summary: z.string(),
  details: z.record(z.string(), z.unknown()),
  at: z.number(),
  deliveries: z.array(z.object({ channel: z.string(), ok: z.boolean(), detail: z.string().nullable(), at: z.number() })),
}).meta({ id: 'Alert' });

export const drillSchema = z.object({
  id: z.string(),
  runId: z.string().nullable(),
  taskId: z.string().nullable(),
  plan: z.string().nullable(),
  target: z.string(),
  unit: z.string().nullable(),
  snapshot: z.string().nullable(),
  startedAt: z.number(),
  finishedAt: z.number(),
  restoreMs: z.number().nullable(),
  verifyMs: z.number().nullable(),
  status: z.enum(['passed', 'failed']),
  summary: z.string(),
  details: z.record(z.string(), z.unknown()).nullable(),
}).meta({ id: 'Drill' });

export const leaseSchema = z.object({
  scope: z.string(),
  kind: z.enum(['backup', 'purge', 'restore', 'copy']),
  holder: z.string(),
  runId: z.string().nullable(),
  pid: z.number().nullable(),
  hostname: z.string().nullable(),
  createdAt: z.number(),
  heartbeatAt: z.number(),
  ageMs: z.number(),
  heartbeatAgeMs: z.number(),
  stale: z.enum(['holder-gone', 'max-age', 'heartbeat']).nullable().describe('why the lease may be cleared, or null while it is live'),
}).meta({ id: 'Lease' });
