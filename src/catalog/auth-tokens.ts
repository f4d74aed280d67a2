// The catalog's API tokens (issue 6): one row per token with its role and
// only a hash of its secret. Generating tokens and checking secrets is
// src/api/auth's job; this store only keeps the rows.

import { SafeholdError } from '../core/errors.ts';
import { CatalogStore } from './db.ts';

/** The roles of the API (the same values as src/api/auth/types.ts Role; catalog cannot import api). */
export type AuthRole = 'viewer' | 'operator' | 'admin';

export const AUTH_ROLES: readonly AuthRole[] = ['viewer', 'operator', 'admin'];

export function isAuthRole(s: string): s is AuthRole {
  return (AUTH_ROLES as readonly string[]).includes(s);
}

/** A token as listed: never its hash. Optional times are null when not set. */
export interface TokenInfo {
  id: string;
  name: string;
  role: AuthRole;
  createdAt: number;
  createdBy: string;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** A token with the stored hash of its secret, for checking a presented token. */
export interface TokenRecord extends TokenInfo {
  hash: string;
}

type Row = Record<string, unknown>;

export class TokenStore extends CatalogStore {
  /** Stores a new token row (created now). Throws 'USAGE' when the id exists. */
  add(t: { id: string; name: string; role: AuthRole; hash: string; createdBy: string }): TokenInfo {
    const now = this.clock.now();
    this.tx('add token', () => {
      if (this.db.prepare('SELECT 1 FROM api_tokens WHERE id = ?').get(t.id))
        throw new SafeholdError('USAGE', `token ${t.id} already exists`);
      this.db
        .prepare('INSERT INTO api_tokens (id, name, role, hash, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)')
        .run(t.id, t.name, t.role, t.hash, now, t.createdBy);
    });
    return {
      id: t.id,
      name: t.name,
      role: t.role,
      createdAt: now,
      createdBy: t.createdBy,
      lastUsedAt: null,
      revokedAt: null,
    };
  }

  /** The token with this id, including its hash (revoked ones too), or undefined. */
  get(id: string): TokenRecord | undefined {
    const row = this.sql('get token', () => this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id)) as
      | Row
      | undefined;
    return row ? { ...toInfo(row), hash: row.hash as string } : undefined;
  }

  /** Every token, oldest first, without hashes. */
  list(): TokenInfo[] {
    const rows = this.sql('list tokens', () =>
      this.db.prepare('SELECT * FROM api_tokens ORDER BY created_at, id').all(),
    ) as Row[];
    return rows.map(toInfo);
  }

  /** Revokes a token now; returns its info. Throws 'NOT_FOUND' for an unknown id; revoking twice keeps the first time. */
  revoke(id: string): TokenInfo {
    return this.tx('revoke token', () => {
      const res = this.db
        .prepare('UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?')
        .run(this.clock.now(), id);
      if (Number(res.changes) === 0) throw new SafeholdError('NOT_FOUND', `no token ${id}`, { details: { id } });
      return toInfo(this.db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(id) as Row);
    });
  }

  /** Records a use of the token at `at`. */
  touch(id: string, at: number): void {
    this.sql('record token use', () =>
      this.db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(at, id),
    );
  }
}

function toInfo(row: Row): TokenInfo {
  return {
    id: row.id as string,
    name: row.name as string,
    role: row.role as AuthRole,
    createdAt: row.created_at as number,
    createdBy: row.created_by as string,
    lastUsedAt: (row.last_used_at as number | null) ?? null,
    revokedAt: (row.revoked_at as number | null) ?? null,
  };
}
