// Read queries of the REST API over the catalog: keyset-paginated lists
// (newest first; a page after the cursor's key), a run's log after a line
// number, the last run of each plan, the aggregates /metrics exposes, and
// the removal of one lease by an administrator. It uses its own connection to
// the catalog's database file (WAL: readers never block the writers) so the
// stores stay untouched; the indexes are in migration 008.

import { DatabaseSync } from 'node:sqlite';
import { CatalogStore } from './db.ts';
import type { Clock } from '../core/clock.ts';
import type { LogLine, PlanRunRecord, PlanRunStatus } from './plan-runs.ts';
import type { AlertRecord } from './alerts.ts';
import type { DrillRecord } from './drills.ts';
import { toLogLine, toRun } from './plan-runs.ts';
import { toAlert, toDelivery } from './alerts.ts';
import { toDrill } from './drills.ts';
import { whereClause } from './where-clause.ts';

type Row = Record<string, unknown>;

/** One snapshot made by a plan task (an item per snapshot id of a succeeded backup/export task). */
export interface TaskSnapshot {
  snapshot: string;
  index: number;
  plan: string;
  runId: string;
  taskId: string;
  activity: string;
  kind: string;
  target: string;
  unit: string | null;
  time: number;
  /** Bytes the task added (repository) or wrote (directory); split over its snapshots it is not. */
  bytes: number | null;
}

/** What the plans API shows of a plan's history (planSummaries). */
export interface PlanSummary {
  /** The newest run that ran: refused and coalesced runs are left out. */
  last: PlanRunRecord | null;
  /** The newest refused run, when newer than `last` (a notice, not the plan's state). */
  lastRefused: PlanRunRecord | null;
  /** When the newest fully succeeded run finished (a partial run is not a success). */
  lastSuccessAt: number | null;
  /** When the newest partial run finished. */
  lastPartialAt: number | null;
  /** The newest finished copy task of the plan (its offsite copy). */
  lastCopy: { runId: string; status: 'succeeded' | 'failed'; reason: string | null; at: number } | null;
}

export interface RunFilter {
  plan?: string | undefined;
  status?: string | undefined;
  trigger?: string | undefined;
}

