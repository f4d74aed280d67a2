// The catalog's runbook runs: the run (runbook as started, variables, owner
// process and heartbeat, status), one row per step in the order it was
// reached (main steps and rollback steps), and the approvals given to a run's
// steps (by the CLI or the API, seen by the running engine by polling).

import { CatalogStore } from './db.ts';

export type RunbookRunStatus = 'running' | 'waiting' | 'succeeded' | 'failed' | 'aborted' | 'interrupted';
export type RunbookStepStatus =
  | 'pending'
  | 'running'
  | 'succeeded'
  | 'failed'
  | 'skipped'
  | 'waiting'
  | 'interrupted'
  | 'rolled-back';
export type ApprovalAction = 'approve' | 'rerun' | 'mark-done';

export interface RunbookRunRecord {
  id: string;
  runbook: string;
  status: RunbookRunStatus;
  dryRun: boolean;
  vars: Record<string, string>;
  /** The compiled runbook as started (JSON of config/types.ts Runbook). */
  definition: unknown;
  startedBy: string;
  startedAt: number;
  finishedAt: number | null;
  pid: number | null;
  hostname: string | null;
  heartbeatAt: number | null;
  error: string | null;
}

export interface RunbookStepRecord {
  runId: string;
  seq: number;
  name: string;
  kind: string;
  phase: 'main' | 'rollback';
  status: RunbookStepStatus;
  attempt: number;
  startedAt: number | null;
  finishedAt: number | null;
  outputs: Record<string, string | number | boolean | null> | null;
  error: string | null;
  idempotent: boolean;
}

export interface RunbookApprovalRecord {
  runId: string;
  seq: number;
  step: string;
  action: ApprovalAction;
  principal: string;
  role: string;
  at: number;
  used: boolean;
}

type Row = Record<string, unknown>;
type StepPatch = Partial<
  Pick<RunbookStepRecord, 'status' | 'attempt' | 'startedAt' | 'finishedAt' | 'outputs' | 'error'>
>;

const STEP_COLUMNS: Record<keyof StepPatch, string> = {
  status: 'status',
  attempt: 'attempt',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  outputs: 'outputs',
  error: 'error',
};

