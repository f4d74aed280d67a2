// The schema of safehold.yaml (zod): every key, its type and format; unknown
// keys are errors. Defaults are not applied here but in compile.ts, so that
// the schema describes exactly what may be written (and renders as the JSON
// Schema in docs/safehold.schema.json). docs/configuration.md documents it.
// The targets are in schema-targets.ts, the alert channels in
// schema-alerts.ts, the value types shared by all in schema-values.ts.

import { z } from 'zod';
import {
  argv,
  bool,
  count,
  cron,
  days,
  duration,
  glob,
  named,
  nameOf,
  obj,
  path,
  ref,
  secret,
  sizeOrPercent,
  text,
  timeOfDay,
  timezone,
} from './schema-values.ts';
import { alerts } from './schema-alerts.ts';
import { target } from './schema-targets.ts';
import { remoteSettings } from './schema-remote.ts';
import { runbooks } from './schema-runbooks.ts';
import { planProtection, protection } from './schema-protection.ts';

const settings = obj({
  backups: z
    .enum(['enabled', 'disabled'], { error: "expected 'enabled' or 'disabled'" })
    .optional()
    .describe("Global switch: 'disabled' refuses every plan run (default 'enabled')."),
  dataDir: path.optional().describe('Catalog directory (default: SAFEHOLD_DATA_DIR, which takes precedence when set).'),
  quiesceGrace: duration.optional().describe('Grace after a quiesce/unquiesce timeout before giving up (default 3m).'),
  maxParallelRuns: count
    .optional()
    .describe(
      'Server: plan runs that may execute at once (default 2); runs on overlapping scopes still exclude each other.',
    ),
  lockMaxAge: duration
    .optional()
    .describe('A scope lock older than this is cleared, logged and alerted (default 12h).'),
  lockHeartbeatTimeout: duration
    .optional()
    .describe('A scope lock whose holder stopped renewing it for this long is reclaimed (default 5m).'),
  shutdownGrace: duration
    .optional()
    .describe('Server: on SIGTERM, running tasks get this long to finish before they are cancelled (default 1m).'),
  metrics: obj({
    enabled: bool.optional().describe('Serve GET /metrics on the --listen address (default true).'),
    protect: bool.optional().describe('Require a viewer token for /metrics (default false).'),
  })
    .optional()
    .describe('The Prometheus endpoint of the server (docs/api.md).'),
}).describe('Global settings.');

const site = obj({ description: text.optional() });

const repositoryDestination = obj({
  type: z.literal('repository'),
  path: path
    .optional()
    .describe('Local repository directory (relative paths are relative to this file); give path or location.'),
  location: path
    .optional()
    .describe(
      "Repository location: 's3:https://host:port/bucket/prefix', 's3:bucket/prefix', 'sftp:user@host:port:/path' or a local path; give path or location.",
    ),
  password: secret,
  requireMount: bool.optional().describe('Refuse to run unless the path is a mount point (default false).'),
  minFree: sizeOrPercent
    .optional()
    .describe("Free space required at the destination: '10GiB' or '15%' (default: no check)."),
  site: ref('site').optional(),
  ...remoteSettings,
});

const generations = obj({
  keep: count.optional().describe('Generations kept, the newest included (default 2).'),
  naming: z
    .enum(['old', 'numbered', 'timestamped'], { error: "expected 'old', 'numbered' or 'timestamped'" })
    .optional()
    .describe(
      "'old': <name> and <name>.old (keep 2); 'numbered': <name>.1, <name>.2, …; 'timestamped': <name>.<UTC time> (default 'old' for keep 2, else 'numbered').",
    ),
});

const directoryDestination = obj({
  type: z.literal('directory'),
  path: path.describe(
    'Directory of plain files: one file per unit (a .tar.zst of a files unit, the stream of other kinds).',
  ),
  generations: generations.optional(),
  requireMount: bool.optional().describe('Refuse to run unless the path is a mount point (default false).'),
  minFree: sizeOrPercent
    .optional()
    .describe("Free space required at the destination: '10GiB' or '15%' (default: no check)."),
  site: ref('site').optional(),
});

const destination = z.discriminatedUnion('type', [repositoryDestination, directoryDestination], {
  error: (iss) =>
    (iss.code as string) === 'invalid_type'
      ? 'expected a map with a type and its settings'
      : "expected type 'repository' or 'directory'",
});

const hook = obj({
  command: argv,
  timeout: duration.optional().describe('Default 5m.'),
  failOnError: bool.optional().describe('Pre hooks: a non-zero exit stops the run / fails the task (default true).'),
  always: bool.optional().describe('Post hooks: run on failure and cancel too (default false).'),
});

