// Compiles a schema-valid safehold.yaml (RawConfig) into the Config of
// types.ts: applies defaults, converts durations and sizes, resolves secrets
// and relative paths, replaces hook names by hooks, and checks every
// reference (sites, destinations, hooks) and activity-name uniqueness. Each
// section has its own compiler (compile-*.ts); they share a CompileContext.

import nodePath from 'node:path';
import type { RawConfig } from './schema.ts';
import type { Config, Destination, Hook, Settings, Site } from './types.ts';
import type { Problem } from './problems.ts';
import type { PathSegment } from './yaml-source.ts';
import { parseSizeOrPercent } from './values.ts';
import { compileAlertChannels } from './compile-alerts.ts';
import { compileGroups } from './compile-groups.ts';
import { compileContext, DEFAULTS, entries, ms } from './compile-context.ts';
import type { CompileContext, Sections } from './compile-context.ts';
import { compileTargets } from './compile-targets.ts';
import { compilePlans } from './compile-plans.ts';

export { DEFAULTS } from './compile-context.ts';

type Raw = NonNullable<RawConfig>;

export function compileConfig(raw: Raw, file: string, env: NodeJS.ProcessEnv): { config: Config; problems: Problem[] } {
  const sections: Sections = { sites: {}, hooks: {} };
  const ctx = compileContext(file, env, sections);
  const settings = compileSettings(ctx, raw.settings, env);
  const sites = (sections.sites = compileSites(raw.sites));
  const targets = compileTargets(ctx, raw.targets);
  const destinations = compileDestinations(ctx, raw.destinations);
  sections.hooks = compileHooks(raw.hooks);
  const plans = compilePlans(ctx, raw.plans, { destinations, groups: raw.groups ?? {} });
  const alerts = compileAlertChannels(raw.alerts?.channels, ctx, raw.plans ?? {});
  const { groups, restorePlans } = compileGroups(raw, { ...ctx, targets, destinations });
  const config: Config = { file, settings, sites, targets, destinations, plans, alerts, groups, restorePlans };
  return { config, problems: ctx.problems };
}

function compileSettings(ctx: CompileContext, s: Raw['settings'], env: NodeJS.ProcessEnv): Settings {
  const settings: Settings = {
    backupsEnabled: s?.backups !== 'disabled',
    dataDir: env.SAFEHOLD_DATA_DIR
      ? nodePath.resolve(env.SAFEHOLD_DATA_DIR)
      : s?.dataDir !== undefined
        ? nodePath.resolve(ctx.baseDir, s.dataDir)
        : null,
    quiesceGraceMs: ms(s?.quiesceGrace, DEFAULTS.quiesceGraceMs),
    maxParallelRuns: s?.maxParallelRuns ?? DEFAULTS.maxParallelRuns,
    lockMaxAgeMs: ms(s?.lockMaxAge, DEFAULTS.lockMaxAgeMs),
    lockHeartbeatTimeoutMs: ms(s?.lockHeartbeatTimeout, DEFAULTS.lockHeartbeatTimeoutMs),
    shutdownGraceMs: ms(s?.shutdownGrace, DEFAULTS.shutdownGraceMs),
    metrics: { enabled: s?.metrics?.enabled ?? true, protect: s?.metrics?.protect ?? false },
  };
  if (settings.maxParallelRuns < 1) ctx.problem(['settings', 'maxParallelRuns'], 'expected at least 1');
  return settings;
}

function compileSites(raw: Raw['sites']): Record<string, Site> {
  return Object.fromEntries(entries(raw).map(([name, s]) => [name, { name, description: s.description ?? '' }]));
}

function compileDestinations(ctx: CompileContext, raw: Raw['destinations']): Record<string, Destination> {
  return Object.fromEntries(entries(raw).map(([name, d]) => [name, compileDestination(ctx, name, d)]));
}

function compileDestination(
  ctx: CompileContext,
  name: string,
  d: NonNullable<Raw['destinations']>[string],
): Destination {
  const path: PathSegment[] = ['destinations', name];
  const common = {
    name,
    path: nodePath.resolve(ctx.baseDir, d.path),
    requireMount: d.requireMount ?? false,
    minFree: d.minFree === undefined ? null : parseSizeOrPercent(d.minFree)!,
    site: ctx.siteOf(path, d.site),
  };
  if (d.type === 'repository')
    return { type: 'repository', ...common, password: ctx.secret([...path, 'password'], d.password) };
  const keep = d.generations?.keep ?? DEFAULTS.generationsKept;
  const naming = d.generations?.naming ?? (keep === 2 ? 'old' : 'numbered');
  if (keep < 1) ctx.problem([...path, 'generations', 'keep'], 'expected at least 1');
  else if (naming === 'old' && keep !== 2) {
    ctx.problem(
      [...path, 'generations', 'naming'],
      `naming 'old' keeps exactly 2 generations (<name> and <name>.old), not ${keep}: use 'numbered' or 'timestamped'`,
    );
  }
  return { type: 'directory', ...common, generations: { keep, naming } };
}

function compileHooks(raw: Raw['hooks']): Record<string, Hook> {
  return Object.fromEntries(
    entries(raw).map(([name, h]) => [
      name,
      {
        name,
        command: h.command,
        timeoutMs: ms(h.timeout, DEFAULTS.hookTimeoutMs),
        failOnError: h.failOnError ?? true,
        always: h.always ?? false,
      },
    ]),
  );
}

/** Freezes `v` and everything reachable from it. */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}