export class RunbookRunStore extends CatalogStore {
  create(r: Omit<RunbookRunRecord, 'finishedAt' | 'heartbeatAt' | 'error'>): void {
    this.sql('record runbook run', () =>
      this.db
        .prepare(
          `INSERT INTO runbook_runs (id, runbook, status, dry_run, vars, definition, started_by, started_at, pid, hostname, heartbeat_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          r.id,
          r.runbook,
          r.status,
          r.dryRun ? 1 : 0,
          JSON.stringify(r.vars),
          JSON.stringify(r.definition),
          r.startedBy,
          r.startedAt,
          r.pid,
          r.hostname,
          this.clock.now(),
        ),
    );
  }

  get(id: string): RunbookRunRecord | null {
    const row = this.sql('read runbook run', () =>
      this.db.prepare('SELECT * FROM runbook_runs WHERE id = ?').get(id),
    ) as Row | undefined;
    return row ? toRun(row) : null;
  }

  list(o: { limit?: number; runbook?: string } = {}): RunbookRunRecord[] {
    const limit = o.limit ?? 50;
    const rows = this.sql('list runbook runs', () =>
      o.runbook !== undefined
        ? this.db
            .prepare('SELECT * FROM runbook_runs WHERE runbook = ? ORDER BY started_at DESC, id LIMIT ?')
            .all(o.runbook, limit)
        : this.db.prepare('SELECT * FROM runbook_runs ORDER BY started_at DESC, id LIMIT ?').all(limit),
    ) as Row[];
    return rows.map(toRun);
  }

  /** Sets the status; a final status also sets finished_at (and the error, when given). */
  setStatus(id: string, status: RunbookRunStatus, error: string | null = null): void {
    const final = status === 'succeeded' || status === 'failed' || status === 'aborted';
    this.sql('update runbook run', () =>
      this.db
        .prepare('UPDATE runbook_runs SET status = ?, error = ?, finished_at = ? WHERE id = ?')
        .run(status, error, final ? this.clock.now() : null, id),
    );
  }

  /** Makes this process the run's owner (start or resume). */
  claim(id: string, pid: number, hostname: string): void {
    this.sql('claim runbook run', () =>
      this.db
        .prepare('UPDATE runbook_runs SET pid = ?, hostname = ?, heartbeat_at = ?, finished_at = NULL WHERE id = ?')
        .run(pid, hostname, this.clock.now(), id),
    );
  }

  heartbeat(id: string): void {
    this.sql('runbook heartbeat', () =>
      this.db.prepare('UPDATE runbook_runs SET heartbeat_at = ? WHERE id = ?').run(this.clock.now(), id),
    );
  }

  addStep(s: Omit<RunbookStepRecord, 'outputs' | 'error' | 'finishedAt'>): void {
    this.sql('record runbook step', () =>
      this.db
        .prepare(
          `INSERT INTO runbook_steps (run_id, seq, name, kind, phase, status, attempt, started_at, idempotent)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(s.runId, s.seq, s.name, s.kind, s.phase, s.status, s.attempt, s.startedAt, s.idempotent ? 1 : 0),
    );
  }

  updateStep(runId: string, seq: number, patch: StepPatch): void {
    const keys = (Object.keys(patch) as (keyof StepPatch)[]).filter((k) => patch[k] !== undefined);
    if (keys.length === 0) return;
    const values = keys.map((k) =>
      k === 'outputs' ? JSON.stringify(patch.outputs) : (patch[k] as string | number | null),
    );
    const set = keys.map((k) => `${STEP_COLUMNS[k]} = ?`).join(', ');
    this.sql('update runbook step', () =>
      this.db.prepare(`UPDATE runbook_steps SET ${set} WHERE run_id = ? AND seq = ?`).run(...values, runId, seq),
    );
  }

  steps(runId: string): RunbookStepRecord[] {
    const rows = this.sql('list runbook steps', () =>
      this.db.prepare('SELECT * FROM runbook_steps WHERE run_id = ? ORDER BY seq').all(runId),
    ) as Row[];
    return rows.map(toStep);
  }

  addApproval(a: Omit<RunbookApprovalRecord, 'seq' | 'used' | 'at'>): RunbookApprovalRecord {
    return this.tx('record runbook approval', () => {
      const row = this.db
        .prepare(
          `INSERT INTO runbook_approvals (run_id, seq, step, action, principal, role, at)
           VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM runbook_approvals WHERE run_id = ?), ?, ?, ?, ?, ?)
           RETURNING *`,
        )
        .get(a.runId, a.runId, a.step, a.action, a.principal, a.role, this.clock.now()) as Row;
      return toApproval(row);
    });
  }

  /** The oldest approval of `step` not yet used, if any. */
  unusedApproval(runId: string, step: string): RunbookApprovalRecord | null {
    const row = this.sql('read runbook approval', () =>
      this.db
        .prepare('SELECT * FROM runbook_approvals WHERE run_id = ? AND step = ? AND used = 0 ORDER BY seq LIMIT 1')
        .get(runId, step),
    ) as Row | undefined;
    return row ? toApproval(row) : null;
  }

  markApprovalUsed(runId: string, seq: number): void {
    this.sql('use runbook approval', () =>
      this.db.prepare('UPDATE runbook_approvals SET used = 1 WHERE run_id = ? AND seq = ?').run(runId, seq),
    );
  }

  approvals(runId: string): RunbookApprovalRecord[] {
    const rows = this.sql('list runbook approvals', () =>
      this.db.prepare('SELECT * FROM runbook_approvals WHERE run_id = ? ORDER BY seq').all(runId),
    ) as Row[];
    return rows.map(toApproval);
  }
}

function toRun(r: Row): RunbookRunRecord {
  return {
    id: r.id as string,
    runbook: r.runbook as string,
    status: r.status as RunbookRunStatus,
    dryRun: Number(r.dry_run) === 1,
    vars: JSON.parse(r.vars as string) as Record<string, string>,
    definition: JSON.parse(r.definition as string) as unknown,
    startedBy: r.started_by as string,
    startedAt: Number(r.started_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
    pid: r.pid === null ? null : Number(r.pid),
    hostname: (r.hostname as string | null) ?? null,
    heartbeatAt: r.heartbeat_at === null ? null : Number(r.heartbeat_at),
    error: (r.error as string | null) ?? null,
  };
}

function toStep(r: Row): RunbookStepRecord {
  return {
    runId: r.run_id as string,
    seq: Number(r.seq),
    name: r.name as string,
    kind: r.kind as string,
    phase: r.phase as RunbookStepRecord['phase'],
    status: r.status as RunbookStepStatus,
    attempt: Number(r.attempt),
    startedAt: r.started_at === null ? null : Number(r.started_at),
    finishedAt: r.finished_at === null ? null : Number(r.finished_at),
    outputs: r.outputs === null ? null : (JSON.parse(r.outputs as string) as RunbookStepRecord['outputs']),
    error: (r.error as string | null) ?? null,
    idempotent: Number(r.idempotent) === 1,
  };
}

function toApproval(r: Row): RunbookApprovalRecord {
  return {
    runId: r.run_id as string,
    seq: Number(r.seq),
    step: r.step as string,
    action: r.action as ApprovalAction,
    principal: r.principal as string,
    role: r.role as string,
    at: Number(r.at),
    used: Number(r.used) === 1,
  };
}