const range = obj({
  days: days.optional().describe("Days the range starts on: 'mon-fri', [sat, sun] (default every day)."),
  from: timeOfDay,
  to: timeOfDay.describe('A range whose end is before its start runs past midnight.'),
}).refine((r) => r.from !== r.to, { error: "must differ from 'from'", path: ['to'] });

const windowMap = obj({
  cron: cron.optional().describe('Cron expression of the minutes inside the window.'),
  ranges: z
    .array(range, { error: 'expected a list of { days, from, to } ranges' })
    .min(1, { error: 'expected at least one range' })
    .optional(),
  timezone: timezone.optional().describe("Default: the machine's time zone."),
}).refine((w) => (w.cron === undefined) !== (w.ranges === undefined), {
  error: "needs exactly one of 'cron' or 'ranges'",
});

const window = z
  .union([z.literal('always'), windowMap], {
    error: "expected 'always' or a map with 'cron' or 'ranges' (and 'timezone')",
  })
  .describe("Maintenance window: 'always' (default), { cron, timezone } or { timezone, ranges }.");

const schedule = z
  .union([cron, obj({ cron, timezone: timezone.optional() })], {
    error: "expected a cron expression like '0 2 * * *' or a map { cron, timezone }",
  })
  .describe('When scheduled runs start (absent: on demand only).');

const retryPolicy = obj({ every: duration.optional(), for: duration.optional() });

const retry = obj({
  scheduled: retryPolicy.optional().describe('Default: every 10m for 4h.'),
  purge: retryPolicy.optional().describe('Runs with a purge activity: default every 10m for 6h.'),
  onDemand: z
    .union([z.literal('none'), retryPolicy], { error: "expected 'none' or a map { every, for }" })
    .optional()
    .describe("Default: 'none' (refused at once with the reason)."),
});

const retention = obj({
  keepLast: count.optional(),
  keepHourly: count.optional(),
  keepDaily: count.optional(),
  keepWeekly: count.optional(),
  keepMonthly: count.optional(),
  keepYearly: count.optional(),
  keepWithin: duration.optional(),
}).refine((r) => Object.values(r).some((v) => v !== undefined), {
  error:
    'needs at least one keep rule (keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly, keepWithin)',
});

const purge = z
  .union(
    [
      z.literal('retention'),
      obj({
        command: argv.describe(
          "Removes old source data; SAFEHOLD_TARGET, SAFEHOLD_UNIT, SAFEHOLD_PLAN and SAFEHOLD_RUN are set, plus a command target's env.",
        ),
        timeout: duration.optional().describe('Default 1h.'),
      }),
      obj({
        sql: text
          .min(1, { error: 'expected an SQL statement' })
          .describe("Statement(s) run on the database, e.g. DELETE FROM events WHERE at < now() - interval '90 days'."),
        database: secret.describe(
          "Connection URL (a secret): postgres://user:pw@host:5432/db or mariadb://user:pw@host:3306/db; '{unit}' is replaced by the task's unit name.",
        ),
        timeout: duration.optional().describe('Default 1h.'),
      }),
    ],
    { error: "expected 'retention', a map { command } or a map { sql, database }" },
  )
  .describe(
    "'retention': forget the unit's snapshots by the plan's retention, then prune; { command } or { sql, database }: a user-defined purge of source data.",
  );

const activity = obj({
  name: nameOf('activity').optional().describe("Default: '<kind>-<position>'."),
  kind: z.enum(['backup', 'export', 'purge', 'copy', 'drill'], {
    error: "expected 'backup', 'export', 'purge', 'copy' or 'drill'",
  }),
  group: ref('group')
    .optional()
    .describe("Backup activities: back up this consistency group (instead of 'targets' and 'units')."),
  purge: purge.optional().describe("Purge activities: what to purge (default 'retention')."),
  to: ref('destination')
    .optional()
    .describe('Copy activities: the destination the snapshots (or closed generations) are copied to.'),
  retention: retention
    .optional()
    .describe(
      "Copy activities to a repository: the keep rules of the copies in 'to' (only the snapshots they keep are copied, the others are forgotten there); default: every copy is kept.",
    ),
  timeout: duration.optional().describe('Overall limit of one task; past it the task is cancelled (default 4h).'),
  targets: z
    .union(
      [
        glob,
        z.array(glob, { error: 'expected a list of glob patterns' }).min(1, { error: 'expected at least one pattern' }),
      ],
      {
        error: "expected a glob pattern ('QA*'), 'group:NAME' or a list of them",
      },
    )
    .optional()
    .describe(
      "Target names: a glob ('QA*'), 'group:NAME' (the targets of a consistency group) or a list of them, e.g. [web, 'db*'] (required unless 'group' is given).",
    ),
  units: glob.optional().describe("Glob on unit names, e.g. 'DOMAIN*' (default: the whole target / all units)."),
  allowEmpty: bool
    .optional()
    .describe(
      "A targets or units pattern (or a database target's databases/files filter) that matches nothing is not a failure (default false: the activity fails).",
    ),
  quiesce: bool.optional().describe('Quiesce before and unquiesce after (default false).'),
  quiesceTimeout: duration.optional().describe('Default 2m.'),
  preTask: ref('hook').optional(),
  postTask: ref('hook').optional(),
  tags: z
    .array(z.string({ error: 'expected a tag string' }).min(1, { error: 'expected a non-empty tag' }), {
      error: 'expected a list of tags',
    })
    .optional(),
}).superRefine((a, ctx) => {
  if (a.targets === undefined && a.group === undefined)
    ctx.addIssue({ code: 'custom', message: "missing required key 'targets'" });
});

