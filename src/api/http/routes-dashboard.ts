// GET /api/dashboard (viewer): one answer with everything the console's
// dashboard shows — each configured plan with its last run, last success and
// next due time; the running runs with their tasks; the leases held; the ten
// newest alerts; the failures (failed or partial runs) of the last 24 hours;
// and the protection state of each (plan, target, unit). A unit is covered by
// a plan when one of the plan's five newest runs had a (not skipped) backup or
// export task for it, or when the plan's backup/export activities name it
// through a files target's configured units or a group's listed members, or
// when the plan's last run skipped or failed a task for it. Its state:
// `failing` when the plan's last run skipped or failed the task for it (its
// target unavailable, a pattern that matched nothing, a failed dump; a task
// whose pattern matched no known unit is a row of its own, named by the
// pattern), whatever the age of its newest snapshot; else `ok` when a
// succeeded backup/export task of the plan finished within 2× the plan's
// schedule interval (the largest gap between its next due times; 26 h
// without a schedule), `stale` when the newest is older, `never` when there
// is none. All of it comes from index-backed queries
// (DashboardQueries, migration 010), about 2–3 ms of SQL on a catalog of
// 100,000 runs; the answer is reused for up to a second (by the injected
// clock), so many consoles polling at once cost one computation a second.

import type { z } from 'zod';
import type { Config, Plan } from '../../config/types.ts';
import { configuredTargets } from '../../config/activity-targets.ts';
import { globToRegExp, naturalCompare } from '../../core/glob.ts';
import { DashboardQueries } from '../../catalog/dashboard-queries.ts';
import type { PlanUnit, UnitProblem } from '../../catalog/dashboard-queries.ts';
import { dueTimes, nextDue } from '../../scheduler/schedule.ts';
import { dashboardSchema } from './schemas.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

const HOUR = 3_600_000;
/** Without a schedule, a unit is stale when its newest snapshot is older than this. */
export const UNSCHEDULED_STALE_MS = 26 * HOUR;
const DAY = 24 * HOUR;
const ALERTS = 10;
const RECENT_RUNS = 5;
/** How long one computed dashboard is served again. */
export const DASHBOARD_CACHE_MS = 1000;

type Schedule = NonNullable<Plan['schedule']>;

export function dashboardRoutes(app: ApiApp, ctx: RouteContext): void {
  const q = DashboardQueries.open(ctx.deps.catalog.path, ctx.deps.clock);
  app.addHook('onClose', async () => q.close());
  const times = new ScheduleTimes();
  let cached: { at: number; body: z.infer<typeof dashboardSchema> } | null = null;

  app.get(
    '/api/dashboard',
    {
      schema: {
        ...op(
          'getDashboard',
          'dashboard',
          'viewer',
          'plans, running runs, locks, alerts, failures and protection state at a glance',
        ),
        response: { 200: dashboardSchema, ...errorResponses },
      },
    },
    async () => {
      const now = ctx.deps.clock.now();
      if (cached && now >= cached.at && now - cached.at < DASHBOARD_CACHE_MS) return cached.body;
      cached = { at: now, body: compute(now) };
      return cached.body;
    },
  );

  const compute = (now: number): z.infer<typeof dashboardSchema> => {
    const plans = Object.values(ctx.deps.config.plans);
    const names = plans.map((p) => p.name);
    const last = q.lastRuns(names);
    const success = q.lastSuccesses(names);
    const coreNext = ctx.deps.core?.status().next;
    const problems = new ProblemIndex(q.lastRunProblems(names));
    const units = coveredUnits(ctx.deps.config, q.recentUnits(names, RECENT_RUNS), problems);
    const snaps = q.lastSnapshots(units);
    return {
      plans: plans.map((p) => {
        const r = last.get(p.name);
        return {
          name: p.name,
          description: p.description,
          schedule: scheduleText(p.schedule),
          nextDue: coreNext ? (coreNext[p.name] ?? null) : p.schedule ? times.next(p.schedule, now) : null,
          lastRun: r
            ? {
                id: r.id,
                status: r.status,
                trigger: r.trigger,
                startedAt: r.startedAt,
                finishedAt: r.finishedAt,
                reason: r.reason,
              }
            : null,
          lastSuccessAt: success.get(p.name) ?? null,
        };
      }),
      running: q.running(),
      locks: q.leases(),
      alerts: q.recentAlerts(ALERTS),
      failures24h: q.failuresSince(now - DAY),
      protection: units.map((u, i) => {
        const at = snaps[i] ?? null;
        const plan = ctx.deps.config.plans[u.plan]!;
        const limit = plan.schedule ? 2 * times.interval(plan.schedule, now) : UNSCHEDULED_STALE_MS;
        const ageMs = at === null ? null : now - at;
        const problem = problems.of(u);
        const state = problem
          ? ('failing' as const)
          : ageMs === null
            ? ('never' as const)
            : ageMs <= limit
              ? ('ok' as const)
              : ('stale' as const);
        return { ...u, lastSnapshotAt: at, ageMs, state, reason: problem ? problem.reason : null };
      }),
    };
  };
}

