// The schema of a runbook (zod), as written under `runbooks:` of
// safehold.yaml or alone in runbooks/NAME.yaml beside it: variables, ordered
// steps (kind, parameters, timeout, retries, failure handling, conditions)
// and named rollback steps. The parameters of each kind are checked by
// compile-runbooks.ts against runbook-params.ts. docs/runbooks.md documents it.

import { z } from 'zod';
import { bool, count, duration, obj, text } from './schema-values.ts';
import { STEP_KINDS, conditionShape } from './runbook-params.ts';

export const STEP_NAME_RE = /^[a-z0-9][a-z0-9-]*$/;
export const VAR_NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const stepName = z
  .string({ error: 'expected a step name' })
  .regex(STEP_NAME_RE, { error: "expected a step name of lower-case letters, digits and '-'" });

export const condition = obj(conditionShape, 'a map with that, sql (and url or target), command or http').superRefine(
  (c, ctx) => {
    const checks = (['sql', 'command', 'http'] as const).filter((k) => c[k] !== undefined);
    if (checks.length > 1) ctx.addIssue({ code: 'custom', message: `expected one check, got ${checks.join(' and ')}` });
    if (checks.length === 0 && c.that === undefined)
      ctx.addIssue({ code: 'custom', message: "expected 'that' or one of 'sql', 'command', 'http'" });
    if (c.url !== undefined && c.sql === undefined)
      ctx.addIssue({ code: 'custom', message: "'url' goes with 'sql' (an http check names its URL in 'http')" });
  },
);

const stepShape = {
  kind: z.enum(STEP_KINDS as [string, ...string[]], {
    error: `expected a step kind: ${STEP_KINDS.join(', ')}`,
  }),
  description: text.optional(),
  with: z
    .record(z.string(), z.unknown(), { error: 'expected a map of the parameters of the step kind' })
    .optional()
    .describe('The parameters of the step kind (docs/runbooks.md).'),
  timeout: z
    .union([duration, z.literal('none')], { error: "expected a duration like '30s' or 'none'" })
    .optional()
    .describe("Default 5m ('none' for approval steps)."),
  retries: obj({
    attempts: count.describe('Attempts in all (default 1).'),
    backoff: duration
      .optional()
      .describe('Wait before the second attempt, doubled each time, with jitter (default 1s).'),
  }).optional(),
  idempotent: bool.optional().describe("Safe to run twice (default: the kind's own)."),
  onFailure: z
    .enum(['stop', 'continue', 'rollback'], { error: "expected 'stop', 'continue' or 'rollback'" })
    .optional()
    .describe("'stop' (default), 'continue' with the next step, or 'rollback' (run the steps named in 'rollback')."),
  rollback: z
    .array(stepName, { error: 'expected a list of rollback step names' })
    .optional()
    .describe('With onFailure: rollback: names of rollbackSteps, run in order.'),
  preconditions: z
    .array(condition, { error: 'expected a list of conditions' })
    .optional()
    .describe('Must all hold before the step runs (and are evaluated by a dry run).'),
  when: text.optional().describe('Run the step only when this expression holds (else it is skipped).'),
};

const step = obj({ name: stepName, ...stepShape });
const rollbackStep = obj(stepShape);

const runbookVar = obj({
  default: z
    .union([z.string(), z.number(), z.boolean()], { error: 'expected a string, number or true/false' })
    .optional()
    .describe('Absent: the variable is required (--var NAME=VALUE).'),
  description: text.optional(),
});

export const runbookSchema = obj(
  {
    description: text.optional(),
    destructive: bool
      .optional()
      .describe('Starting it and approving its steps needs the typed confirmation of its name (default false).'),
    vars: z
      .record(z.string().regex(VAR_NAME_RE, { error: 'expected a variable name' }), runbookVar, {
        error: 'expected a map of variable names to { default, description }',
      })
      .optional(),
    steps: z.array(step, { error: 'expected a list of steps' }).min(1, { error: 'expected at least one step' }),
    rollbackSteps: z
      .record(stepName, rollbackStep, { error: 'expected a map of rollback step names to steps' })
      .optional(),
  },
  'a runbook: a map with description, destructive, vars, steps and rollbackSteps',
);

export const runbooks = z
  .record(
    z.string().regex(STEP_NAME_RE, { error: "expected a runbook name of lower-case letters, digits and '-'" }),
    runbookSchema,
    { error: 'expected a map of runbook names to runbooks' },
  )
  .describe('Runbooks (docs/runbooks.md); also runbooks/NAME.yaml beside this file, one runbook per file.');

export type RawRunbook = z.infer<typeof runbookSchema>;
export type RawRunbookStep = z.infer<typeof step>;
