// Compiles a schema-valid safehold.yaml (RawConfig) into the Config of
// types.ts: applies defaults, converts durations and sizes, resolves secrets
// and relative paths, replaces hook names by hooks, and checks every
// reference (sites, destinations, hooks) and activity-name uniqueness.

import nodePath from 'node:path';
import type { RawConfig } from './schema.ts';
import type {
  Activity, Config, Destination, DeviceTarget, Hook, Plan, PurgeSpec, Retention, RetryPolicy, Secret, Settings, Site, Target, Window,
} from './types.ts';
import type { Problem } from './problems.ts';
import type { PathSegment } from './yaml-source.ts';
import { resolveSecret } from './secrets.ts';
import { compileAlertChannels } from './compile-alerts.ts';
import { compileGroups } from './compile-groups.ts';
import { sqlDialect } from './sql-url.ts';
import type { SecretSpec } from './secrets.ts';
import { closest, localTimeZone, parseDays, parseDuration, parseSizeOrPercent } from './values.ts';

export const DEFAULTS = Object.freeze({
  quiesceGraceMs: 3 * 60_000,
  quiesceTimeoutMs: 2 * 60_000,
  hookTimeoutMs: 5 * 60_000,
  commandTimeoutMs: 60 * 60_000,
  adapterTimeoutMs: 10 * 60_000,
  retryEveryMs: 10 * 60_000,
  retryForMs: 4 * 60 * 60_000,
  purgeRetryForMs: 6 * 60 * 60_000,
  maxParallelRuns: 2,
  lockMaxAgeMs: 12 * 60 * 60_000,
  lockHeartbeatTimeoutMs: 5 * 60_000,
  shutdownGraceMs: 60_000,
  runTimeoutMs: 10 * 60 * 60_000,
  taskTimeoutMs: 4 * 60 * 60_000,
  generationsKept: 2,
  dumpTimeoutMs: 6 * 60 * 60_000,
});

const ALL_DAYS = [0, 1, 2, 3, 4, 5, 6];

type Raw = NonNullable<RawConfig>;
type RawPlan = NonNullable<Raw['plans']>[string];
type RawTarget = NonNullable<Raw['targets']>[string];

/** Durations were validated by the schema; absent ones take the default. */
function ms(text: string | undefined, dflt: number): number {
  return text === undefined ? dflt : parseDuration(text)!;
}

function entries<T>(rec: Record<string, T> | undefined): [string, T][] {
  return Object.entries(rec ?? {});
}

