// The catalog's restore drill reports (S7): what was restored, into where,
// how long restore and verification took, passed or failed and why.

import { randomBytes } from 'node:crypto';
import { CatalogStore } from './db.ts';

export interface DrillRecord {
  id: string;
  runId: string | null;
  taskId: string | null;
  plan: string | null;
  target: string;
  unit: string | null;
  snapshot: string | null;
  startedAt: number;
  finishedAt: number;
  restoreMs: number | null;
  verifyMs: number | null;
  status: 'passed' | 'failed';
  summary: string;
  details: Record<string, unknown> | null;
}

export class DrillStore extends CatalogStore {
  record(d: Omit<DrillRecord, 'id'>): string {
    const id = randomBytes(8).toString('hex');
    this.sql('record drill', () =>
      this.db
        .prepare(
          `INSERT INTO drills (id, run_id, task_id, plan, target, unit, snapshot, started_at, finished_at, restore_ms, verify_ms, status, summary, details)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          id,
          d.runId,
          d.taskId,
          d.plan,
          d.target,
          d.unit,
          d.snapshot,
          d.startedAt,
          d.finishedAt,
          d.restoreMs,
          d.verifyMs,
          d.status,
          d.summary,
          d.details ? JSON.stringify(d.details) : null,
        ),
    );
    return id;
  }

  list(opts: { limit?: number; target?: string } = {}): DrillRecord[] {
    const rows = this.sql('list drills', () =>
      opts.target
        ? this.db
            .prepare('SELECT * FROM drills WHERE target = ? ORDER BY started_at DESC, id LIMIT ?')
            .all(opts.target, opts.limit ?? 50)
        : this.db.prepare('SELECT * FROM drills ORDER BY started_at DESC, id LIMIT ?').all(opts.limit ?? 50),
    ) as Row[];
    return rows.map(toDrill);
  }
}

type Row = Record<string, unknown>;

export function toDrill(r: Row): DrillRecord {
  return {
    id: r.id as string,
    runId: (r.run_id as string | null) ?? null,
    taskId: (r.task_id as string | null) ?? null,
    plan: (r.plan as string | null) ?? null,
    target: r.target as string,
    unit: (r.unit as string | null) ?? null,
    snapshot: (r.snapshot as string | null) ?? null,
    startedAt: r.started_at as number,
    finishedAt: r.finished_at as number,
    restoreMs: (r.restore_ms as number | null) ?? null,
    verifyMs: (r.verify_ms as number | null) ?? null,
    status: r.status as DrillRecord['status'],
    summary: r.summary as string,
    details: r.details ? (JSON.parse(r.details as string) as Record<string, unknown>) : null,
  };
}
