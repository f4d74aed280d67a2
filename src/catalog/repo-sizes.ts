// Samples of each repository destination's size over time (migration 009):
// written by the server's hourly sampling and on demand by the charts API,
// read as a series for the console's repository size chart. Opens its own
// connection to the catalog's database file (WAL), like ApiQueries.

import { DatabaseSync } from 'node:sqlite';
import type { StatementSync } from 'node:sqlite';
import type { Clock } from '../core/clock.ts';
import { CatalogStore } from './db.ts';

export interface RepoSizeSample {
  at: number;
  bytes: number;
}

export class RepoSizeStore extends CatalogStore {
  private readonly stmts = new Map<string, StatementSync>();

  /** Opens a connection to the catalog database at `path` (already migrated by Catalog.open). */
  static open(path: string, clock: Clock): RepoSizeStore {
    const db = new DatabaseSync(path);
    db.exec('PRAGMA busy_timeout = 5000');
    return new RepoSizeStore(db, clock);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  /** Records `bytes` for `destination` at `at` (default: now); a second sample at the same instant replaces the first. */
  record(destination: string, bytes: number, at: number = this.clock.now()): void {
    this.sql('record repository size', () =>
      this.stmt(
        'INSERT INTO repo_sizes (destination, at, bytes) VALUES (?, ?, ?) ON CONFLICT (destination, at) DO UPDATE SET bytes = excluded.bytes',
      ).run(destination, at, bytes),
    );
  }

  /** The newest sample of `destination`, or null. */
  latest(destination: string): RepoSizeSample | null {
    const r = this.sql('latest repository size', () =>
      this.stmt('SELECT at, bytes FROM repo_sizes WHERE destination = ? ORDER BY at DESC LIMIT 1').get(destination),
    ) as RepoSizeSample | undefined;
    return r ? { at: Number(r.at), bytes: Number(r.bytes) } : null;
  }

  /** Samples of `destination` at or after `since`, oldest first; the newest `limit` when there are more. */
  series(destination: string, since: number, limit: number): RepoSizeSample[] {
    const rows = this.sql('repository size series', () =>
      this.stmt('SELECT at, bytes FROM repo_sizes WHERE destination = ? AND at >= ? ORDER BY at DESC LIMIT ?').all(
        destination,
        since,
        limit,
      ),
    ) as unknown as RepoSizeSample[];
    return rows.map((r) => ({ at: Number(r.at), bytes: Number(r.bytes) })).reverse();
  }

  private stmt(sql: string): StatementSync {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }
}