export function compileConfig(raw: Raw, file: string, env: NodeJS.ProcessEnv): { config: Config; problems: Problem[] } {
  const problems: Problem[] = [];
  const baseDir = nodePath.dirname(file);
  const problem = (path: PathSegment[], message: string) => problems.push({ path, message, at: { path, mode: 'value' } });

  const secret = (path: PathSegment[], spec: SecretSpec): Secret => {
    const r = resolveSecret(spec, env, baseDir);
    if ('problem' in r) {
      problem(path, r.problem);
      return { source: 'unresolved', value: '' };
    }
    return r.secret;
  };
  const secretMap = (path: PathSegment[], rec: Record<string, SecretSpec> | undefined): Record<string, Secret> =>
    Object.fromEntries(entries(rec).map(([k, v]) => [k, secret([...path, k], v)]));

  const reference = (path: PathSegment[], kind: string, section: string, name: string, defined: Record<string, unknown>): void => {
    if (Object.hasOwn(defined, name)) return;
    const names = Object.keys(defined);
    const near = closest(name, names);
    const hint = near !== null ? ` (did you mean '${near}'?)`
      : names.length === 0 ? ` (there are no ${section})`
      : ` (defined: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''})`;
    problem(path, `${kind} '${name}' is not defined under '${section}'${hint}`);
  };

  const settings: Settings = {
    backupsEnabled: raw.settings?.backups !== 'disabled',
    dataDir: env.SAFEHOLD_DATA_DIR ? nodePath.resolve(env.SAFEHOLD_DATA_DIR)
      : raw.settings?.dataDir !== undefined ? nodePath.resolve(baseDir, raw.settings.dataDir) : null,
    quiesceGraceMs: ms(raw.settings?.quiesceGrace, DEFAULTS.quiesceGraceMs),
    maxParallelRuns: raw.settings?.maxParallelRuns ?? DEFAULTS.maxParallelRuns,
    lockMaxAgeMs: ms(raw.settings?.lockMaxAge, DEFAULTS.lockMaxAgeMs),
    lockHeartbeatTimeoutMs: ms(raw.settings?.lockHeartbeatTimeout, DEFAULTS.lockHeartbeatTimeoutMs),
    shutdownGraceMs: ms(raw.settings?.shutdownGrace, DEFAULTS.shutdownGraceMs),
    metrics: { enabled: raw.settings?.metrics?.enabled ?? true, protect: raw.settings?.metrics?.protect ?? false },
  };
  if (settings.maxParallelRuns < 1) problem(['settings', 'maxParallelRuns'], 'expected at least 1');

  const sites: Record<string, Site> = Object.fromEntries(entries(raw.sites).map(([name, s]) => [name, { name, description: s.description ?? '' }]));
  const siteOf = (path: PathSegment[], name: string | undefined): string | null => {
    if (name === undefined) return null;
    reference([...path, 'site'], 'site', 'sites', name, sites);
    return name;
  };

  const targets: Record<string, Target> = Object.fromEntries(
    entries(raw.targets).map(([name, t]) => [name, compileTarget(name, t, ['targets', name])]),
  );

  function compileTarget(name: string, t: RawTarget, path: PathSegment[]): Target {
    const site = siteOf(path, t.site);
    switch (t.kind) {
      case 'files':
        return {
          kind: 'files', name, site,
          units: Object.fromEntries(entries(t.units).map(([u, spec]) => [u, {
            paths: spec.paths.map((p) => nodePath.resolve(baseDir, p)),
            exclude: spec.exclude ?? [],
          }])),
        };
      case 'command':
        return {
          kind: 'command', name, site,
          listUnits: t.listUnits ?? null,
          backup: t.backup,
          restore: t.restore ?? null,
          probe: t.probe ?? null,
          timeoutMs: ms(t.timeout, DEFAULTS.commandTimeoutMs),
          env: secretMap([...path, 'env'], t.env),
        };
      case 'device': {
        const a = t.adapter;
        const timeoutMs = ms(a.timeout, DEFAULTS.adapterTimeoutMs);
        const adapter: DeviceTarget['adapter'] = a.http !== undefined
          ? { type: 'http', url: a.http.url, token: a.http.token === undefined ? null : secret([...path, 'adapter', 'http', 'token'], a.http.token), timeoutMs }
          : { type: 'command', command: a.command!, timeoutMs, env: secretMap([...path, 'adapter', 'env'], a.env) };
        return { kind: 'device', name, site, adapter };
      }
      case 'postgres':
      case 'mariadb':
        return {
          kind: t.kind, name, site, host: t.host ?? '127.0.0.1', port: t.port ?? (t.kind === 'postgres' ? 5432 : 3306),
          user: t.user ?? (t.kind === 'postgres' ? 'postgres' : 'root'),
          password: t.password === undefined ? null : secret([...path, 'password'], t.password),
          databases: t.databases ?? '*', exclude: t.exclude ?? [], timeoutMs: ms(t.timeout, DEFAULTS.dumpTimeoutMs),
        };
      case 'sqlite':
        return { kind: 'sqlite', name, site, dir: nodePath.resolve(baseDir, t.dir), files: t.files ?? '*.db', timeoutMs: ms(t.timeout, DEFAULTS.dumpTimeoutMs) };
    }
  }

  const destinations: Record<string, Destination> = Object.fromEntries(entries(raw.destinations).map(([name, d]) => {
    const path: PathSegment[] = ['destinations', name];
    const common = {
      name,
      path: nodePath.resolve(baseDir, d.path),
      requireMount: d.requireMount ?? false,
      minFree: d.minFree === undefined ? null : parseSizeOrPercent(d.minFree)!,
      site: siteOf(path, d.site),
    };
    if (d.type === 'repository') return [name, { type: 'repository', ...common, password: secret([...path, 'password'], d.password) } satisfies Destination];
    const keep = d.generations?.keep ?? DEFAULTS.generationsKept;
    const naming = d.generations?.naming ?? (keep === 2 ? 'old' : 'numbered');
    if (keep < 1) problem([...path, 'generations', 'keep'], 'expected at least 1');
    else if (naming === 'old' && keep !== 2) problem([...path, 'generations', 'naming'], `naming 'old' keeps exactly 2 generations (<name> and <name>.old), not ${keep}: use 'numbered' or 'timestamped'`);
    return [name, { type: 'directory', ...common, generations: { keep, naming } } satisfies Destination];
  }));

  const hooks: Record<string, Hook> = Object.fromEntries(entries(raw.hooks).map(([name, h]) => [name, {
    name,
    command: h.command,
    timeoutMs: ms(h.timeout, DEFAULTS.hookTimeoutMs),
    failOnError: h.failOnError ?? true,
    always: h.always ?? false,
  }]));
  const hookOf = (path: PathSegment[], name: string | undefined): Hook | null => {
    if (name === undefined) return null;
    reference(path, 'hook', 'hooks', name, hooks);
    return Object.hasOwn(hooks, name) ? hooks[name]! : null;
  };

  const plans: Record<string, Plan> = Object.fromEntries(entries(raw.plans).map(([name, p]) => [name, compilePlan(name, p, ['plans', name])]));

  function compilePlan(name: string, p: RawPlan, path: PathSegment[]): Plan {
    reference([...path, 'destination'], 'destination', 'destinations', p.destination, destinations);
    const names = new Map<string, number>();
    const activities: Activity[] = p.activities.map((a, i) => {
      const at: PathSegment[] = [...path, 'activities', i];
      const actName = a.name ?? `${a.kind}-${i + 1}`;
      const first = names.get(actName);
      if (first !== undefined) problem([...at, 'name'], `activity name '${actName}' is already used by activities[${first}]`);
      else names.set(actName, i);
      if (a.group !== undefined) {
        reference([...at, 'group'], 'group', 'groups', a.group, raw.groups ?? {});
        if (a.kind !== 'backup') problem([...at, 'group'], `only backup activities take 'group' (this one is ${a.kind === 'export' ? 'an' : 'a'} ${a.kind})`);
        if (a.targets !== undefined || a.units !== undefined) problem([...at, 'group'], "a group backup takes its targets and units from the group: leave out 'targets' and 'units'");
      }
      if (a.purge !== undefined && a.kind !== 'purge') problem([...at, 'purge'], `only purge activities take 'purge' (this one is ${a.kind === 'export' ? 'an' : 'a'} ${a.kind})`);
      if (a.to !== undefined && a.kind !== 'copy') problem([...at, 'to'], `only copy activities take 'to' (this one is ${a.kind === 'export' ? 'an' : 'a'} ${a.kind})`);
      if (a.kind === 'copy') {
        if (a.to === undefined) problem(at, "a copy activity needs 'to': the destination to copy to");
        else {
          reference([...at, 'to'], 'destination', 'destinations', a.to, destinations);
          const from = destinations[p.destination];
          const to = destinations[a.to];
          if (a.to === p.destination) problem([...at, 'to'], `copies to the plan's own destination '${a.to}'`);
          else if (from && to && from.type !== to.type) problem([...at, 'to'], `copies from a ${from.type} destination to a ${to.type} destination; both must be of one type`);
        }
      }
      if (a.kind === 'purge' && (a.purge ?? 'retention') === 'retention') {
        if (!p.retention) problem([...at, 'purge'], "a retention purge needs the plan's 'retention' rules");
        if (destinations[p.destination]?.type === 'directory') problem([...at, 'purge'], "a retention purge needs a repository destination (a directory destination keeps its generations by itself)");
      }
      const purgeSpec: PurgeSpec | null = a.kind !== 'purge' ? null
        : a.purge === undefined || a.purge === 'retention' ? { type: 'retention' }
        : 'command' in a.purge ? { type: 'command', command: a.purge.command, timeoutMs: ms(a.purge.timeout, DEFAULTS.commandTimeoutMs) }
        : { type: 'sql', sql: a.purge.sql, database: secret([...at, 'purge', 'database'], a.purge.database), timeoutMs: ms(a.purge.timeout, DEFAULTS.commandTimeoutMs) };
      if (purgeSpec?.type === 'sql' && purgeSpec.database.value !== '' && !sqlDialect(purgeSpec.database.value)) {
        problem([...at, 'purge', 'database'], 'expected a postgres:// or mariadb:// (mysql://) connection URL');
      }
      return {
        name: actName,
        kind: a.kind,
        purge: purgeSpec,
        to: a.kind === 'copy' ? a.to ?? null : null,
        group: a.group ?? null,
        timeoutMs: ms(a.timeout, DEFAULTS.taskTimeoutMs),
        targets: a.targets ?? '',
        units: a.units ?? null,
        quiesce: a.quiesce ?? false,
        quiesceTimeoutMs: ms(a.quiesceTimeout, DEFAULTS.quiesceTimeoutMs),
        preTask: hookOf([...at, 'preTask'], a.preTask),
        postTask: hookOf([...at, 'postTask'], a.postTask),
        tags: a.tags ?? [],
      };
    });
    const policy = (r: { every?: string | undefined; for?: string | undefined } | undefined, forMs = DEFAULTS.retryForMs): RetryPolicy => ({
      intervalMs: ms(r?.every, DEFAULTS.retryEveryMs),
      maxDurationMs: ms(r?.for, forMs),
    });
    const onDemand = p.retry?.onDemand;
    return {
      name,
      description: p.description ?? '',
      activities,
      schedule: p.schedule === undefined ? null
        : typeof p.schedule === 'string' ? { cron: p.schedule, timezone: localTimeZone() }
        : { cron: p.schedule.cron, timezone: p.schedule.timezone ?? localTimeZone() },
      window: compileWindow(p.window),
      destination: p.destination,
      retry: {
        scheduled: policy(p.retry?.scheduled),
        purge: policy(p.retry?.purge, DEFAULTS.purgeRetryForMs),
        onDemand: onDemand === undefined || onDemand === 'none' ? null : policy(onDemand),
      },
      timeoutMs: ms(p.timeout, DEFAULTS.runTimeoutMs),
      retention: compileRetention(p.retention),
      prePlan: hookOf([...path, 'prePlan'], p.prePlan),
      postPlan: hookOf([...path, 'postPlan'], p.postPlan),
    };
  }

  const alerts = compileAlertChannels(raw.alerts?.channels, { one: secret, map: secretMap });
  const { groups, restorePlans } = compileGroups(raw, { problem, reference, hookOf, targets, destinations, baseDir });
  const config: Config = { file, settings, sites, targets, destinations, plans, alerts, groups, restorePlans };
  return { config, problems };
}

function compileWindow(w: RawPlan['window']): Window {
  if (w === undefined || w === 'always') return { type: 'always' };
  const timezone = w.timezone ?? localTimeZone();
  if (w.cron !== undefined) return { type: 'cron', expression: w.cron, timezone };
  return {
    type: 'ranges',
    timezone,
    ranges: (w.ranges ?? []).map((r) => ({ days: r.days === undefined ? [...ALL_DAYS] : parseDays(r.days), from: r.from, to: r.to })),
  };
}

function compileRetention(r: RawPlan['retention']): Retention | null {
  if (r === undefined) return null;
  return {
    keepLast: r.keepLast ?? null,
    keepHourly: r.keepHourly ?? null,
    keepDaily: r.keepDaily ?? null,
    keepWeekly: r.keepWeekly ?? null,
    keepMonthly: r.keepMonthly ?? null,
    keepYearly: r.keepYearly ?? null,
    keepWithinMs: r.keepWithin === undefined ? null : parseDuration(r.keepWithin)!,
  };
}

/** Freezes `v` and everything reachable from it. */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
