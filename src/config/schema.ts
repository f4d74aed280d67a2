// The schema of safehold.yaml (zod): every key, its type and format; unknown
// keys are errors. Defaults are not applied here but in compile.ts, so that
// the schema describes exactly what may be written (and renders as the JSON
// Schema in docs/safehold.schema.json). docs/configuration.md documents it.

import { z } from 'zod';
import {
  argv, bool, count, cron, days, duration, envMap, excludePattern, glob, named, nameOf, obj, path, ref, secret, sizeOrPercent, text, timeOfDay, timezone,
} from './schema-values.ts';

const settings = obj({
  backups: z.enum(['enabled', 'disabled'], { error: "expected 'enabled' or 'disabled'" }).optional()
    .describe("Global switch: 'disabled' refuses every plan run (default 'enabled')."),
  dataDir: path.optional().describe('Catalog directory (default: SAFEHOLD_DATA_DIR, which takes precedence when set).'),
  quiesceGrace: duration.optional().describe('Grace after a quiesce/unquiesce timeout before giving up (default 3m).'),
}).describe('Global settings.');

const site = obj({ description: text.optional() });

const httpAdapter = obj({
  url: z.string({ error: "expected an http(s) URL like 'https://qa1.example.com:5554'" }).superRefine((v, ctx) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: "expected an http(s) URL like 'https://qa1.example.com:5554'" });
      return;
    }
    // Never echo a URL that carries credentials.
    if (u.username !== '' || u.password !== '') ctx.addIssue({ code: 'custom', message: "must not contain credentials (put them in 'token')" });
    else if (u.protocol !== 'http:' && u.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: 'expected an http:// or https:// URL' });
  }),
  token: secret.optional().describe('Bearer token sent to the adapter (a secret).'),
});

const adapter = obj({
  http: httpAdapter.optional().describe('HTTP adapter (docs/adapters.md).'),
  command: argv.optional().describe('Command adapter: program and leading arguments (docs/adapters.md).'),
  env: envMap.optional().describe('Environment of the command adapter (values are secrets).'),
  timeout: duration.optional().describe('Timeout of one adapter call (default 10m).'),
}).superRefine((a, ctx) => {
  if ((a.http === undefined) === (a.command === undefined)) ctx.addIssue({ code: 'custom', message: "needs exactly one of 'http' or 'command'" });
  else if (a.http !== undefined && a.env !== undefined) ctx.addIssue({ code: 'custom', message: "'env' is only allowed with a 'command' adapter", path: ['env'] });
});

const filesUnit = obj({
  paths: z.array(path, { error: 'expected a list of paths' }).min(1, { error: 'expected at least one path' }),
  exclude: z.array(excludePattern, { error: 'expected a list of exclude patterns' }).optional()
    .describe("Left out: a pattern without '/' matches a name at any depth ('*.tmp', 'node_modules'), with '/' the absolute path ('/home/*/.cache')."),
});

const filesTarget = obj({
  kind: z.literal('files'),
  site: ref('site').optional(),
  units: named('unit', filesUnit, 'Units: named path sets.').refine((u) => Object.keys(u).length > 0, { error: 'expected at least one unit' }),
});

const commandTarget = obj({
  kind: z.literal('command'),
  site: ref('site').optional(),
  backup: argv.describe("Writes a unit's backup to stdout (SAFEHOLD_UNIT names the unit)."),
  restore: argv.optional().describe("Reads a unit's backup from stdin."),
  listUnits: argv.optional().describe("Prints unit names, one per line (default: one unit named 'default')."),
  probe: argv.optional().describe('Exits 0 when the target is available (default: always available).'),
  timeout: duration.optional().describe('Timeout of each command (default 1h).'),
  env: envMap.optional().describe('Environment of the commands (values are secrets).'),
});

const deviceTarget = obj({
  kind: z.literal('device'),
  site: ref('site').optional(),
  adapter,
});

