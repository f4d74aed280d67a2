// Compiles the `plans:` section: each activity checked (unique names, the
// options its kind takes, references to destinations, groups and hooks) and
// given its defaults; retry policies, the window and retention rules.

import type { RawConfig } from './schema.ts';
import type { Activity, Destination, Plan, PurgeSpec, Retention, RetryPolicy, Window } from './types.ts';
import type { PathSegment } from './yaml-source.ts';
import { sqlDialect } from './sql-url.ts';
import { localTimeZone, parseDays, parseDuration } from './values.ts';
import { DEFAULTS, entries, ms } from './compile-context.ts';
import { GROUP_PREFIX } from './activity-targets.ts';
import type { CompileContext } from './compile-context.ts';
import { mergeRules } from './compile-protection.ts';
import type { ProtectionRules } from './types.ts';

type Raw = NonNullable<RawConfig>;
type RawPlan = NonNullable<Raw['plans']>[string];
type RawActivity = RawPlan['activities'][number];

const ALL_DAYS = [0, 1, 2, 3, 4, 5, 6];

/** What plans refer to: the compiled destinations and the raw groups (their member targets). */
interface PlanRefs {
  destinations: Record<string, Destination>;
  groups: Readonly<Record<string, { readonly members: readonly { readonly target: string }[] }>>;
  /** The global protection rules, which a plan's `protection:` overrides. */
  protection: ProtectionRules;
}

export function compilePlans(ctx: CompileContext, raw: Raw['plans'], refs: PlanRefs): Record<string, Plan> {
  return Object.fromEntries(entries(raw).map(([name, p]) => [name, compilePlan(ctx, refs, name, p)]));
}

function compilePlan(ctx: CompileContext, refs: PlanRefs, name: string, p: RawPlan): Plan {
  const path: PathSegment[] = ['plans', name];
  ctx.reference([...path, 'destination'], 'destination', 'destinations', p.destination, refs.destinations);
  const names = new Map<string, number>();
  const activities = p.activities.map((a, i) => compileActivity(ctx, refs, p, a, [...path, 'activities', i], names));
  return {
    name,
    description: p.description ?? '',
    activities,
    schedule: compileSchedule(p.schedule),
    window: compileWindow(p.window),
    destination: p.destination,
    retry: compileRetry(p.retry),
    timeoutMs: ms(p.timeout, DEFAULTS.runTimeoutMs),
    retention: compileRetention(p.retention),
    prePlan: ctx.hookOf([...path, 'prePlan'], p.prePlan),
    postPlan: ctx.hookOf([...path, 'postPlan'], p.postPlan),
    protection: mergeRules(refs.protection, p.protection),
  };
}

/** One activity; `names` maps the activity names met so far to their index. */
function compileActivity(
  ctx: CompileContext,
  refs: PlanRefs,
  p: RawPlan,
  a: RawActivity,
  at: PathSegment[],
  names: Map<string, number>,
): Activity {
  const i = Number(at.at(-1));
  const actName = a.name ?? `${a.kind}-${i + 1}`;
  const first = names.get(actName);
  if (first !== undefined)
    ctx.problem([...at, 'name'], `activity name '${actName}' is already used by activities[${first}]`);
  else names.set(actName, i);
  if (a.group !== undefined) checkGroupBackup(ctx, refs, a, at);
  checkKindOptions(ctx, a, at);
  if (a.kind === 'copy') checkCopy(ctx, refs, p, a, at);
  if (a.retention !== undefined) checkCopyRetention(ctx, refs, a, at);
  if (a.kind === 'purge' && (a.purge ?? 'retention') === 'retention') checkRetentionPurge(ctx, refs, p, at);
  return {
    name: actName,
    kind: a.kind,
    purge: compilePurge(ctx, a, at),
    to: a.kind === 'copy' ? (a.to ?? null) : null,
    group: a.group ?? null,
    timeoutMs: ms(a.timeout, DEFAULTS.taskTimeoutMs),
    targets: compileTargetPatterns(ctx, refs, a.targets, [...at, 'targets']),
    retention: a.kind === 'copy' ? compileRetention(a.retention) : null,
    units: a.units ?? null,
    quiesce: a.quiesce ?? false,
    quiesceTimeoutMs: ms(a.quiesceTimeout, DEFAULTS.quiesceTimeoutMs),
    preTask: ctx.hookOf([...at, 'preTask'], a.preTask),
    postTask: ctx.hookOf([...at, 'postTask'], a.postTask),
    tags: a.tags ?? [],
    allowEmpty: a.allowEmpty ?? false,
  };
}

/** "a backup", "an export". */
function article(kind: string): string {
  return `${kind === 'export' ? 'an' : 'a'} ${kind}`;
}

/** `purge` and `to` belong to one kind of activity each. */
function checkKindOptions(ctx: CompileContext, a: RawActivity, at: PathSegment[]): void {
  if (a.purge !== undefined && a.kind !== 'purge') {
    ctx.problem([...at, 'purge'], `only purge activities take 'purge' (this one is ${article(a.kind)})`);
  }
  if (a.to !== undefined && a.kind !== 'copy') {
    ctx.problem([...at, 'to'], `only copy activities take 'to' (this one is ${article(a.kind)})`);
  }
}

/**
 * `targets` as a list of patterns: one glob, or a list of them; `group:NAME`
 * becomes the names of the group's member targets.
 */
