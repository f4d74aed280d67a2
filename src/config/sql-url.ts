// The database a purge statement's connection URL names, by its scheme:
// checked when the configuration is loaded, used by the SQL runner
// (drivers/sql/sql-exec.ts) to pick its client.

export type SqlDialect = 'postgres' | 'mariadb';

/** The dialect of a connection URL, or null when the scheme is not one we speak. */
export function sqlDialect(url: string): SqlDialect | null {
  const scheme = /^([a-z0-9+]+):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') return 'postgres';
  if (scheme === 'mysql' || scheme === 'mariadb') return 'mariadb';
  return null;
}
