// Compiles a schema-valid safehold.yaml (RawConfig) into the Config of
// types.ts: applies defaults, converts durations and sizes, resolves secrets
// and relative paths, replaces hook names by hooks, and checks every
// reference (sites, destinations, hooks) and activity-name uniqueness. Each
// section has its own compiler (compile-*.ts); they share a CompileContext.

import nodePath from 'node:path';
import type { RawConfig } from './schema.ts';
import type { Config, Hook, Settings, Site } from './types.ts';
import type { Problem } from './problems.ts';
import { compileAlertChannels } from './compile-alerts.ts';
import { compileGroups } from './compile-groups.ts';
import { compileContext, DEFAULTS, entries, ms } from './compile-context.ts';
import type { CompileContext, Sections } from './compile-context.ts';
import { compileTargets } from './compile-targets.ts';
import { compileDestinations } from './compile-destinations.ts';
import { compilePlans } from './compile-plans.ts';
import { compileRunbooks } from './compile-runbooks.ts';
import { compileProtection } from './compile-protection.ts';

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
  const protection = compileProtection(raw.protection, Object.keys(sites).length > 0);
  const plans = compilePlans(ctx, raw.plans, { destinations, groups: raw.groups ?? {}, protection: protection.rules });
  const alerts = compileAlertChannels(raw.alerts?.channels, ctx, raw.plans ?? {});
  const { groups, restorePlans } = compileGroups(raw, { ...ctx, targets, destinations });
  const runbooks = compileRunbooks(raw.runbooks, {
    problems: ctx.problems,
    root: raw,
    plans,
    restorePlans,
    targets,
  });
  const config: Config = {
    file,
    settings,
    sites,
    targets,
    destinations,
    plans,
    alerts,
    groups,
    restorePlans,
    protection,
    runbooks,
  };
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
