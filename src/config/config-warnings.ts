// What is allowed in a configuration but probably not meant, as warnings
// (never errors): a plan that runs more often than its finest keep rule
// keeps snapshots (every 5 minutes with only keepDaily: the snapshot just
// taken is forgotten at the next purge), and places that are not there yet
// (a files target's path, a directory destination, a repository destination
// with no repository). `config validate` lists them all; loading a
// configuration for other commands reports the retention ones.

import fs from 'node:fs';
import { Cron } from 'croner';
import { isGlob } from '../core/glob.ts';
import { openBackend } from '../repo/backend/factory.ts';
import type { Config, Plan, RepositoryDestination, Retention } from './types.ts';
import type { Backend } from '../repo/backend/backend.ts';
import { formatPath } from './problems.ts';

export interface ConfigWarning {
  /** Where in the file, e.g. plans.nightly.retention. */
  path: string;
  message: string;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** The calendar keep rules, finest first, with the shortest time between two snapshots they keep. */
const CALENDAR_RULES = [
  { key: 'keepDaily', periodMs: DAY, per: 'a day' },
  { key: 'keepWeekly', periodMs: 7 * DAY, per: 'a week' },
  { key: 'keepMonthly', periodMs: 28 * DAY, per: 'a month' },
  { key: 'keepYearly', periodMs: 365 * DAY, per: 'a year' },
] as const;

/** Runs this close to the rule's period (a daily run across a clock change is 23 hours apart) do not warn. */
const SLACK = 0.9;

/** Runs looked at to find a schedule's shortest interval. */
const RUNS_SAMPLED = 200;

/** Every retention warning of the configuration: the plans' own rules and their copies'. */
export function retentionWarnings(config: Config): ConfigWarning[] {
  const out: ConfigWarning[] = [];
  for (const plan of Object.values(config.plans)) {
    const every = shortestInterval(plan.schedule);
    if (every === null) continue;
    const own = coarseRetention(plan.retention, every);
    if (own) {
      out.push({
        path: formatPath(['plans', plan.name, 'retention']),
        message: `plan ${plan.name} runs every ${spell(every)} but keeps only one snapshot ${own}: add keepLast, keepHourly or keepWithin to keep recent ones`,
      });
    }
    plan.activities.forEach((a, i) => {
      const per = coarseRetention(a.retention, every);
      if (!per) return;
      out.push({
        path: formatPath(['plans', plan.name, 'activities', i, 'retention']),
        message: `plan ${plan.name} runs every ${spell(every)} but its copies to ${a.to} keep only one snapshot ${per}: add keepLast, keepHourly or keepWithin to keep recent ones`,
      });
    });
  }
  return out;
}

/** "a day" when the rules keep at most one snapshot per period longer than `everyMs` and nothing finer; else null. */
function coarseRetention(r: Retention | null, everyMs: number): string | null {
  if (!r || r.keepLast || r.keepHourly || r.keepWithinMs !== null) return null;
  const finest = CALENDAR_RULES.find((c) => r[c.key]);
  if (!finest || everyMs >= finest.periodMs * SLACK) return null;
  return finest.per;
}

/** The shortest time between two runs of the schedule (null: on demand only). */
export function shortestInterval(schedule: Plan['schedule']): number | null {
  if (!schedule) return null;
  let runs: Date[];
  try {
    const c = new Cron(schedule.cron, { timezone: schedule.timezone, paused: true, mode: '5-part' });
    runs = c.nextRuns(RUNS_SAMPLED, new Date(Date.UTC(2026, 0, 1)));
  } catch {
    return null;
  }
  let min: number | null = null;
  for (let i = 1; i < runs.length; i++) {
    const gap = runs[i]!.getTime() - runs[i - 1]!.getTime();
    if (min === null || gap < min) min = gap;
  }
  return min;
}

/** 5 minutes, 1 hour → "hour", 2 days. */
function spell(ms: number): string {
  const [n, unit] = ms < HOUR ? [ms / MINUTE, 'minute'] : ms < DAY ? [ms / HOUR, 'hour'] : [ms / DAY, 'day'];
  const r = Math.round(n * 10) / 10;
  return r === 1 ? unit : `${r} ${unit}s`;
}

/** Places the configuration names that do not exist now: files targets' paths, destinations, uninitialised repositories. */
export async function locationWarnings(config: Config): Promise<ConfigWarning[]> {
  const out: ConfigWarning[] = [];
  for (const t of Object.values(config.targets)) {
    if (t.kind !== 'files') continue;
    for (const [unit, u] of Object.entries(t.units)) {
      u.paths.forEach((p, i) => {
        if (!isGlob(p) && !fs.existsSync(p))
          out.push({
            path: formatPath(['targets', t.name, 'units', unit, 'paths', i]),
            message: `${p} does not exist (target ${t.name}, unit ${unit})`,
          });
      });
    }
  }
  for (const d of Object.values(config.destinations)) {
    if (d.type === 'repository' && d.remote !== null) {
      const w = await remoteRepositoryWarning(d, config.file);
      if (w) out.push(w);
      continue;
    }
    const at = formatPath(['destinations', d.name, 'path']);
    if (!fs.existsSync(d.path)) {
      out.push({ path: at, message: `destination ${d.name}: ${d.path} does not exist` });
      continue;
    }
    if (d.type === 'repository' && !(await openBackend(d.location).exists())) {
      out.push({
        path: at,
        message: `destination ${d.name}: no repository at ${d.path} yet (create it with 'safehold init --config ${config.file} --destination ${d.name}')`,
      });
    }
  }
  return out;
}

/** A remote repository that cannot be reached or is not initialised yet (its backend asked once). */
async function remoteRepositoryWarning(d: RepositoryDestination, file: string): Promise<ConfigWarning | null> {
  const at = formatPath(['destinations', d.name, 'location']);
  let backend: Backend | null = null;
  try {
    backend = openBackend(d.location, d.backendOptions);
    if (await backend.exists()) return null;
    return {
      path: at,
      message: `destination ${d.name}: no repository at ${d.path} yet (create it with 'safehold init --config ${file} --destination ${d.name}')`,
    };
  } catch (e) {
    return { path: at, message: `destination ${d.name}: cannot reach ${d.path}: ${(e as Error).message}` };
  } finally {
    await backend?.close().catch(() => {});
  }
}
