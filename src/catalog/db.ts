// Shared by the catalog's stores: SQLite errors as SafeholdErrors, and the
// base class of a store over the catalog's database (plan runs, leases, alerts).

import type { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../core/clock.ts';
import { SafeholdError, isSafeholdError } from '../core/errors.ts';

/** A store over the catalog's database: calls wrapped into SafeholdErrors, write transactions. */
export abstract class CatalogStore {
  protected readonly db: DatabaseSync;
  protected readonly clock: Clock;

  constructor(db: DatabaseSync, clock: Clock) {
    this.db = db;
    this.clock = clock;
  }

  /** Runs one database call, turning SQLite errors into SafeholdError 'IO'. */
  protected sql<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw dbError(e, what);
    }
  }

  /** Runs `fn` in one write transaction (BEGIN IMMEDIATE), rolled back if it throws. */
  protected tx<T>(what: string, fn: () => T): T {
    return this.sql(what, () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const r = fn();
        this.db.exec('COMMIT');
        return r;
      } catch (e) {
        this.db.exec('ROLLBACK');
        throw e;
      }
    });
  }
}

export function dbError(e: unknown, what: string): SafeholdError {
  if (isSafeholdError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  // SQLITE_BUSY (5) / SQLITE_LOCKED (6): another writer held the database past the busy timeout.
  const errcode =
    typeof e === 'object' && e !== null && 'errcode' in e
      ? Number((e as { errcode: unknown }).errcode) & 0xff
      : undefined;
  const busy = errcode === 5 || errcode === 6;
  return new SafeholdError('IO', `catalog: ${what}: ${msg}`, { cause: e, retryable: busy });
}
