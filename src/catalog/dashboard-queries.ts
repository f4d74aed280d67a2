// Read queries of the API's dashboard and charts over the catalog. Every one
// is a short index range whatever the catalog's size (migrations 008 and
// 010): per plan the newest run and the newest success, the running runs and
// their tasks, leases, the newest alerts, failures since a time, the units a
// plan covered in its recent runs, the backup tasks skipped or failed in each
// plan's last run, the newest succeeded backup of each (plan, target, unit),
// and a plan's finished runs for the charts. Lists of
// plans or units go in as one JSON parameter (json_each), so the dashboard
// is a handful of statements, prepared once per connection.

import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import type { Clock } from '../core/clock.ts';
import type { PlanRunStatus, RunTrigger, TaskStatus } from './plan-runs.ts';
import { CatalogStore } from './db.ts';

type Row = Record<string, unknown>;

export interface RunBrief {
  id: string;
  plan: string;
  status: PlanRunStatus;
  trigger: RunTrigger;
  startedAt: number;
  finishedAt: number | null;
  reason: string | null;
}

export interface RunningRun {
  runId: string;
  plan: string;
  startedAt: number;
  tasks: { seq: number; target: string; unit: string | null; status: TaskStatus }[];
}

export interface LeaseBrief {
  scope: string;
  kind: string;
  holder: string;
  runId: string | null;
  createdAt: number;
  heartbeatAt: number;
}
export interface AlertBrief {
  id: string;
  at: number;
  event: string;
  severity: 'info' | 'warning' | 'critical';
  summary: string;
}
export interface PlanUnit {
  plan: string;
  target: string;
  unit: string | null;
}
/** A backup or export task of a plan's last run that did not protect its unit (or pattern). */
export interface UnitProblem extends PlanUnit {
  status: 'skipped' | 'failed';
  reason: string | null;
}
export interface ChartPoint {
  runId: string;
  at: number;
  durationMs: number;
  bytesAdded: number;
  status: PlanRunStatus;
}

/** Statuses counted as failures on the dashboard. */
export const FAILED_STATUSES: readonly PlanRunStatus[] = ['failed', 'partial'];
/** Statuses left out of the charts (no work was done), as in /metrics' duration histogram. */
export const UNCHARTED_STATUSES: readonly PlanRunStatus[] = ['skipped', 'refused'];

const BACKUP_KINDS = "('backup', 'export')";

export class DashboardQueries extends CatalogStore {
  private readonly stmts = new Map<string, StatementSync>();

