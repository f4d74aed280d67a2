// The catalog's audit log (issue 6): one row per state-changing API request
// (who, what, when, from where, with which outcome), numbered in order.

import { SafeholdError } from '../core/errors.ts';
import { CatalogStore } from './db.ts';

interface AuditFields {
  /** Token id or user name; null when the caller was not authenticated. */
  principal: string | null;
  role: string | null;
  method: string;
  path: string;
  status: number;
  ip: string | null;
  requestId: string | null;
}

/** What the API records for one request; `at` defaults to now; `detail` is anything else worth keeping, never secrets. */
export interface AuditEntry extends AuditFields {
  at?: number;
  detail?: string | null;
}

export interface AuditRecord extends AuditFields {
  seq: number;
  at: number;
  detail: string | null;
}

type Row = Record<string, unknown>;

export class AuditStore extends CatalogStore {
  /** Appends an entry; returns its sequence number. */
  record(e: AuditEntry): number {
    return this.sql('record audit entry', () => {
      const row = this.db
        .prepare(
          `INSERT INTO audit_log (seq, at, principal, role, method, path, status, ip, request_id, detail)
         VALUES ((SELECT COALESCE(MAX(seq), 0) + 1 FROM audit_log), ?, ?, ?, ?, ?, ?, ?, ?, ?)
         RETURNING seq`,
        )
        .get(
          e.at ?? this.clock.now(),
          e.principal,
          e.role,
          e.method,
          e.path,
          e.status,
          e.ip,
          e.requestId,
          e.detail ?? null,
        ) as Row;
      return Number(row.seq);
    });
  }

  /** Entries newest first; at most `limit` (default 100), optionally only those before sequence `before`. */
  list(opts: { limit?: number; before?: number } = {}): AuditRecord[] {
    const limit = opts.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 0)
      throw new SafeholdError('USAGE', `audit list limit must be a whole number of 0 or more, not ${limit}`);
    const rows = this.sql('list audit log', () =>
      opts.before !== undefined
        ? this.db.prepare('SELECT * FROM audit_log WHERE seq < ? ORDER BY seq DESC LIMIT ?').all(opts.before, limit)
        : this.db.prepare('SELECT * FROM audit_log ORDER BY seq DESC LIMIT ?').all(limit),
    ) as Row[];
    return rows.map((r) => ({
      seq: Number(r.seq),
      at: r.at as number,
      principal: (r.principal as string | null) ?? null,
      role: (r.role as string | null) ?? null,
      method: r.method as string,
      path: r.path as string,
      status: Number(r.status),
      ip: (r.ip as string | null) ?? null,
      requestId: (r.request_id as string | null) ?? null,
      detail: (r.detail as string | null) ?? null,
    }));
  }
}