function scheduleText(s: Plan['schedule']): string | null {
  if (!s) return null;
  return s.timezone === 'UTC' ? s.cron : `${s.cron} (${s.timezone})`;
}

/**
 * The units each configured plan covers, in plan (configuration) order, then
 * by target and unit: those of its recent runs' tasks, those its
 * backup/export activities name statically (files targets' units, group
 * members' listed units), and the unit or pattern of each task its last run
 * skipped or failed that covers none of those.
 */
export function coveredUnits(
  config: Config,
  recent: readonly PlanUnit[],
  problems: ProblemIndex = new ProblemIndex([]),
): PlanUnit[] {
  const out: PlanUnit[] = [];
  for (const p of Object.values(config.plans)) {
    const seen = new Map<string, PlanUnit>();
    const add = (target: string, unit: string | null) =>
      seen.set(JSON.stringify([target, unit]), { plan: p.name, target, unit });
    for (const u of recent) if (u.plan === p.name) add(u.target, u.unit);
    for (const a of p.activities) {
      if (a.kind !== 'backup' && a.kind !== 'export') continue;
      if (a.group !== null) {
        for (const m of config.groups[a.group]?.members ?? []) for (const unit of m.units ?? []) add(m.target, unit);
        continue;
      }
      const taken = new Set(configuredTargets(a, config));
      const ure = a.units === null ? null : globToRegExp(a.units);
      for (const t of Object.values(config.targets)) {
        if (t.kind !== 'files' || !taken.has(t.name)) continue;
        for (const unit of Object.keys(t.units)) if (!ure || ure.test(unit)) add(t.name, unit);
      }
    }
    const known = [...seen.values()];
    for (const x of problems.ofPlan(p.name)) if (!known.some((u) => x.covers(u))) add(x.target, x.unit);
    out.push(
      ...[...seen.values()].sort(
        (a, b) => naturalCompare(a.target, b.target) || naturalCompare(a.unit ?? '', b.unit ?? ''),
      ),
    );
  }
  return out;
}

/** A task skipped or failed in a plan's last run, and which units it stands for. */
class Problem {
  readonly target: string;
  readonly unit: string | null;
  readonly reason: string | null;
  private readonly re: RegExp | null;

  constructor(p: UnitProblem) {
    this.target = p.target;
    this.unit = p.unit;
    this.reason = p.reason;
    this.re = p.unit === null ? null : globToRegExp(p.unit);
  }

  /** The task was for this unit: its unit, or every unit of its target (null), or a unit its unexpanded pattern matches. */
  covers(u: PlanUnit): boolean {
    if (u.target !== this.target) return false;
    return this.unit === null || this.unit === u.unit || (u.unit !== null && this.re!.test(u.unit));
  }
}

/** The problems of the plans' last runs, by plan and target (a unit looks at its target's only). */
export class ProblemIndex {
  private readonly byTarget = new Map<string, Problem[]>();
  private readonly byPlan = new Map<string, Problem[]>();

  constructor(problems: readonly UnitProblem[]) {
    for (const p of problems) {
      const x = new Problem(p);
      push(this.byTarget, JSON.stringify([p.plan, p.target]), x);
      push(this.byPlan, p.plan, x);
    }
  }

  ofPlan(plan: string): readonly Problem[] {
    return this.byPlan.get(plan) ?? [];
  }

  /** The first problem of the unit's plan's last run that covers it, or null. */
  of(u: PlanUnit): Problem | null {
    return this.byTarget.get(JSON.stringify([u.plan, u.target]))?.find((x) => x.covers(u)) ?? null;
  }
}

function push<T>(m: Map<string, T[]>, key: string, v: T): void {
  const list = m.get(key);
  if (list) list.push(v);
  else m.set(key, [v]);
}

/** A schedule's next due time and its interval, cached: both cost a cron evaluation. */
export class ScheduleTimes {
  private readonly intervals = new Map<string, number>();
  private readonly nexts = new Map<string, { from: number; at: number | null }>();

  /** The largest gap between the next nine due times (a weekday schedule: its weekend gap); 26 h/2 if it fires less than twice a year. */
  interval(s: Schedule, now: number): number {
    const key = `${s.timezone}\u0000${s.cron}`;
    let v = this.intervals.get(key);
    if (v === undefined) {
      const t = dueTimes(s, now, now + 400 * DAY, 9);
      v = UNSCHEDULED_STALE_MS / 2;
      if (t.length >= 2) v = Math.max(...t.slice(1).map((x, i) => x - t[i]!));
      this.intervals.set(key, v);
    }
    return v;
  }

  /** The first due time after `now` (reused while `now` is before it). */
  next(s: Schedule, now: number): number | null {
    const key = `${s.timezone}\u0000${s.cron}`;
    const c = this.nexts.get(key);
    if (c && c.from <= now && c.at !== null && now < c.at) return c.at;
    const at = nextDue(s, now);
    this.nexts.set(key, { from: now, at });
    return at;
  }
}
