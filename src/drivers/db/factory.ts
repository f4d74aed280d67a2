// The driver of a database target of the configuration: postgres, mariadb or
// sqlite, with its settings and secrets applied.

import type { DatabaseTarget } from '../../config/types.ts';
import type { DbDriver } from './driver.ts';
import { createPostgresDriver } from './postgres.ts';
import { createMariadbDriver } from './mariadb.ts';
import { createSqliteDriver } from './sqlite.ts';

export function dbDriverFor(t: DatabaseTarget): DbDriver {
  switch (t.kind) {
    case 'postgres':
      // timeoutMs there bounds connecting, catalog queries and lock waits; dumps end with the task's deadline.
      return createPostgresDriver({ ...serverSettings(t), timeoutMs: Math.min(t.timeoutMs, 60_000) });
    case 'mariadb':
      return createMariadbDriver({
        ...serverSettings(t),
        timeoutMs: Math.min(t.timeoutMs, 30_000),
        operationTimeoutMs: t.timeoutMs,
      });
    case 'sqlite':
      return createSqliteDriver({ name: t.name, dir: t.dir, files: t.files, timeoutMs: Math.min(t.timeoutMs, 60_000) });
  }
}

/** What a database server target's driver is given, whatever its kind. */
function serverSettings(t: DatabaseTarget & { kind: 'postgres' | 'mariadb' }) {
  return {
    name: t.name,
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password?.value ?? null,
    databases: t.databases,
    exclude: [...t.exclude],
  };
}

export function isDatabaseTarget<T extends { kind: string }>(t: T): t is T & DatabaseTarget {
  return t.kind === 'postgres' || t.kind === 'mariadb' || t.kind === 'sqlite';
}