function compileTargetPatterns(
  ctx: CompileContext,
  refs: PlanRefs,
  raw: RawActivity['targets'],
  at: PathSegment[],
): string[] {
  if (raw === undefined) return [];
  const list = typeof raw === 'string' ? [raw] : raw;
  const out: string[] = [];
  list.forEach((p, i) => {
    const here = typeof raw === 'string' ? at : [...at, i];
    if (!p.startsWith(GROUP_PREFIX)) {
      out.push(p);
      return;
    }
    const name = p.slice(GROUP_PREFIX.length);
    ctx.reference(here, 'group', 'groups', name, refs.groups);
    out.push(...(refs.groups[name]?.members ?? []).map((m) => m.target));
  });
  return [...new Set(out)];
}

/** A copy's own retention: copy activities to a repository destination only. */
function checkCopyRetention(ctx: CompileContext, refs: PlanRefs, a: RawActivity, at: PathSegment[]): void {
  if (a.kind !== 'copy') {
    ctx.problem([...at, 'retention'], `only copy activities take 'retention' (this one is ${article(a.kind)})`);
    return;
  }
  if (a.to !== undefined && refs.destinations[a.to]?.type === 'directory') {
    ctx.problem(
      [...at, 'retention'],
      `copies to the directory destination '${a.to}', which keeps its generations by itself (its 'generations.keep'): leave out 'retention'`,
    );
  }
}

function checkGroupBackup(ctx: CompileContext, refs: PlanRefs, a: RawActivity, at: PathSegment[]): void {
  ctx.reference([...at, 'group'], 'group', 'groups', a.group!, refs.groups);
  if (a.kind !== 'backup') {
    ctx.problem([...at, 'group'], `only backup activities take 'group' (this one is ${article(a.kind)})`);
  }
  if (a.targets !== undefined || a.units !== undefined) {
    ctx.problem(
      [...at, 'group'],
      "a group backup takes its targets and units from the group: leave out 'targets' and 'units'",
    );
  }
}

function checkCopy(ctx: CompileContext, refs: PlanRefs, p: RawPlan, a: RawActivity, at: PathSegment[]): void {
  if (a.to === undefined) {
    ctx.problem(at, "a copy activity needs 'to': the destination to copy to");
    return;
  }
  ctx.reference([...at, 'to'], 'destination', 'destinations', a.to, refs.destinations);
  const from = refs.destinations[p.destination];
  const to = refs.destinations[a.to];
  if (a.to === p.destination) ctx.problem([...at, 'to'], `copies to the plan's own destination '${a.to}'`);
  else if (from && to && from.type !== to.type) {
    ctx.problem(
      [...at, 'to'],
      `copies from a ${from.type} destination to a ${to.type} destination; both must be of one type`,
    );
  }
}

function checkRetentionPurge(ctx: CompileContext, refs: PlanRefs, p: RawPlan, at: PathSegment[]): void {
  if (!p.retention) ctx.problem([...at, 'purge'], "a retention purge needs the plan's 'retention' rules");
  if (refs.destinations[p.destination]?.type === 'directory') {
    ctx.problem(
      [...at, 'purge'],
      'a retention purge needs a repository destination (a directory destination keeps its generations by itself)',
    );
  }
}

function compilePurge(ctx: CompileContext, a: RawActivity, at: PathSegment[]): PurgeSpec | null {
  if (a.kind !== 'purge') return null;
  if (a.purge === undefined || a.purge === 'retention') return { type: 'retention' };
  const timeoutMs = ms(a.purge.timeout, DEFAULTS.commandTimeoutMs);
  if ('command' in a.purge) return { type: 'command', command: a.purge.command, timeoutMs };
  const database = ctx.secret([...at, 'purge', 'database'], a.purge.database);
  if (database.value !== '' && !sqlDialect(database.value)) {
    ctx.problem([...at, 'purge', 'database'], 'expected a postgres:// or mariadb:// (mysql://) connection URL');
  }
  return { type: 'sql', sql: a.purge.sql, database, timeoutMs };
}

function compileSchedule(s: RawPlan['schedule']): Plan['schedule'] {
  if (s === undefined) return null;
  if (typeof s === 'string') return { cron: s, timezone: localTimeZone() };
  return { cron: s.cron, timezone: s.timezone ?? localTimeZone() };
}

function compileRetry(r: RawPlan['retry']): Plan['retry'] {
  const policy = (
    p: { every?: string | undefined; for?: string | undefined } | undefined,
    forMs: number,
  ): RetryPolicy => ({
    intervalMs: ms(p?.every, DEFAULTS.retryEveryMs),
    maxDurationMs: ms(p?.for, forMs),
  });
  const onDemand = r?.onDemand;
  return {
    scheduled: policy(r?.scheduled, DEFAULTS.retryForMs),
    purge: policy(r?.purge, DEFAULTS.purgeRetryForMs),
    onDemand: onDemand === undefined || onDemand === 'none' ? null : policy(onDemand, DEFAULTS.retryForMs),
  };
}

function compileWindow(w: RawPlan['window']): Window {
  if (w === undefined || w === 'always') return { type: 'always' };
  const timezone = w.timezone ?? localTimeZone();
  if (w.cron !== undefined) return { type: 'cron', expression: w.cron, timezone };
  return {
    type: 'ranges',
    timezone,
    ranges: (w.ranges ?? []).map((r) => ({
      days: r.days === undefined ? [...ALL_DAYS] : parseDays(r.days),
      from: r.from,
      to: r.to,
    })),
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
