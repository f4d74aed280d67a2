// Applies numbered SQL migrations (`NNN-name.sql`) to a catalog database, in
// numeric order, each in its own transaction, and records them in
// `schema_migrations`. Safe to run from several processes at once.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { SafeholdError, fromSystemError } from '../core/errors.ts';

export interface Migration {
  version: number;
  name: string;
  file: string;
}

const FILE_RE = /^(\d+)-([A-Za-z0-9][A-Za-z0-9_-]*)\.sql$/;

/** Lists the migration files of `dir` in numeric order; rejects malformed names and repeated numbers. */
export function listMigrations(dir: string): Migration[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    throw fromSystemError(e, `migrations directory ${dir}`);
  }
  const byVersion = new Map<number, Migration>();
  for (const name of names) {
    if (!name.endsWith('.sql')) continue;
    const m = FILE_RE.exec(name);
    if (!m)
      throw new SafeholdError('INTERNAL', `migration file ${name} is not named NNN-name.sql`, {
        details: { file: name },
      });
    const version = Number(m[1]);
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new SafeholdError('INTERNAL', `migration file ${name} must have a number of 1 or more`, {
        details: { file: name },
      });
    }
    const other = byVersion.get(version);
    if (other) {
      throw new SafeholdError('INTERNAL', `migration files ${other.name} and ${name} share number ${version}`, {
        details: { files: [other.name, name] },
      });
    }
    byVersion.set(version, { version, name, file: join(dir, name) });
  }
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}

/**
 * Applies every migration of `dir` not yet recorded in `schema_migrations`.
 * Returns how many were applied. A failing migration is rolled back whole and
 * reported as SafeholdError 'INTERNAL' naming its file; earlier ones stay.
 */
export function migrate(db: DatabaseSync, dir: string): number {
  const migrations = listMigrations(dir);
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
  )`);
  const applied = db.prepare('SELECT name FROM schema_migrations WHERE version = ?');
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');

  let count = 0;
  for (const m of migrations) {
    if (isApplied(applied, m)) continue;
    const sql = readSql(m);
    db.exec('BEGIN IMMEDIATE');
    try {
      // Another process may have applied it between our check and our lock.
      if (isApplied(applied, m)) {
        db.exec('COMMIT');
        continue;
      }
      db.exec(sql);
      record.run(m.version, m.name, Date.now());
      db.exec('COMMIT');
    } catch (e) {
      try {
        db.exec('ROLLBACK');
      } catch {
        /* already rolled back by SQLite */
      }
      const msg = e instanceof Error ? e.message : String(e);
      throw new SafeholdError('INTERNAL', `catalog migration ${m.name} failed: ${msg}`, {
        cause: e,
        details: { file: m.file },
      });
    }
    count++;
  }
  return count;
}

function isApplied(stmt: ReturnType<DatabaseSync['prepare']>, m: Migration): boolean {
  const row = stmt.get(m.version) as { name: string } | undefined;
  if (!row) return false;
  if (row.name !== m.name) {
    throw new SafeholdError(
      'INTERNAL',
      `catalog migration ${m.version} was applied as ${row.name} but the file is now ${m.name}`,
      {
        details: { version: m.version, applied: row.name, file: m.name },
      },
    );
  }
  return true;
}

function readSql(m: Migration): string {
  try {
    return readFileSync(m.file, 'utf8');
  } catch (e) {
    throw fromSystemError(e, `migration ${m.file}`);
  }
}
