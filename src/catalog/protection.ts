// The catalog's side of the protection report (docs/protection.md): which
// units are in violation (so that an alert is raised once on entering and a
// notice once on leaving), the last report the server evaluated, and the
// facts the report is computed from that the catalog holds: the units plans
// backed up (succeeded backup and export tasks) and the last passed drills.

import { CatalogStore } from './db.ts';

/** A unit of a plan; unit null: a whole target. */
export interface ProtectionKey {
  plan: string;
  target: string;
  unit: string | null;
}

export interface ProtectionViolation extends ProtectionKey {
  since: number;
  rules: string[];
}

/** What changed at an evaluation: the units that entered violation and those that left it. */
export interface ViolationChanges {
  entered: (ProtectionKey & { rules: string[] })[];
  left: ProtectionViolation[];
}

type Row = Record<string, unknown>;

const keyOf = (k: ProtectionKey) => JSON.stringify([k.plan, k.target, k.unit ?? '']);

export class ProtectionStore extends CatalogStore {
  /** The units in violation now. */
  violations(): ProtectionViolation[] {
    const rows = this.sql('list protection violations', () =>
      this.db.prepare('SELECT * FROM protection_violations ORDER BY plan, target, unit').all(),
    ) as Row[];
    return rows.map((r) => ({
      plan: r.plan as string,
      target: r.target as string,
      unit: (r.unit as string) === '' ? null : (r.unit as string),
      since: r.since as number,
      rules: JSON.parse(r.rules as string) as string[],
    }));
  }

  /**
   * Records the units in violation now (`violating`, with the rules each breaks)
   * among the units evaluated; units not evaluated keep their state. Returns
   * which entered violation and which left it, in one transaction.
   */
  update(
    evaluated: readonly ProtectionKey[],
    violating: readonly (ProtectionKey & { rules: string[] })[],
  ): ViolationChanges {
    return this.tx('update protection violations', () => {
      const before = new Map(this.violations().map((v) => [keyOf(v), v]));
      const now = new Set(violating.map(keyOf));
      const entered = violating.filter((v) => !before.has(keyOf(v)));
      const left = evaluated
        .filter((k) => before.has(keyOf(k)) && !now.has(keyOf(k)))
        .map((k) => before.get(keyOf(k))!);
      const at = this.clock.now();
      const ins = this.db.prepare(
        'INSERT INTO protection_violations (plan, target, unit, since, rules) VALUES (?, ?, ?, ?, ?)',
      );
      for (const v of entered) ins.run(v.plan, v.target, v.unit ?? '', at, JSON.stringify(v.rules));
      const del = this.db.prepare('DELETE FROM protection_violations WHERE plan = ? AND target = ? AND unit = ?');
      for (const v of left) del.run(v.plan, v.target, v.unit ?? '');
      return { entered, left };
    });
  }

  /** Keeps `report` (JSON-serialisable) as the last one evaluated. */
  saveReport(report: unknown, evaluatedAt: number): void {
    this.sql('save protection report', () =>
      this.db
        .prepare(
          `INSERT INTO protection_reports (id, evaluated_at, report) VALUES (1, ?, ?)
           ON CONFLICT (id) DO UPDATE SET evaluated_at = excluded.evaluated_at, report = excluded.report`,
        )
        .run(evaluatedAt, JSON.stringify(report)),
    );
  }

  /** The last report saved, or null. */
  lastReport<T>(): { evaluatedAt: number; report: T } | null {
    const r = this.sql('read protection report', () =>
      this.db.prepare('SELECT evaluated_at, report FROM protection_reports WHERE id = 1').get(),
    ) as Row | undefined;
    return r ? { evaluatedAt: r.evaluated_at as number, report: JSON.parse(r.report as string) as T } : null;
  }

  /** The units plans backed up: (plan, target, unit) of every succeeded backup or export task. */
  backedUpUnits(): ProtectionKey[] {
    const rows = this.sql('list backed-up units', () =>
      this.db
        .prepare(
          `SELECT DISTINCT p.plan AS plan, t.target AS target, t.unit AS unit FROM tasks t
           JOIN plan_runs p ON p.id = t.run_id
           WHERE t.status = 'succeeded' AND t.kind IN ('backup', 'export')`,
        )
        .all(),
    ) as Row[];
    return rows.map((r) => ({
      plan: r.plan as string,
      target: r.target as string,
      unit: (r.unit as string | null) ?? null,
    }));
  }

  /** When the newest passed drill of each (target, unit) finished, whichever plan ran it. */
  lastPassedDrills(): { target: string; unit: string | null; at: number }[] {
    const rows = this.sql('list last drills', () =>
      this.db
        .prepare(
          `SELECT target, unit, MAX(finished_at) AS at FROM drills WHERE status = 'passed' GROUP BY target, unit`,
        )
        .all(),
    ) as Row[];
    return rows.map((r) => ({
      target: r.target as string,
      unit: (r.unit as string | null) ?? null,
      at: r.at as number,
    }));
  }
}
