// The catalog's record of alerts (S9): each alert as it was raised, and the
// outcome of its delivery on each channel, so `safehold alerts` can show what
// was sent and what failed to be.

import { randomBytes } from 'node:crypto';
import { SafeholdError } from '../core/errors.ts';
import type { AlertEvent, AlertEventType, Severity } from '../core/alert-event.ts';
import { CatalogStore } from './db.ts';

/** What became of an alert on one channel: sent, failed (detail says why), or kept off it by its filters. */
export type DeliveryOutcome = 'delivered' | 'failed' | 'suppressed';

export const DELIVERY_OUTCOMES: readonly DeliveryOutcome[] = ['delivered', 'failed', 'suppressed'];

export interface AlertDelivery {
  channel: string;
  /** True only when delivered. */
  ok: boolean;
  outcome: DeliveryOutcome;
  detail: string | null;
  /** When the outcome was known (delivered at, gave up at, suppressed at). */
  at: number;
}

export interface AlertRecord {
  id: string;
  event: AlertEventType;
  severity: Severity;
  summary: string;
  details: Record<string, unknown>;
  at: number;
  deliveries: AlertDelivery[];
}

export class AlertStore extends CatalogStore {
  /** Stores an alert raised now; returns its id. */
  record(e: AlertEvent): string {
    const id = randomBytes(8).toString('hex');
    this.sql('record alert', () =>
      this.db
        .prepare('INSERT INTO alerts (id, event, severity, summary, details, at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(id, e.event, e.severity, e.summary, JSON.stringify(e.details), this.clock.now()),
    );
    return id;
  }

  /**
   * Records one delivery outcome of alert `id` on `channel`: `true` delivered,
   * `false` failed, or 'suppressed'. Throws 'NOT_FOUND' for an unknown alert.
   */
  markDelivered(id: string, channel: string, ok: boolean | 'suppressed', detail: string | null = null): void {
    const outcome: DeliveryOutcome = ok === 'suppressed' ? ok : ok ? 'delivered' : 'failed';
    const res = this.sql('record alert delivery', () =>
      this.db
        .prepare(
          `INSERT INTO alert_deliveries (alert_id, seq, channel, ok, outcome, detail, at)
       SELECT id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM alert_deliveries WHERE alert_id = ?), ?, ?, ?, ?, ?
       FROM alerts WHERE id = ?`,
        )
        .run(id, channel, ok === true ? 1 : 0, outcome, detail, this.clock.now(), id),
    );
    if (Number(res.changes) === 0) throw new SafeholdError('NOT_FOUND', `no alert ${id} in the catalog`);
  }

  get(id: string): AlertRecord | undefined {
    const row = this.sql('get alert', () => this.db.prepare('SELECT * FROM alerts WHERE id = ?').get(id)) as
      | Row
      | undefined;
    return row ? this.withDeliveries([row])[0] : undefined;
  }

  /** Alerts newest first, optionally of one event kind; at most `limit` (default 50). */
  list(opts: { limit?: number; event?: string } = {}): AlertRecord[] {
    const limit = opts.limit ?? 50;
    if (!Number.isSafeInteger(limit) || limit < 0)
      throw new SafeholdError('USAGE', `alert list limit must be a whole number of 0 or more, not ${limit}`);
    const rows = this.sql('list alerts', () =>
      opts.event !== undefined
        ? this.db
            .prepare('SELECT * FROM alerts WHERE event = ? ORDER BY at DESC, rowid DESC LIMIT ?')
            .all(opts.event, limit)
        : this.db.prepare('SELECT * FROM alerts ORDER BY at DESC, rowid DESC LIMIT ?').all(limit),
    ) as Row[];
    return this.withDeliveries(rows);
  }

  private withDeliveries(rows: Row[]): AlertRecord[] {
    const q = this.db.prepare('SELECT * FROM alert_deliveries WHERE alert_id = ? ORDER BY seq');
    return rows.map((r) => {
      const d = this.sql('list alert deliveries', () => q.all(r.id as string)) as Row[];
      return toAlert(r, d.map(toDelivery));
    });
  }
}

type Row = Record<string, unknown>;

export function toDelivery(x: Row): AlertRecord['deliveries'][number] {
  return {
    channel: x.channel as string,
    ok: x.ok === 1,
    outcome: x.outcome as DeliveryOutcome,
    detail: (x.detail as string | null) ?? null,
    at: x.at as number,
  };
}

export function toAlert(r: Row, deliveries: AlertRecord['deliveries']): AlertRecord {
  return {
    id: r.id as string,
    event: r.event as AlertEventType,
    severity: r.severity as Severity,
    summary: r.summary as string,
    details: JSON.parse(r.details as string) as Record<string, unknown>,
    at: r.at as number,
    deliveries,
  };
}