  /** Opens a connection to the catalog database at `path` (already migrated by Catalog.open). */
  static open(path: string, clock: Clock): DashboardQueries {
    const db = new DatabaseSync(path);
    db.exec('PRAGMA busy_timeout = 5000');
    return new DashboardQueries(db, clock);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  /**
   * The newest run (started_at, id) of each of `plans` that ran: a refused or
   * coalesced run (a click while another run held the scope) does not stand
   * for the plan's state.
   */
  lastRuns(plans: readonly string[]): Map<string, RunBrief> {
    const rows = this.all(
      'last runs of plans',
      `SELECT r.* FROM json_each(?) p
      JOIN plan_runs r ON r.id = (SELECT id FROM plan_runs WHERE plan = p.value
        AND status <> 'refused' AND coalesced_into IS NULL ORDER BY started_at DESC, id DESC LIMIT 1)`,
      JSON.stringify(plans),
    );
    return new Map(rows.map((r) => [r.plan as string, toBrief(r)]));
  }

  /** When the newest succeeded run of each of `plans` finished (absent: never). */
  lastSuccesses(plans: readonly string[]): Map<string, number> {
    const rows = this.all(
      'last successes of plans',
      `SELECT p.value AS plan,
      (SELECT MAX(finished_at) FROM plan_runs WHERE plan = p.value AND status = 'succeeded') AS at FROM json_each(?) p`,
      JSON.stringify(plans),
    );
    return new Map(rows.filter((r) => r.at !== null).map((r) => [r.plan as string, Number(r.at)]));
  }

  /** Runs with status 'running', oldest first, with their tasks in order. */
  running(): RunningRun[] {
    const runs = this.all(
      'running runs',
      "SELECT id, plan, started_at FROM plan_runs WHERE status = 'running' ORDER BY started_at, id",
    );
    if (runs.length === 0) return [];
    const tasks = this.all(
      'tasks of running runs',
      `SELECT t.run_id, t.seq, t.target, t.unit, t.status FROM json_each(?) j
      JOIN tasks t ON t.run_id = j.value ORDER BY t.run_id, t.seq`,
      JSON.stringify(runs.map((r) => r.id)),
    );
    const byRun = new Map<string, RunningRun['tasks']>();
    for (const t of tasks) {
      const list = byRun.get(t.run_id as string) ?? [];
      list.push({
        seq: Number(t.seq),
        target: t.target as string,
        unit: (t.unit as string | null) ?? null,
        status: t.status as TaskStatus,
      });
      byRun.set(t.run_id as string, list);
    }
    return runs.map((r) => ({
      runId: r.id as string,
      plan: r.plan as string,
      startedAt: Number(r.started_at),
      tasks: byRun.get(r.id as string) ?? [],
    }));
  }

  leases(): LeaseBrief[] {
    return this.all(
      'list leases',
      'SELECT scope, kind, holder, run_id, created_at, heartbeat_at FROM leases ORDER BY scope',
    ).map((r) => ({
      scope: r.scope as string,
      kind: r.kind as string,
      holder: r.holder as string,
      runId: (r.run_id as string | null) ?? null,
      createdAt: Number(r.created_at),
      heartbeatAt: Number(r.heartbeat_at),
    }));
  }

  /** The newest `n` alerts (at, id), newest first. */
  recentAlerts(n: number): AlertBrief[] {
    return this.all(
      'recent alerts',
      // Run-start and run-success pings (for healthchecks channels) are not alerts a person needs to see here.
      `SELECT id, at, event, severity, summary FROM alerts WHERE event NOT IN ('run-started', 'run-succeeded')
       ORDER BY at DESC, id DESC LIMIT ?`,
      n,
    ).map((r) => ({
      id: r.id as string,
      at: Number(r.at),
      event: r.event as string,
      severity: r.severity as AlertBrief['severity'],
      summary: r.summary as string,
    }));
  }

  /** Runs that finished failed or partial at or after `since`. */
  failuresSince(since: number): number {
    const marks = FAILED_STATUSES.map(() => '?').join(', ');
    const r = this.all(
      'count failures',
      `SELECT COUNT(*) AS n FROM plan_runs WHERE status IN (${marks}) AND finished_at >= ?`,
      ...FAILED_STATUSES,
      since,
    );
    return Number(r[0]!.n);
  }

  /**
   * The (target, unit) pairs of the backup and export tasks of each plan's
   * newest `runs` runs; not skipped ones, nor ones that failed before they
   * started (their unit is a pattern that matched nothing: lastRunProblems).
   */
  recentUnits(plans: readonly string[], runs: number): PlanUnit[] {
    const rows = this.all(
      'units of recent runs',
      `SELECT DISTINCT r.plan, t.target, t.unit FROM json_each(?) p
      JOIN plan_runs r ON r.id IN (SELECT id FROM plan_runs WHERE plan = p.value ORDER BY started_at DESC, id DESC LIMIT ?)
      JOIN tasks t ON t.run_id = r.id
      WHERE t.kind IN ${BACKUP_KINDS} AND t.status <> 'skipped' AND NOT (t.status = 'failed' AND t.started_at IS NULL)`,
      JSON.stringify(plans),
      runs,
    );
    return rows.map((r) => ({
      plan: r.plan as string,
      target: r.target as string,
      unit: (r.unit as string | null) ?? null,
    }));
  }

  /**
   * The backup and export tasks that were skipped (target unavailable) or
   * failed (a pattern matched nothing, the dump failed) in each plan's last
   * run: its newest finished run that made tasks (refused and coalesced runs
   * make none).
   */
  lastRunProblems(plans: readonly string[]): UnitProblem[] {
    const rows = this.all(
      'problems of last runs',
      `SELECT p.value AS plan, t.target, t.unit, t.status, t.reason FROM json_each(?) p
      JOIN plan_runs r ON r.id = (SELECT x.id FROM plan_runs x WHERE x.plan = p.value AND x.status <> 'running'
        AND EXISTS (SELECT 1 FROM tasks y WHERE y.run_id = x.id) ORDER BY x.started_at DESC, x.id DESC LIMIT 1)
      JOIN tasks t ON t.run_id = r.id
      WHERE t.kind IN ${BACKUP_KINDS} AND t.status IN ('skipped', 'failed')
      ORDER BY p.key, t.seq`,
      JSON.stringify(plans),
    );
    return rows.map((r) => ({
      plan: r.plan as string,
      target: r.target as string,
      unit: (r.unit as string | null) ?? null,
      status: r.status as UnitProblem['status'],
      reason: (r.reason as string | null) ?? null,
    }));
  }

  /** For each unit, when the newest succeeded backup or export task of one of its plan's runs finished (null: never). */
  lastSnapshots(units: readonly PlanUnit[]): (number | null)[] {
    if (units.length === 0) return [];
    const rows = this.all(
      'newest snapshot of units',
      `SELECT j.key AS k, (SELECT t.finished_at FROM tasks t JOIN plan_runs r ON r.id = t.run_id
        WHERE t.target = j.value ->> 1 AND t.unit IS j.value ->> 2 AND t.status = 'succeeded' AND t.finished_at IS NOT NULL
          AND t.kind IN ${BACKUP_KINDS} AND r.plan = j.value ->> 0
        ORDER BY t.finished_at DESC LIMIT 1) AS at
      FROM json_each(?) j ORDER BY j.key`,
      JSON.stringify(units.map((u) => [u.plan, u.target, u.unit])),
    );
    return rows.map((r) => (r.at === null ? null : Number(r.at)));
  }

  /** Finished runs of `plan` (skipped and refused left out) that finished at or after `since`, oldest first; the newest `limit`. */
  chartPoints(plan: string, since: number, limit: number): ChartPoint[] {
    const marks = UNCHARTED_STATUSES.map(() => '?').join(', ');
    const rows = this.all(
      'chart points',
      `SELECT r.id, r.started_at, r.finished_at, r.status,
        (SELECT COALESCE(SUM(t.bytes), 0) FROM tasks t WHERE t.run_id = r.id AND t.kind IN ${BACKUP_KINDS}) AS bytes
      FROM plan_runs r WHERE r.plan = ? AND r.finished_at >= ? AND r.status NOT IN (${marks})
      ORDER BY r.finished_at DESC, r.id DESC LIMIT ?`,
      plan,
      since,
      ...UNCHARTED_STATUSES,
      limit,
    );
    return rows.reverse().map((r) => ({
      runId: r.id as string,
      at: Number(r.finished_at),
      durationMs: Number(r.finished_at) - Number(r.started_at),
      bytesAdded: Number(r.bytes),
      status: r.status as PlanRunStatus,
    }));
  }

  private all(what: string, sql: string, ...params: (string | number | null)[]): Row[] {
    return this.sql(what, () => {
      let s = this.stmts.get(sql);
      if (!s) {
        s = this.db.prepare(sql);
        this.stmts.set(sql, s);
      }
      return s.all(...params) as Row[];
    });
  }
}

function toBrief(r: Row): RunBrief {
  return {
    id: r.id as string,
    plan: r.plan as string,
    status: r.status as PlanRunStatus,
    trigger: r.run_trigger as RunTrigger,
    startedAt: Number(r.started_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
    reason: (r.reason as string | null) ?? null,
  };
}