export class ApiQueries extends CatalogStore {
  /** Opens a second connection to the catalog database at `path` (already migrated by Catalog.open). */
  static open(path: string, clock: Clock): ApiQueries {
    const db = new DatabaseSync(path);
    db.exec('PRAGMA busy_timeout = 5000');
    return new ApiQueries(db, clock);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  /** Plan runs newest first (started_at, id), after `after`, at most `limit`. */
  planRuns(f: RunFilter, limit: number, after: [number, string] | null): PlanRunRecord[] {
    const w = whereClause(
      { plan: f.plan, status: f.status, run_trigger: f.trigger },
      { before: after && { key: '(started_at, id)', values: after } },
    );
    const sql = `SELECT * FROM plan_runs${w.sql} ORDER BY started_at DESC, id DESC LIMIT ?`;
    return (this.sql('list plan runs', () => this.db.prepare(sql).all(...w.params, limit)) as Row[]).map(toRun);
  }

  /** Log lines of a run with seq > after, in order. */
  logAfter(runId: string, after: number, limit: number): LogLine[] {
    const rows = this.sql('read run log', () =>
      this.db
        .prepare('SELECT * FROM run_log WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?')
        .all(runId, after, limit),
    ) as Row[];
    return rows.map(toLogLine);
  }

  /**
   * Per plan: its newest run that ran (refused and coalesced runs left out:
   * a refused click does not stand for the plan's state), the newest
   * refusal when it is newer than that run, when the newest full success and
   * the newest partial run finished, and its newest finished copy task.
   */
  planSummaries(): Map<string, PlanSummary> {
    const out = new Map<string, PlanSummary>();
    const get = (plan: string): PlanSummary => {
      let cur = out.get(plan);
      if (!cur) {
        cur = { last: null, lastRefused: null, lastSuccessAt: null, lastPartialAt: null, lastCopy: null };
        out.set(plan, cur);
      }
      return cur;
    };
    const newest = (what: string, where: string) =>
      (
        this.sql(what, () =>
          this.db
            .prepare(
              `SELECT r.* FROM plan_runs r WHERE r.id = (SELECT id FROM plan_runs x WHERE x.plan = r.plan AND ${where} ORDER BY x.started_at DESC, x.id DESC LIMIT 1) ORDER BY r.id`,
            )
            .all(),
        ) as Row[]
      ).map(toRun);
    for (const r of newest('last plan runs', "x.status <> 'refused' AND x.coalesced_into IS NULL"))
      get(r.plan).last = r;
    for (const r of newest('last refusals', "x.status = 'refused'")) {
      const cur = get(r.plan);
      if (!cur.last || r.startedAt > cur.last.startedAt) cur.lastRefused = r;
    }
    for (const s of this.lastSuccess()) get(s.plan).lastSuccessAt = s.at;
    for (const s of this.lastFinished('partial')) get(s.plan).lastPartialAt = s.at;
    const copies = this.sql('last copy tasks', () =>
      this.db
        .prepare(
          `SELECT * FROM (SELECT r.plan AS plan, t.run_id AS run_id, t.status AS status, t.reason AS reason, t.finished_at AS at,
         ROW_NUMBER() OVER (PARTITION BY r.plan ORDER BY t.finished_at DESC, t.id DESC) AS n
       FROM tasks t JOIN plan_runs r ON r.id = t.run_id
       WHERE t.kind = 'copy' AND t.finished_at IS NOT NULL AND t.status IN ('succeeded', 'failed')) WHERE n = 1`,
        )
        .all(),
    ) as Row[];
    for (const c of copies) {
      get(c.plan as string).lastCopy = {
        runId: c.run_id as string,
        status: c.status as 'succeeded' | 'failed',
        reason: (c.reason as string | null) ?? null,
        at: Number(c.at),
      };
    }
    return out;
  }

  /** When the newest run of each plan with `status` finished. */
  private lastFinished(status: PlanRunStatus): { plan: string; at: number }[] {
    return this.sql(`last ${status} runs`, () =>
      this.db
        .prepare(
          'SELECT plan, MAX(finished_at) AS at FROM plan_runs WHERE status = ? AND finished_at IS NOT NULL GROUP BY plan ORDER BY plan',
        )
        .all(status),
    ) as { plan: string; at: number }[];
  }

  /** Snapshots made by plan tasks, newest first (finished_at, task id, index). */
  taskSnapshots(
    f: { plan?: string | undefined; target?: string | undefined; unit?: string | undefined },
    limit: number,
    after: [number, string, number] | null,
  ): TaskSnapshot[] {
    const w = whereClause(
      { 'r.plan': f.plan, 't.target': f.target, 't.unit': f.unit },
      {
        fixed: [
          "t.status = 'succeeded'",
          "t.kind IN ('backup', 'export')",
          't.finished_at IS NOT NULL',
          "t.snapshots IS NOT NULL AND t.snapshots <> '[]'",
        ],
        before: after && { key: '(t.finished_at, t.id, j.key)', values: after },
      },
    );
    const sql = `SELECT t.id AS task_id, t.run_id, t.activity, t.kind, t.target, t.unit, t.finished_at, t.bytes, r.plan, j.key AS idx, j.value AS snapshot
      FROM tasks t JOIN plan_runs r ON r.id = t.run_id, json_each(t.snapshots) j
     ${w.sql} ORDER BY t.finished_at DESC, t.id DESC, j.key DESC LIMIT ?`;
    const rows = this.sql('list task snapshots', () => this.db.prepare(sql).all(...w.params, limit)) as Row[];
    return rows.map((r) => ({
      snapshot: String(r.snapshot),
      index: Number(r.idx),
      plan: r.plan as string,
      runId: r.run_id as string,
      taskId: r.task_id as string,
      activity: r.activity as string,
      kind: r.kind as string,
      target: r.target as string,
      unit: (r.unit as string | null) ?? null,
      time: r.finished_at as number,
      bytes: (r.bytes as number | null) ?? null,
    }));
  }

  /** Alerts newest first (at, id) with their deliveries. */
  alerts(
    f: { event?: string | undefined; severity?: string | undefined },
    limit: number,
    after: [number, string] | null,
  ): AlertRecord[] {
    const w = whereClause(
      { event: f.event, severity: f.severity },
      { before: after && { key: '(at, id)', values: after } },
    );
    const sql = `SELECT * FROM alerts${w.sql} ORDER BY at DESC, id DESC LIMIT ?`;
    const rows = this.sql('list alerts', () => this.db.prepare(sql).all(...w.params, limit)) as Row[];
    const ids = rows.map((r) => r.id as string);
    const deliveries = new Map<string, AlertRecord['deliveries']>();
    if (ids.length > 0) {
      const d = this.sql('list alert deliveries', () =>
        this.db
          .prepare(
            `SELECT * FROM alert_deliveries WHERE alert_id IN (${ids.map(() => '?').join(', ')}) ORDER BY alert_id, seq`,
          )
          .all(...ids),
      ) as Row[];
      for (const x of d) {
        const list = deliveries.get(x.alert_id as string) ?? [];
        list.push(toDelivery(x));
        deliveries.set(x.alert_id as string, list);
      }
    }
    return rows.map((r) => toAlert(r, deliveries.get(r.id as string) ?? []));
  }

  /** Drill reports newest first (started_at, id). */
  drills(
    f: { target?: string | undefined; plan?: string | undefined; status?: string | undefined },
    limit: number,
    after: [number, string] | null,
  ): DrillRecord[] {
    const w = whereClause(
      { target: f.target, plan: f.plan, status: f.status },
      { before: after && { key: '(started_at, id)', values: after } },
    );
    const sql = `SELECT * FROM drills${w.sql} ORDER BY started_at DESC, id DESC LIMIT ?`;
    const rows = this.sql('list drills', () => this.db.prepare(sql).all(...w.params, limit)) as Row[];
    return rows.map(toDrill);
  }

  /** Removes the lease on `scope` if `holder` still holds it; returns whether it did. */
  deleteLease(scope: string, holder: string): boolean {
    const r = this.sql('delete lease', () =>
      this.db.prepare('DELETE FROM leases WHERE scope = ? AND holder = ?').run(scope, holder),
    );
    return Number(r.changes) > 0;
  }

  // --- aggregates for /metrics ---

  runCounts(): { plan: string; status: PlanRunStatus; n: number }[] {
    return this.sql('count plan runs', () =>
      this.db
        .prepare('SELECT plan, status, COUNT(*) AS n FROM plan_runs GROUP BY plan, status ORDER BY plan, status')
        .all(),
    ) as { plan: string; status: PlanRunStatus; n: number }[];
  }

  lastSuccess(): { plan: string; at: number }[] {
    return this.sql('last successes', () =>
      this.db
        .prepare(
          "SELECT plan, MAX(finished_at) AS at FROM plan_runs WHERE status = 'succeeded' AND finished_at IS NOT NULL GROUP BY plan ORDER BY plan",
        )
        .all(),
    ) as { plan: string; at: number }[];
  }

  bytesAdded(): { plan: string; bytes: number }[] {
    return this.sql('sum bytes added', () =>
      this.db
        .prepare(
          `SELECT r.plan AS plan, SUM(t.bytes) AS bytes FROM tasks t JOIN plan_runs r ON r.id = t.run_id
       WHERE t.bytes IS NOT NULL AND t.kind IN ('backup', 'export') GROUP BY r.plan ORDER BY r.plan`,
        )
        .all(),
    ) as { plan: string; bytes: number }[];
  }

  /** Cumulative counts of finished run durations ≤ each bound (seconds), with their count and sum, per plan. */
  durationHistogram(boundsS: readonly number[]): { plan: string; buckets: number[]; count: number; sumS: number }[] {
    const cols = boundsS
      .map((b, i) => `SUM(CASE WHEN finished_at - started_at <= ${Math.round(b * 1000)} THEN 1 ELSE 0 END) AS b${i}`)
      .join(', ');
    const rows = this.sql('run durations', () =>
      this.db
        .prepare(
          `SELECT plan, ${cols}, COUNT(*) AS n, SUM(finished_at - started_at) AS ms FROM plan_runs
       WHERE finished_at IS NOT NULL AND status NOT IN ('skipped', 'refused') GROUP BY plan ORDER BY plan`,
        )
        .all(),
    ) as Row[];
    return rows.map((r) => ({
      plan: r.plan as string,
      buckets: boundsS.map((_, i) => Number(r[`b${i}`])),
      count: Number(r.n),
      sumS: Number(r.ms) / 1000,
    }));
  }

  alertCounts(): { event: string; n: number }[] {
    return this.sql('count alerts', () =>
      this.db.prepare('SELECT event, COUNT(*) AS n FROM alerts GROUP BY event ORDER BY event').all(),
    ) as { event: string; n: number }[];
  }
}
