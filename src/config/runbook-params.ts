// The parameters (`with:`) of every runbook step kind: one zod schema per
// kind, validated at config load by compile-runbooks.ts, and the TypeScript
// shape each step implementation (src/plans/runbook/steps/) receives. Any
// string may hold placeholders (${vars.X}, ${steps.S.outputs.Y}, ${run.id}),
// resolved to strings just before the step runs; that is why numeric
// parameters also accept a string ("${vars.port}"). docs/runbooks.md
// documents each kind.

import { z } from 'zod';
import { argv, obj, text } from './schema-values.ts';

/** A number, or a string that becomes one once its placeholders are resolved. */
const numberish = z.union([z.number(), z.string()], { error: 'expected a number (or a placeholder)' });
const nonEmpty = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });
const url = nonEmpty('a URL');
const stringMap = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]), {
  error: 'expected a map of names to strings',
});
const DURATION_TEXT = z.string({ error: "expected a duration like '5s'" });

/** A check whose result an expression (`that`) tests: exactly one of sql, command, http. */
export const conditionShape = {
  that: text.optional(),
  sql: text.optional(),
  url: text.optional(),
  target: text.optional().describe('Instead of url: a configured postgres or mariadb target.'),
  database: text.optional().describe("With target: the database (default 'postgres' on PostgreSQL)."),
  command: argv.optional(),
  http: text.optional(),
};

export const commandParams = obj({
  argv,
  env: stringMap.optional(),
  cwd: text.optional(),
});

export const sqlParams = obj({
  url: url.describe('postgres://… or mariadb://… (placeholders allowed); or target instead.').optional(),
  target: text
    .optional()
    .describe('Instead of url: a configured postgres or mariadb target (its host, port, user, password).'),
  database: text.optional().describe("With target: the database (default 'postgres' on PostgreSQL, none on MariaDB)."),
  sql: nonEmpty('an SQL statement'),
});

export const httpParams = obj({
  method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'], { error: 'expected an HTTP method' }).optional(),
  url,
  headers: stringMap.optional(),
  body: z.union([z.string(), z.record(z.string(), z.unknown())], { error: 'expected a string or a map' }).optional(),
  expectStatus: z
    .union([numberish, z.array(z.number())], { error: 'expected a status or a list of statuses' })
    .optional(),
});

export const waitUntilParams = obj({
  ...conditionShape,
  that: nonEmpty('an expression'),
  interval: DURATION_TEXT.optional(),
});

export const approvalParams = obj({
  role: z.enum(['viewer', 'operator', 'admin'], { error: "expected 'viewer', 'operator' or 'admin'" }).optional(),
  message: text.optional(),
});

export const notifyParams = obj({
  severity: z.enum(['info', 'warning', 'critical'], { error: "expected 'info', 'warning' or 'critical'" }).optional(),
  message: nonEmpty('a message'),
});

export const configEditParams = obj({
  file: nonEmpty('a file path'),
  format: z.enum(['ini', 'yaml', 'json'], { error: "expected 'ini', 'yaml' or 'json'" }).optional(),
  set: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]), {
      error: 'expected a map of keys (dotted for sections/nesting) to values',
    })
    .optional(),
  remove: z.array(z.string(), { error: 'expected a list of keys' }).optional(),
});

/**
 * `safehold`: run something of this configuration and wait for it. Exactly one of:
 * { plan: NAME } (a plan run), { copy: { plan, activity? } } (the copy
 * activities of a plan, or the one named), { restorePlan: NAME } (a group
 * restore), { drill: { plan } } (the drill activities of a plan).
 */
export const safeholdParams = z.union(
  [
    obj({ plan: nonEmpty('a plan name') }),
    obj({ copy: obj({ plan: nonEmpty('a plan name'), activity: text.optional() }) }),
    obj({ restorePlan: nonEmpty('a restore plan name') }),
    obj({ drill: obj({ plan: nonEmpty('a plan name') }) }),
  ],
  { error: 'expected one of { plan }, { copy: { plan, activity } }, { restorePlan } or { drill: { plan } }' },
);

export const pgStatusParams = obj({ url });
export const pgFenceParams = obj({
  url,
  dataDir: text.optional(),
  mode: z.enum(['stop', 'read-only'], { error: "expected 'stop' or 'read-only'" }).optional(),
});
export const pgPromoteParams = obj({ url, dataDir: text.optional() });
export const pgFollowParams = obj({
  url,
  dataDir: nonEmpty('a data directory'),
  primary: nonEmpty('the new primary (URL or conninfo)'),
  slot: text.optional(),
  port: numberish.optional(),
});
export const pgRewindOrRebuildParams = obj({
  dataDir: nonEmpty('a data directory'),
  primary: nonEmpty('the primary (URL or conninfo)'),
  port: numberish.optional(),
  slot: text.optional(),
});
export const pgWaitSyncParams = obj({
  primary: url,
  standby: url,
  maxLagBytes: numberish.optional(),
});

/** Every step kind and its parameter schema. */
export const STEP_PARAMS = {
  command: commandParams,
  sql: sqlParams,
  http: httpParams,
  'wait-until': waitUntilParams,
  approval: approvalParams,
  notify: notifyParams,
  'config-edit': configEditParams,
  safehold: safeholdParams,
  'pg.status': pgStatusParams,
  'pg.fence': pgFenceParams,
  'pg.promote': pgPromoteParams,
  'pg.follow': pgFollowParams,
  'pg.rewind-or-rebuild': pgRewindOrRebuildParams,
  'pg.wait-sync': pgWaitSyncParams,
} as const;

export type RunbookStepKind = keyof typeof STEP_PARAMS;
export const STEP_KINDS = Object.keys(STEP_PARAMS) as RunbookStepKind[];

export type CommandParams = z.infer<typeof commandParams>;
export type SqlParams = z.infer<typeof sqlParams>;
export type HttpParams = z.infer<typeof httpParams>;
export type WaitUntilParams = z.infer<typeof waitUntilParams>;
export type ApprovalParams = z.infer<typeof approvalParams>;
export type NotifyParams = z.infer<typeof notifyParams>;
export type ConfigEditParams = z.infer<typeof configEditParams>;
export type SafeholdParams = z.infer<typeof safeholdParams>;
export type PgStatusParams = z.infer<typeof pgStatusParams>;
export type PgFenceParams = z.infer<typeof pgFenceParams>;
export type PgPromoteParams = z.infer<typeof pgPromoteParams>;
export type PgFollowParams = z.infer<typeof pgFollowParams>;
export type PgRewindOrRebuildParams = z.infer<typeof pgRewindOrRebuildParams>;
export type PgWaitSyncParams = z.infer<typeof pgWaitSyncParams>;

/** Kinds whose steps have no time limit unless they set one. */
export const UNTIMED_KINDS: readonly string[] = ['approval'];
