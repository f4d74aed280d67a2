// The catalog's console sessions (issue 6). A row is keyed by the SHA-256 of
// the session cookie's value (the cookie itself is never stored) and keeps
// the hash of its CSRF token, its times and the client address. Expiry rules
// live in src/api/auth/sessions.ts; this store keeps rows and deletes them.

import { CatalogStore } from './db.ts';

export interface SessionRecord {
  /** SHA-256 (hex) of the cookie value. */
  id: string;
  user: string;
  /** SHA-256 (hex) of the session's CSRF token. */
  csrf: string;
  createdAt: number;
  expiresAt: number;
  lastSeenAt: number;
  ip: string | null;
}

type Row = Record<string, unknown>;

export class SessionStore extends CatalogStore {
  add(s: SessionRecord): void {
    this.sql('add session', () =>
      this.db
        .prepare(
          'INSERT INTO sessions (id, user_name, csrf, created_at, expires_at, last_seen_at, ip) VALUES (?, ?, ?, ?, ?, ?, ?)',
        )
        .run(s.id, s.user, s.csrf, s.createdAt, s.expiresAt, s.lastSeenAt, s.ip),
    );
  }

  get(id: string): SessionRecord | undefined {
    const row = this.sql('get session', () => this.db.prepare('SELECT * FROM sessions WHERE id = ?').get(id)) as
      | Row
      | undefined;
    return row ? toRecord(row) : undefined;
  }

  /** Sessions of one user (or all), newest first. */
  list(user?: string): SessionRecord[] {
    const rows = this.sql('list sessions', () =>
      user === undefined
        ? this.db.prepare('SELECT * FROM sessions ORDER BY created_at DESC, id').all()
        : this.db.prepare('SELECT * FROM sessions WHERE user_name = ? ORDER BY created_at DESC, id').all(user),
    ) as Row[];
    return rows.map(toRecord);
  }

  touch(id: string, at: number): void {
    this.sql('touch session', () => this.db.prepare('UPDATE sessions SET last_seen_at = ? WHERE id = ?').run(at, id));
  }

  /** Deletes one session; returns whether it existed. */
  delete(id: string): boolean {
    return (
      Number(this.sql('delete session', () => this.db.prepare('DELETE FROM sessions WHERE id = ?').run(id)).changes) > 0
    );
  }

  /** Deletes sessions past their absolute expiry or idle since before `idleBefore`; returns how many. */
  purge(now: number, idleBefore: number): number {
    return Number(
      this.sql('purge sessions', () =>
        this.db.prepare('DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at <= ?').run(now, idleBefore),
      ).changes,
    );
  }
}

function toRecord(row: Row): SessionRecord {
  return {
    id: row.id as string,
    user: row.user_name as string,
    csrf: row.csrf as string,
    createdAt: row.created_at as number,
    expiresAt: row.expires_at as number,
    lastSeenAt: row.last_seen_at as number,
    ip: (row.ip as string | null) ?? null,
  };
}
