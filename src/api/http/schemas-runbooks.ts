// The zod schemas of the runbook routes (routes-runbooks.ts): the runbooks,
// a dry run's plan, runs with their steps, and the request bodies. Like
// schemas.ts it imports nothing but zod, so the console derives its types
// from it (type-only imports from web/src/types.ts).

import { z } from 'zod';

const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const runbookSummarySchema = z
  .object({
    name: z.string(),
    description: z.string(),
    destructive: z.boolean().describe('starting it needs the typed confirmation of its name'),
    steps: z.number().describe('number of steps'),
    source: z.string().describe('file:line where it is defined'),
  })
  .meta({ id: 'RunbookSummary' });

export const runbookListSchema = z.object({ items: z.array(runbookSummarySchema) }).meta({ id: 'RunbookList' });

const runbookStepSchema = z.object({
  name: z.string(),
  kind: z.string(),
  description: z.string(),
  params: z.record(z.string(), z.unknown()).describe('as written, placeholders unresolved; credentials in URLs hidden'),
  timeoutMs: z.number().nullable(),
  retries: z.object({ attempts: z.number(), backoffMs: z.number() }),
  idempotent: z.boolean().nullable().describe("null: the step kind's default"),
  onFailure: z.enum(['stop', 'continue', 'rollback']),
  rollback: z.array(z.string()),
  preconditions: z.array(z.string()),
  when: z.string().nullable(),
  source: z.string(),
});

export const runbookSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    destructive: z.boolean(),
    source: z.string(),
    vars: z.array(
      z.object({
        name: z.string(),
        default: z.string().nullable().describe('null: required when starting'),
        description: z.string(),
      }),
    ),
    steps: z.array(runbookStepSchema),
    rollbackSteps: z.array(runbookStepSchema),
  })
  .meta({ id: 'Runbook' });

export const runbookStepViewSchema = z
  .object({
    seq: z.number(),
    name: z.string(),
    kind: z.string(),
    phase: z.enum(['main', 'rollback']),
    status: z.string().describe('pending, running, succeeded, failed, skipped, waiting, interrupted or rolled-back'),
    attempt: z.number(),
    startedAt: z.number().nullable(),
    finishedAt: z.number().nullable(),
    outputs: z
      .record(z.string(), scalar)
      .nullable()
      .describe('usable by later steps as steps.NAME.outputs.KEY placeholders'),
    error: z.string().nullable(),
    idempotent: z.boolean(),
    approval: z
      .object({
        role: z.string().describe('the least role that may approve'),
        needsConfirm: z.boolean().describe('approving needs the typed name of the runbook (confirm)'),
      })
      .nullable()
      .describe('set while the step waits for an approval (or, interrupted, for rerun / mark-done)'),
  })
  .meta({ id: 'RunbookStepView' });

const runFields = {
  id: z.string(),
  runbook: z.string(),
  status: z.string().describe('running, waiting, succeeded, failed, aborted or interrupted'),
  dryRun: z.boolean(),
  vars: z.record(z.string(), z.string()),
  startedBy: z.string(),
  startedAt: z.number(),
  finishedAt: z.number().nullable(),
  error: z.string().nullable(),
};

export const runbookRunSchema = z
  .object({ ...runFields, steps: z.array(runbookStepViewSchema) })
  .meta({ id: 'RunbookRun' });

export const runbookRunSummarySchema = z
  .object({
    ...runFields,
    steps: z.number().describe('number of steps recorded so far'),
    current: z.string().nullable().describe('the step running or waiting now'),
    waiting: z.boolean().describe('a step waits for an approval'),
  })
  .meta({ id: 'RunbookRunSummary' });

export const runbookRunListSchema = z
  .object({ items: z.array(runbookRunSummarySchema) })
  .meta({ id: 'RunbookRunList' });

export const runbookDryRunSchema = z
  .object({
    runbook: z.string(),
    vars: z.record(z.string(), z.string()),
    steps: z.array(
      z.object({
        name: z.string(),
        kind: z.string(),
        params: z.record(z.string(), z.unknown()).describe('placeholders resolved from what is known'),
        preconditions: z.array(
          z.object({
            text: z.string(),
            holds: z.boolean().nullable().describe('null: not known yet'),
            why: z.string(),
          }),
        ),
        changes: z.array(z.string()).describe('what running the step would change'),
      }),
    ),
  })
  .meta({ id: 'RunbookDryRun' });

export const runbookRunStartedSchema = z.object({ runId: z.string(), status: z.string() });

const varsBody = z
  .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
  .default({})
  .describe("values of the runbook's variables (a variable without a default is required)");

export const runbookDryRunBodySchema = z.object({ vars: varsBody });

export const runbookStartBodySchema = z.object({
  vars: varsBody,
  confirm: z.string().optional().describe('a destructive runbook: its name, typed'),
});

export const runbookApproveBodySchema = z.object({
  action: z
    .enum(['approve', 'rerun', 'mark-done'])
    .default('approve')
    .describe('approve a waiting approval step; an interrupted step that is not idempotent: rerun it or mark it done'),
  confirm: z.string().optional().describe('a destructive runbook: its name, typed'),
});
