// The zod schemas of the API's requests and responses, shared by the routes:
// they validate bodies and responses and make the OpenAPI document's
// components. The web console derives its record types from them
// (`z.infer`, type-only imports from web/src/types.ts), so this module
// imports nothing but zod: both the server and the console build can read it.

import { z } from 'zod';

export const errorSchema = z
  .object({
    error: z.object({
      code: z
        .string()
        .describe(
          'stable code: a SafeholdError code (NOT_FOUND, USAGE, LOCKED, …) ' +
            'or UNAUTHORIZED, FORBIDDEN, CSRF, UNAVAILABLE',
        ),
      message: z.string(),
      requestId: z.string(),
      issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ id: 'Error' });

export const runStatus = z.enum(['running', 'succeeded', 'partial', 'failed', 'refused', 'skipped', 'cancelled']);
export const runTrigger = z.enum(['scheduled', 'on-demand', 'retry']);
export const taskStatus = z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped', 'cancelled']);
export const logLevel = z.enum(['info', 'warn', 'error']);
export const alertSeverity = z.enum(['info', 'warning', 'critical']);

export const runSchema = z
  .object({
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
  })
  .meta({ id: 'Run' });

export const taskSchema = z
  .object({
    id: z.string(),
    runId: z.string(),
    seq: z.number(),
    activity: z.string(),
    kind: z.string(),
    target: z.string(),
    unit: z.string().nullable(),
    status: taskStatus,
    reason: z.string().nullable(),
    startedAt: z.number().nullable(),
    finishedAt: z.number().nullable(),
    snapshots: z.array(z.string()),
    bytes: z.number().nullable(),
  })
  .meta({ id: 'Task' });

export const runWithTasksSchema = z.object({ run: runSchema, tasks: z.array(taskSchema) }).meta({ id: 'RunWithTasks' });

export const logLineSchema = z
  .object({
    seq: z.number(),
    taskId: z.string().nullable(),
    at: z.number(),
    level: logLevel,
    message: z.string(),
  })
  .meta({ id: 'LogLine' });

export const snapshotSchema = z
  .object({
    snapshot: z.string().describe('snapshot id (repository) or generation file name (directory)'),
    index: z.number(),
    plan: z.string(),
    destination: z.string().nullable().describe("the plan's destination as configured now"),
    runId: z.string(),
    taskId: z.string(),
    activity: z.string(),
    kind: z.string(),
    target: z.string(),
    unit: z.string().nullable(),
    time: z.number(),
    bytes: z.number().nullable().describe('bytes the task added to the repository or wrote to the directory'),
  })
  .meta({ id: 'Snapshot' });

export const alertSchema = z
  .object({
    id: z.string(),
    event: z.string(),
    severity: alertSeverity,
    summary: z.string(),
    details: z.record(z.string(), z.unknown()),
    at: z.number(),
    deliveries: z.array(
      z.object({
        channel: z.string(),
        ok: z.boolean(),
        /** delivered, failed (detail says why), or suppressed by the channel's filters (detail says which). */
        outcome: z.enum(['delivered', 'failed', 'suppressed']),
        detail: z.string().nullable(),
        /** When the outcome was known: for a delivered alert, when it was delivered. */
        at: z.number(),
      }),
    ),
  })
  .meta({ id: 'Alert' });

export const drillSchema = z
  .object({
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
  })
  .meta({ id: 'Drill' });

export const leaseSchema = z
  .object({
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
    stale: z
      .enum(['holder-gone', 'max-age', 'heartbeat'])
      .nullable()
      .describe('why the lease may be cleared, or null while it is live'),
  })
  .meta({ id: 'Lease' });

/** A page of a keyset-paginated list (see pagination.ts); nextCursor is null on the last page. */
export function pageSchema<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}

export const okSchema = z.object({ ok: z.literal(true) });

export const runLogSchema = z.object({
  runId: z.string(),
  status: runStatus,
  items: z.array(logLineSchema),
  last: z.number().describe('seq of the last line returned, or `after`'),
});

export const planSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    destination: z.string(),
    schedule: z.object({ cron: z.string(), timezone: z.string() }).nullable(),
    activities: z.array(
      z.object({
        name: z.string(),
        kind: z.string(),
        targets: z.string(),
        units: z.string().nullable(),
        group: z.string().nullable(),
      }),
    ),
    nextDue: z.number().nullable(),
    lastRun: runSchema.nullable().describe('the newest run that ran: refused and coalesced runs are left out'),
    lastRefusal: runSchema
      .nullable()
      .describe('the newest refused run (another run held the scope, outside the window, …) when newer than lastRun'),
    lastSuccessAt: z.number().nullable().describe('when the newest fully succeeded run finished'),
    lastPartialAt: z.number().nullable().describe('when the newest partial run (some tasks failed) finished'),
    window: z.object({ text: z.string(), open: z.boolean().describe('the window is open now') }),
    offsite: z
      .object({
        to: z.array(z.string()).describe('destinations the copy activities copy to'),
        last: z
          .object({
            runId: z.string(),
            status: z.enum(['succeeded', 'failed']),
            reason: z.string().nullable(),
            at: z.number(),
          })
          .nullable()
          .describe('the newest finished copy task'),
      })
      .nullable()
      .describe('null: the plan has no copy activity'),
    repoSize: z
      .object({ bytes: z.number(), at: z.number() })
      .nullable()
      .describe("the newest size sample of the plan's repository destination"),
  })
  .meta({ id: 'Plan' });