const target = z.discriminatedUnion('kind', [filesTarget, commandTarget, deviceTarget], {
  error: (iss) => ((iss.code as string) === 'invalid_type' ? 'expected a map with a kind and its settings' : "expected one of 'files', 'command', 'device'"),
});

const destination = obj({
  type: z.literal('repository', { error: "expected 'repository'" }),
  path: path.describe('Repository directory (relative paths are relative to this file).'),
  password: secret,
  requireMount: bool.optional().describe('Refuse to run unless the path is a mount point (default false).'),
  minFree: sizeOrPercent.optional().describe("Free space required at the destination: '10GiB' or '15%' (default: no check)."),
  site: ref('site').optional(),
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
  ranges: z.array(range, { error: 'expected a list of { days, from, to } ranges' }).min(1, { error: 'expected at least one range' }).optional(),
  timezone: timezone.optional().describe("Default: the machine's time zone."),
}).refine((w) => (w.cron === undefined) !== (w.ranges === undefined), { error: "needs exactly one of 'cron' or 'ranges'" });

const window = z.union([z.literal('always'), windowMap], {
  error: "expected 'always' or a map with 'cron' or 'ranges' (and 'timezone')",
}).describe("Maintenance window: 'always' (default), { cron, timezone } or { timezone, ranges }.");

const schedule = z.union([cron, obj({ cron, timezone: timezone.optional() })], {
  error: "expected a cron expression like '0 2 * * *' or a map { cron, timezone }",
}).describe('When scheduled runs start (absent: on demand only).');

const retryPolicy = obj({ every: duration.optional(), for: duration.optional() });

const retry = obj({
  scheduled: retryPolicy.optional().describe('Default: every 10m for 4h.'),
  onDemand: z.union([z.literal('none'), retryPolicy], { error: "expected 'none' or a map { every, for }" }).optional()
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
}).refine((r) => Object.values(r).some((v) => v !== undefined), { error: 'needs at least one keep rule (keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly, keepWithin)' });

const activity = obj({
  name: nameOf('activity').optional().describe("Default: '<kind>-<position>'."),
  kind: z.enum(['backup', 'export'], { error: "expected 'backup' or 'export'" }),
  targets: glob.describe("Glob on target names, e.g. 'QA*'."),
  units: glob.optional().describe("Glob on unit names, e.g. 'DOMAIN*' (default: the whole target / all units)."),
  quiesce: bool.optional().describe('Quiesce before and unquiesce after (default false).'),
  quiesceTimeout: duration.optional().describe('Default 2m.'),
  preTask: ref('hook').optional(),
  postTask: ref('hook').optional(),
  tags: z.array(z.string({ error: 'expected a tag string' }).min(1, { error: 'expected a non-empty tag' }), { error: 'expected a list of tags' }).optional(),
});

const plan = obj({
  description: text.optional(),
  destination: ref('destination'),
  schedule: schedule.optional(),
  window: window.optional(),
  retry: retry.optional(),
  retention: retention.optional(),
  prePlan: ref('hook').optional(),
  postPlan: ref('hook').optional(),
  activities: z.array(activity, { error: 'expected a list of activities' }).min(1, { error: 'expected at least one activity' }),
});

export const configSchema = obj({
  settings: settings.optional(),
  sites: named('site', site, 'Locations; targets and destinations belong to one.').optional(),
  targets: named('target', target, 'The inventory: files, command and device targets.').optional(),
  destinations: named('destination', destination, 'Where backups go (repositories).').optional(),
  hooks: named('hook', hook, 'Commands run before/after plans and tasks, referenced by name.').optional(),
  plans: named('plan', plan, 'Plans: activities, schedule, window, retry, destination, retention.').optional(),
}, 'a map with settings, sites, targets, destinations, hooks and plans');

/** safehold.yaml as written (validated, before defaults and compilation). */
export type RawConfig = z.infer<typeof configSchema>;
