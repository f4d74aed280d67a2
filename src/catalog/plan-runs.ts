// The catalog's record of plan runs (S3), their tasks in creation order (S4),
// their log lines, and quiesce records. A quiesce is recorded before it is
// issued and released after the unquiesce, so a quiesce left behind by a
// killed process can be found and undone at the next start.

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { SafeholdError } from '../core/errors.ts';
import { CatalogStore } from './db.ts';
import { processAlive } from '../core/process.ts';

export type PlanRunStatus = 'running' | 'succeeded' | 'partial' | 'failed' | 'refused' | 'skipped' | 'cancelled';
export type TaskStatus = 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
export type RunTrigger = 'scheduled' | 'on-demand' | 'retry';

export interface PlanRunRecord {
  id: string;
  plan: string;
  trigger: RunTrigger;
  configFile: string | null;
  startedAt: number;
  finishedAt: number | null;
  status: PlanRunStatus;
  reason: string | null;
  pid: number | null;
  hostname: string | null;
  /** Scheduled runs: when the run was due (retry windows count from here). */
  scheduledFor: number | null;
  /** Retries: the run this one retries. */
  retryOf: string | null;
  /** Coalesced scheduled runs: the run of the same plan that was still running. */
  coalescedInto: string | null;
}

export interface TaskRecord {
  id: string;
  runId: string;
  seq: number;
  activity: string;
  kind: string;
  target: string;
  unit: string | null;
  status: TaskStatus;
  reason: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  snapshots: string[];
  bytes: number | null;
}

export interface LogLine {
  seq: number;
  taskId: string | null;
  at: number;
  level: 'info' | 'warn' | 'error';
  message: string;
}

export interface QuiesceRecord {
  id: string;
  runId: string;
  taskId: string | null;
  target: string;
  unit: string | null;
  requestedAt: number;
  releasedAt: number | null;
  outcome: string | null;
  pid: number | null;
  hostname: string | null;
}

export class PlanRunStore extends CatalogStore {
  startRun(r: {
    plan: string;
    trigger: RunTrigger;
    configFile?: string;
    scheduledFor?: number | null;
    retryOf?: string | null;
  }): string {
    const id = randomBytes(8).toString('hex');
    this.sql('start plan run', () =>
      this.db
        .prepare(
          `INSERT INTO plan_runs (id, plan, run_trigger, config_file, started_at, status, pid, hostname, scheduled_for, retry_of)
       VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?, ?)`,
        )
        .run(
          id,
          r.plan,
          r.trigger,
          r.configFile ?? null,
          this.clock.now(),
          process.pid,
          hostname(),
          r.scheduledFor ?? null,
          r.retryOf ?? null,
        ),
    );
    return id;
  }