export const planListSchema = z.object({ items: z.array(planSchema) });

/** The answer of "run now" with ?wait=false (202). */
export const runStartedSchema = z.object({ runId: z.string(), status: z.string() });

export const dashboardSchema = z
  .object({
    plans: z.array(
      z.object({
        name: z.string(),
        description: z.string(),
        schedule: z
          .string()
          .nullable()
          .describe('cron expression (time zone in parentheses when not UTC), null: on demand only'),
        nextDue: z.number().nullable(),
        lastRun: z
          .object({
            id: z.string(),
            status: runStatus,
            trigger: runTrigger,
            startedAt: z.number(),
            finishedAt: z.number().nullable(),
            reason: z.string().nullable(),
          })
          .nullable(),
        lastSuccessAt: z.number().nullable(),
      }),
    ),
    running: z.array(
      z.object({
        runId: z.string(),
        plan: z.string(),
        startedAt: z.number(),
        tasks: z.array(
          z.object({ seq: z.number(), target: z.string(), unit: z.string().nullable(), status: taskStatus }),
        ),
      }),
    ),
    locks: z.array(
      z.object({
        scope: z.string(),
        kind: z.string(),
        holder: z.string(),
        runId: z.string().nullable(),
        createdAt: z.number(),
        heartbeatAt: z.number(),
      }),
    ),
    alerts: z.array(
      z.object({
        id: z.string(),
        at: z.number(),
        event: z.string(),
        severity: alertSeverity,
        summary: z.string(),
      }),
    ),
    failures24h: z.number().describe('plan runs that finished failed or partial in the last 24 hours'),
    protection: z.array(
      z.object({
        plan: z.string(),
        target: z.string(),
        unit: z.string().nullable(),
        lastSnapshotAt: z.number().nullable(),
        ageMs: z.number().nullable(),
        state: z.enum(['ok', 'stale', 'never', 'failing']),
        reason: z
          .string()
          .nullable()
          .describe("failing: why the last run's task for the unit was skipped or failed; else null"),
      }),
    ),
  })
  .meta({ id: 'Dashboard' });

export const runChartSchema = z
  .object({
    plan: z.string(),
    points: z.array(
      z.object({
        runId: z.string(),
        at: z.number().describe('when the run finished'),
        durationMs: z.number(),
        bytesAdded: z.number().describe("bytes added by the run's backup and export tasks"),
        status: runStatus,
      }),
    ),
  })
  .meta({ id: 'RunChart' });

export const repoChartSchema = z
  .object({
    destination: z.string(),
    points: z.array(z.object({ at: z.number(), bytes: z.number().describe('size of the pack files under data/') })),
  })
  .meta({ id: 'RepositoryChart' });

export const groupRestoreBodySchema = z
  .object({
    group: z.string().min(1).describe('the consistency group to restore'),
    from: z.string().min(1).describe('the repository destination it was backed up to'),
    snapshot: z.string().min(1).default('latest').describe("'latest' or a group run id (or unique prefix)"),
    intoSuffix: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe('restore databases under <name><suffix> instead of in place'),
    filesTo: z
      .string()
      .min(1)
      .nullable()
      .default(null)
      .describe('restore files under this directory instead of in place'),
    force: z.boolean().default(false).describe('restore even when the check hook says the application runs'),
    safetyBackup: z.boolean().default(true).describe('back up what is overwritten first'),
    dryRun: z
      .boolean()
      .default(false)
      .describe('only work out and return the plan (what would be stopped, saved, replaced, removed): nothing changes'),
  })
  .strict();