const groupMember = obj({
  target: ref('target'),
  units: z
    .array(text, { error: 'expected a list of unit names' })
    .min(1, { error: 'expected at least one unit' })
    .optional()
    .describe('Default: every unit of the target.'),
});

const group = obj({
  mode: z
    .enum(['quiesced', 'physical', 'independent'], { error: "expected 'quiesced', 'physical' or 'independent'" })
    .optional()
    .describe(
      "'quiesced' (default): stop hook, back up all, start hook; 'physical': one pg_basebackup of the PostgreSQL server; 'independent': per-database dumps without stopping (not consistent).",
    ),
  members: z
    .array(groupMember, { error: 'expected a list of { target, units }' })
    .min(1, { error: 'expected at least one member' }),
  stop: ref('hook').optional().describe('Stops or quiesces the application before the backup and the restore.'),
  start: ref('hook').optional().describe('Starts or resumes it after (runs even when a step failed).'),
  check: ref('hook').optional().describe('Restore: exits 0 only when nothing is running.'),
  cleanup: ref('hook').optional().describe('Restore: run after restoring a backup taken online (e.g. ciwcleanup).'),
});

const restorePlan = obj({
  group: ref('group'),
  from: ref('destination').describe('The repository the group was backed up to.'),
  snapshot: text.optional().describe("'latest' (default) or a group run id."),
  safetyBackup: bool.optional().describe('Back up the current state first (default true).'),
  intoSuffix: text
    .optional()
    .describe("Restore databases under '<name><suffix>' instead of over the originals (tests)."),
  filesTo: path.optional().describe('Restore files under this directory instead of their original places (tests).'),
});

const plan = obj({
  description: text.optional(),
  destination: ref('destination'),
  schedule: schedule.optional(),
  window: window.optional(),
  retry: retry.optional(),
  retention: retention.optional(),
  timeout: duration
    .optional()
    .describe('Overall limit of one run once its locks are held; past it the run is cancelled (default 10h).'),
  prePlan: ref('hook').optional(),
  postPlan: ref('hook').optional(),
  protection: planProtection.optional(),
  activities: z
    .array(activity, { error: 'expected a list of activities' })
    .min(1, { error: 'expected at least one activity' }),
});

export const configSchema = obj(
  {
    settings: settings.optional(),
    sites: named('site', site, 'Locations; targets and destinations belong to one.').optional(),
    targets: named('target', target, 'The inventory: files, command and device targets.').optional(),
    destinations: named('destination', destination, 'Where backups go (repositories and directories).').optional(),
    hooks: named('hook', hook, 'Commands run before/after plans and tasks, referenced by name.').optional(),
    plans: named('plan', plan, 'Plans: activities, schedule, window, retry, destination, retention.').optional(),
    alerts: alerts.optional().describe('Where alerts go (docs/alerts.md).'),
    groups: named(
      'group',
      group,
      'Consistency groups: targets and units backed up (and restored) together.',
    ).optional(),
    restorePlans: named(
      'restorePlan',
      restorePlan,
      'Safe restores of a group: safehold restore-plan run NAME.',
    ).optional(),
    runbooks: runbooks.optional(),
    protection: protection.optional(),
  },
  'a map with settings, sites, targets, destinations, hooks, plans, alerts, groups and restorePlans',
);

/** safehold.yaml as written (validated, before defaults and compilation). */
export type RawConfig = z.infer<typeof configSchema>;