  /** Records a scheduled run that was not started because `into` (same plan) was still running. */
  recordCoalesced(r: { plan: string; scheduledFor: number; into: string; configFile?: string }): string {
    const id = randomBytes(8).toString('hex');
    const now = this.clock.now();
    this.sql('record coalesced run', () =>
      this.db
        .prepare(
          `INSERT INTO plan_runs (id, plan, run_trigger, config_file, started_at, finished_at, status, reason, pid, hostname, scheduled_for, coalesced_into)
       VALUES (?, ?, 'scheduled', ?, ?, ?, 'skipped', ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          r.plan,
          r.configFile ?? null,
          now,
          now,
          `coalesced: run ${r.into.slice(0, 8)} of this plan is still running`,
          process.pid,
          hostname(),
          r.scheduledFor,
          r.into,
        ),
    );
    return id;
  }

  /** Runs with status 'running' (of one plan, or all). */
  runningRuns(plan?: string): PlanRunRecord[] {
    const rows = this.sql('list running plan runs', () =>
      plan
        ? this.db.prepare("SELECT * FROM plan_runs WHERE status = 'running' AND plan = ? ORDER BY started_at").all(plan)
        : this.db.prepare("SELECT * FROM plan_runs WHERE status = 'running' ORDER BY started_at").all(),
    ) as Row[];
    return rows.map(toRun);
  }

  finishRun(id: string, status: Exclude<PlanRunStatus, 'running'>, reason: string | null = null): void {
    const res = this.sql('finish plan run', () =>
      this.db
        .prepare('UPDATE plan_runs SET status = ?, reason = ?, finished_at = ? WHERE id = ?')
        .run(status, reason, this.clock.now(), id),
    );
    if (Number(res.changes) === 0) throw new SafeholdError('NOT_FOUND', `no plan run ${id}`);
  }

  getRun(id: string): PlanRunRecord | undefined {
    const row = this.sql('get plan run', () => this.db.prepare('SELECT * FROM plan_runs WHERE id = ?').get(id)) as
      | Row
      | undefined;
    return row ? toRun(row) : undefined;
  }

  /** By exact id or unique prefix; NOT_FOUND / AMBIGUOUS otherwise. */
  findRun(ref: string): PlanRunRecord {
    const rows = this.sql('find plan run', () =>
      this.db
        .prepare('SELECT * FROM plan_runs WHERE id LIKE ? ORDER BY id LIMIT 3')
        .all(`${ref.replace(/[%_]/g, '')}%`),
    ) as Row[];
    const exact = rows.find((r) => r.id === ref);
    if (exact) return toRun(exact);
    if (rows.length === 0 || ref === '') throw new SafeholdError('NOT_FOUND', `no plan run ${ref}`);
    if (rows.length > 1) throw new SafeholdError('AMBIGUOUS', `run id prefix ${ref} is ambiguous`);
    return toRun(rows[0]!);
  }

  listRuns(opts: { plan?: string; limit?: number } = {}): PlanRunRecord[] {
    const rows = this.sql('list plan runs', () =>
      opts.plan
        ? this.db
            .prepare('SELECT * FROM plan_runs WHERE plan = ? ORDER BY started_at DESC, id DESC LIMIT ?')
            .all(opts.plan, opts.limit ?? 50)
        : this.db.prepare('SELECT * FROM plan_runs ORDER BY started_at DESC, id DESC LIMIT ?').all(opts.limit ?? 50),
    ) as Row[];
    return rows.map(toRun);
  }

  /** Adds the task numbered `seq` (creation order) of a run; returns its id. */
  addTask(
    runId: string,
    t: {
      seq: number;
      activity: string;
      kind: string;
      target: string;
      unit: string | null;
      status: TaskStatus;
      reason?: string | null;
    },
  ): string {
    const id = `${runId}-${t.seq}`;
    this.sql('add task', () =>
      this.db
        .prepare(
          'INSERT INTO tasks (id, run_id, seq, activity, kind, target, unit, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(id, runId, t.seq, t.activity, t.kind, t.target, t.unit, t.status, t.reason ?? null),
    );
    return id;
  }

  startTask(id: string): void {
    this.sql('start task', () =>
      this.db.prepare("UPDATE tasks SET status = 'running', started_at = ? WHERE id = ?").run(this.clock.now(), id),
    );
  }

  finishTask(
    id: string,
    r: {
      status: Exclude<TaskStatus, 'pending' | 'running'>;
      reason?: string | null;
      snapshots?: string[];
      bytes?: number;
    },
  ): void {
    this.sql('finish task', () =>
      this.db
        .prepare('UPDATE tasks SET status = ?, reason = ?, finished_at = ?, snapshots = ?, bytes = ? WHERE id = ?')
        .run(r.status, r.reason ?? null, this.clock.now(), JSON.stringify(r.snapshots ?? []), r.bytes ?? null, id),
    );
  }

  tasks(runId: string): TaskRecord[] {
    const rows = this.sql('list tasks', () =>
      this.db.prepare('SELECT * FROM tasks WHERE run_id = ? ORDER BY seq').all(runId),
    ) as Row[];
    return rows.map(toTask);
  }

  log(runId: string, level: LogLine['level'], message: string, taskId: string | null = null): void {
    this.sql('write run log', () =>
      this.db
        .prepare(
          `INSERT INTO run_log (run_id, seq, task_id, at, level, message)
       VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM run_log WHERE run_id = ?), ?, ?, ?, ?)`,
        )
        .run(runId, runId, taskId, this.clock.now(), level, message),
    );
  }

  logLines(runId: string): LogLine[] {
    const rows = this.sql('read run log', () =>
      this.db.prepare('SELECT * FROM run_log WHERE run_id = ? ORDER BY seq').all(runId),
    ) as Row[];
    return rows.map(toLogLine);
  }

  /** Records a quiesce before it is issued; returns the record's id. */
  recordQuiesce(q: { runId: string; taskId: string | null; target: string; unit: string | null }): string {
    const id = randomBytes(8).toString('hex');
    this.sql('record quiesce', () =>
      this.db
        .prepare(
          'INSERT INTO quiesces (id, run_id, task_id, target, unit, requested_at, pid, hostname) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        )
        .run(id, q.runId, q.taskId, q.target, q.unit, this.clock.now(), process.pid, hostname()),
    );
    return id;
  }

  releaseQuiesce(id: string, outcome: string): void {
    this.sql('release quiesce', () =>
      this.db
        .prepare('UPDATE quiesces SET released_at = ?, outcome = ? WHERE id = ?')
        .run(this.clock.now(), outcome, id),
    );
  }

  /** Quiesces never released whose process is gone from this host: to be undone at start. */
  abandonedQuiesces(): QuiesceRecord[] {
    const rows = this.sql('find abandoned quiesces', () =>
      this.db.prepare('SELECT * FROM quiesces WHERE released_at IS NULL AND hostname = ?').all(hostname()),
    ) as Row[];
    return rows.map(toQuiesce).filter((q) => (q.pid === null || q.pid === process.pid ? false : !processAlive(q.pid)));
  }

  /** Marks runs 'running' on this host whose process died as failed; returns them (as they are now). */
  markAbandonedRuns(): PlanRunRecord[] {
    const rows = this.sql('find running plan runs', () =>
      this.db.prepare("SELECT * FROM plan_runs WHERE status = 'running' AND hostname = ?").all(hostname()),
    ) as Row[];
    const out: PlanRunRecord[] = [];
    for (const r of rows.map(toRun)) {
      if (r.pid === null || r.pid === process.pid || processAlive(r.pid)) continue;
      this.finishRun(r.id, 'failed', `process ${r.pid} died while running`);
      this.sql('fail abandoned tasks', () =>
        this.db
          .prepare(
            "UPDATE tasks SET status = 'failed', reason = 'the run was abandoned', finished_at = ? WHERE run_id = ? AND status IN ('pending', 'running')",
          )
          .run(this.clock.now(), r.id),
      );
      out.push(this.getRun(r.id)!);
    }
    return out;
  }

  /** Whether some run already retries `runId` (so a restart does not retry it twice). */
  hasRetry(runId: string): boolean {
    return (
      this.sql('find retry', () => this.db.prepare('SELECT 1 FROM plan_runs WHERE retry_of = ? LIMIT 1').get(runId)) !==
      undefined
    );
  }
}

type Row = Record<string, unknown>;

export function toRun(r: Row): PlanRunRecord {
  return {
    id: r.id as string,
    plan: r.plan as string,
    trigger: r.run_trigger as RunTrigger,
    configFile: (r.config_file as string | null) ?? null,
    startedAt: r.started_at as number,
    finishedAt: (r.finished_at as number | null) ?? null,
    status: r.status as PlanRunStatus,
    reason: (r.reason as string | null) ?? null,
    pid: (r.pid as number | null) ?? null,
    hostname: (r.hostname as string | null) ?? null,
    scheduledFor: (r.scheduled_for as number | null) ?? null,
    retryOf: (r.retry_of as string | null) ?? null,
    coalescedInto: (r.coalesced_into as string | null) ?? null,
  };
}

export function toTask(r: Row): TaskRecord {
  return {
    id: r.id as string,
    runId: r.run_id as string,
    seq: r.seq as number,
    activity: r.activity as string,
    kind: r.kind as string,
    target: r.target as string,
    unit: (r.unit as string | null) ?? null,
    status: r.status as TaskStatus,
    reason: (r.reason as string | null) ?? null,
    startedAt: (r.started_at as number | null) ?? null,
    finishedAt: (r.finished_at as number | null) ?? null,
    snapshots: r.snapshots ? (JSON.parse(r.snapshots as string) as string[]) : [],
    bytes: (r.bytes as number | null) ?? null,
  };
}

export function toQuiesce(r: Row): QuiesceRecord {
  return {
    id: r.id as string,
    runId: r.run_id as string,
    taskId: (r.task_id as string | null) ?? null,
    target: r.target as string,
    unit: (r.unit as string | null) ?? null,
    requestedAt: r.requested_at as number,
    releasedAt: (r.released_at as number | null) ?? null,
    outcome: (r.outcome as string | null) ?? null,
    pid: (r.pid as number | null) ?? null,
    hostname: (r.hostname as string | null) ?? null,
  };
}

export function toLogLine(r: Row): LogLine {
  return {
    seq: r.seq as number,
    taskId: (r.task_id as string | null) ?? null,
    at: r.at as number,
    level: r.level as LogLine['level'],
    message: r.message as string,
  };
}