const plannedHookSchema = z.object({
  step: z.enum(['stop', 'check', 'cleanup', 'start']),
  hook: z.string().nullable(),
  runs: z.boolean(),
  why: z.string(),
});

export const groupRestorePlanSchema = z
  .object({
    group: z.string(),
    from: z.string(),
    groupRun: z.string(),
    takenAt: z.string(),
    snapshots: z.array(z.string()),
    touchesLive: z.boolean().describe('whether it writes over live data (then the hooks run and it needs admin)'),
    overLiveData: z.array(z.string()),
    refusal: z.string().nullable().describe('why this restore would be refused, or null'),
    hooks: z.array(plannedHookSchema),
    safetyBackup: z.object({
      requested: z.boolean(),
      runs: z.boolean(),
      saves: z.array(z.string()),
      why: z.string(),
    }),
    databases: z.array(
      z.object({
        target: z.string(),
        unit: z.string().nullable(),
        snapshot: z.string(),
        into: z.string(),
        replaces: z.boolean(),
        physical: z.boolean(),
      }),
    ),
    files: z.array(
      z.object({
        target: z.string(),
        unit: z.string().nullable(),
        snapshot: z.string(),
        places: z.array(z.string()),
        existing: z.array(z.string()),
        writes: z.number().int(),
        replaces: z.number().int(),
        deletes: z.array(z.string()),
        deleteCount: z.number().int(),
      }),
    ),
  })
  .meta({ id: 'GroupRestorePlan' });

export const restoreResultSchema = z
  .object({
    ok: z.boolean(),
    groupRun: z.string().nullable(),
    failedStep: z.string().nullable(),
    reason: z.string().nullable(),
    safety: z.object({ groupRun: z.string(), snapshots: z.array(z.string()) }).nullable(),
    restored: z.array(
      z.object({
        target: z.string(),
        unit: z.string().nullable(),
        snapshot: z.string(),
        into: z.string(),
      }),
    ),
    rollback: z.string().nullable(),
    overLiveData: z.array(z.string()).describe('the live data this restore overwrote, and why it counts as live'),
    safetyState: z
      .enum(['taken', 'not-needed', 'off', 'not-reached'])
      .describe(
        'the safety backup: taken; not needed (nothing that existed was overwritten); off; not reached (dry run, or stopped before)',
      ),
    dryRun: z.boolean(),
    plan: groupRestorePlanSchema.nullable().describe('what the restore does (or, in a dry run, would do)'),
    log: z.array(z.object({ step: z.string(), level: logLevel, message: z.string() })),
  })
  .meta({ id: 'RestoreResult' });

export const unitRestoreBodySchema = z
  .object({
    destination: z.string().min(1).describe('the repository destination holding the snapshot'),
    snapshot: z.string().min(1).describe('snapshot id or unique prefix'),
    into: z
      .string()
      .min(1)
      .optional()
      .describe(
        'database dumps: the database (unit) name to restore into; default the original (over live data: admin)',
      ),
    target: z
      .string()
      .min(1)
      .optional()
      .describe(
        'files snapshots: the absolute directory the paths are recreated under; ' + "over live data (e.g. '/'): admin",
      ),
    clean: z
      .boolean()
      .default(false)
      .describe("files: remove the snapshot's paths under target first; dumps: replace an existing database"),
  })
  .strict();

export const unitRestoreResultSchema = z
  .object({
    snapshot: z.string().describe('the full snapshot id'),
    kind: z.enum(['files', 'database']),
    into: z.string().describe('the real directory (files) or database name (dumps) restored into'),
    target: z.string().nullable().describe('the configured target the snapshot is of (its target: tag)'),
    unit: z.string().nullable(),
    inPlace: z.boolean().describe('whether live data was overwritten'),
    overLiveData: z.array(z.string()).describe('what live data was overwritten, and why it counts as live'),
    safety: z.string().nullable().describe('the safety backup of what was overwritten'),
    files: z.number().optional(),
    bytes: z.number().optional(),
  })
  .meta({ id: 'UnitRestoreResult' });

export const role = z.enum(['viewer', 'operator', 'admin']);

export const sessionSchema = z
  .object({
    user: z.string(),
    role,
    csrf: z.string().describe('send it in X-CSRF-Token on every state-changing request'),
  })
  .meta({ id: 'Session' });

export const loginSchema = sessionSchema
  .extend({
    expiresAt: z.number().describe('ms since the epoch: the absolute end of the session'),
  })
  .meta({ id: 'LoginResult' });

export const loginBodySchema = z
  .object({
    name: z.string().min(1).max(200),
    password: z.string().min(1).max(1024),
  })
  .strict();
