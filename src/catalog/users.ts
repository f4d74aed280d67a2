// The catalog's console users (issue 6): name, role and a password hash (the
// hash string is made and checked by src/api/auth; this store keeps rows).
// Removing a user removes their sessions (ON DELETE CASCADE).

import { SafeholdError } from '../core/errors.ts';
import { CatalogStore } from './db.ts';
import type { AuthRole } from './auth-tokens.ts';

/** A user as listed: never the password hash. */
export interface UserInfo {
  name: string;
  role: AuthRole;
  createdAt: number;
  disabledAt: number | null;
}

export interface UserRecord extends UserInfo {
  passwordHash: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

/** Throws 'USAGE' unless `name` is 1–64 letters, digits, '.', '_', '@' or '-' (not starting with a sign). */
export function checkUserName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw new SafeholdError(
      'USAGE',
      `user name '${name}' must be 1 to 64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit`,
    );
  }
}

type Row = Record<string, unknown>;

export class UserStore extends CatalogStore {
  /** Adds a user (created now). Throws 'USAGE' for a bad or taken name. */
  add(u: { name: string; role: AuthRole; passwordHash: string }): UserInfo {
    checkUserName(u.name);
    const now = this.clock.now();
    this.tx('add user', () => {
      if (this.db.prepare('SELECT 1 FROM users WHERE name = ?').get(u.name))
        throw new SafeholdError('USAGE', `user ${u.name} already exists`);
      this.db
        .prepare('INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)')
        .run(u.name, u.role, u.passwordHash, now);
    });
    return { name: u.name, role: u.role, createdAt: now, disabledAt: null };
  }

  /** The user with this exact name (hash included), or undefined. */
  get(name: string): UserRecord | undefined {
    const row = this.sql('get user', () => this.db.prepare('SELECT * FROM users WHERE name = ?').get(name)) as
      | Row
      | undefined;
    return row ? { ...toInfo(row), passwordHash: row.password_hash as string } : undefined;
  }

  /** Every user by name, without hashes. */
  list(): UserInfo[] {
    const rows = this.sql('list users', () => this.db.prepare('SELECT * FROM users ORDER BY name').all()) as Row[];
    return rows.map(toInfo);
  }

  /** How many users there are (disabled ones included). */
  count(): number {
    const row = this.sql('count users', () => this.db.prepare('SELECT count(*) AS n FROM users').get()) as Row;
    return Number(row.n);
  }

  /** Replaces the password hash and ends every session of the user. Throws 'NOT_FOUND'. */
  setPassword(name: string, passwordHash: string): void {
    this.tx('change user password', () => {
      const res = this.db.prepare('UPDATE users SET password_hash = ? WHERE name = ?').run(passwordHash, name);
      if (Number(res.changes) === 0) throw notFound(name);
      this.db.prepare('DELETE FROM sessions WHERE user_name = ?').run(name);
    });
  }

  /** Changes the role; sessions keep going with the new role (it is read on every request). Throws 'NOT_FOUND'. */
  setRole(name: string, role: AuthRole): void {
    const res = this.sql('change user role', () =>
      this.db.prepare('UPDATE users SET role = ? WHERE name = ?').run(role, name),
    );
    if (Number(res.changes) === 0) throw notFound(name);
  }

  /** Removes the user and their sessions. Throws 'NOT_FOUND'. */
  remove(name: string): void {
    this.tx('remove user', () => {
      this.db.prepare('DELETE FROM sessions WHERE user_name = ?').run(name);
      const res = this.db.prepare('DELETE FROM users WHERE name = ?').run(name);
      if (Number(res.changes) === 0) throw notFound(name);
    });
  }
}

function notFound(name: string): SafeholdError {
  return new SafeholdError('NOT_FOUND', `no user ${name}`, { details: { name } });
}

function toInfo(row: Row): UserInfo {
  return {
    name: row.name as string,
    role: row.role as AuthRole,
    createdAt: row.created_at as number,
    disabledAt: (row.disabled_at as number | null) ?? null,
  };
}
