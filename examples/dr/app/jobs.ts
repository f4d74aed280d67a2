// The demo reporting application's database jobs: the migration job (schema
// versions), the maintenance job (daily partitions of the rows table), the
// ETL insert and the aggregation (rows per minute, recomputed for a time
// range so that running it again gives the same result).

import pg from 'pg';
import type { AppConfig } from './ini.ts';

/** The schema version this code expects; the migration job brings the database to it. */
export const SCHEMA_VERSION = 2;

export function connect(cfg: AppConfig, database = cfg.database): pg.Client {
  return new pg.Client({
    host: cfg.host,
    port: cfg.port,
    user: cfg.user,
    database,
    connectionTimeoutMillis: 3000,
    application_name: 'reporting-app',
  });
}

/** Creates the database on the server when it is missing (connects to `postgres`). */
export async function ensureDatabase(cfg: AppConfig): Promise<boolean> {
  const c = connect(cfg, 'postgres');
  await c.connect();
  try {
    const found = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [cfg.database]);
    if (found.rowCount) return false;
    await c.query(`CREATE DATABASE "${cfg.database.replaceAll('"', '""')}"`);
    return true;
  } finally {
    await c.end();
  }
}

/** The database's schema version (0 when it has none yet). */
export async function schemaVersion(c: pg.Client): Promise<number> {
  const t = await c.query("SELECT to_regclass('public.schema_version') IS NOT NULL AS present");
  if (!t.rows[0].present) return 0;
  const r = await c.query('SELECT coalesce(max(version), 0) AS v FROM schema_version');
  return Number(r.rows[0].v);
}

const MIGRATIONS: Record<number, string> = {
  1: `CREATE TABLE schema_version (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
      CREATE TABLE rows (id bigserial, created_at timestamptz NOT NULL DEFAULT now(), payload text NOT NULL,
                         PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at);`,
  2: `CREATE TABLE aggregates (minute timestamptz PRIMARY KEY, row_count int NOT NULL, sources int NOT NULL,
                               computed_at timestamptz NOT NULL DEFAULT now());`,
};

/** The migration job: applies the missing schema versions; returns the versions applied. */
export async function migrate(c: pg.Client): Promise<number[]> {
  const applied: number[] = [];
  for (let v = (await schemaVersion(c)) + 1; v <= SCHEMA_VERSION; v++) {
    await c.query('BEGIN');
    try {
      await c.query(MIGRATIONS[v]!);
      await c.query('INSERT INTO schema_version (version) VALUES ($1)', [v]);
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK');
      throw e;
    }
    applied.push(v);
  }
  return applied;
}

const day = (d: Date) => d.toISOString().slice(0, 10);

/** The maintenance job: daily partitions of `rows` from yesterday to `ahead` days on; returns the ones created. */
export async function maintain(c: pg.Client, now: Date, ahead = 7): Promise<string[]> {
  const created: string[] = [];
  for (let i = -1; i <= ahead; i++) {
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + i));
    const to = new Date(from.getTime() + 86_400_000);
    const name = `rows_${day(from).replaceAll('-', '')}`;
    const exists = await c.query('SELECT to_regclass($1) IS NOT NULL AS present', [`public.${name}`]);
    if (exists.rows[0].present) continue;
    await c.query(`CREATE TABLE ${name} PARTITION OF rows FOR VALUES FROM ('${day(from)}') TO ('${day(to)}')`);
    created.push(name);
  }
  return created;
}

/** Whether `rows` is partitioned (the maintenance job's condition). */
export async function isPartitioned(c: pg.Client): Promise<boolean> {
  const r = await c.query(
    "SELECT count(*)::int AS n FROM pg_partitioned_table WHERE partrelid = to_regclass('public.rows')",
  );
  return r.rows[0].n > 0;
}

/** One ETL row; returns its id and commit time. */
export async function insertRow(c: pg.Client, payload: string): Promise<{ id: number; createdAt: Date }> {
  const r = await c.query('INSERT INTO rows (payload) VALUES ($1) RETURNING id, created_at', [payload]);
  return { id: Number(r.rows[0].id), createdAt: r.rows[0].created_at as Date };
}

/**
 * Recomputes the aggregates of the whole minutes touching [from, to): deletes
 * them and counts the rows again, in one transaction. Returns the minutes written.
 */
export async function aggregate(c: pg.Client, from: Date, to: Date): Promise<number> {
  await c.query('BEGIN');
  try {
    const lo = "date_trunc('minute', $1::timestamptz)";
    await c.query(`DELETE FROM aggregates WHERE minute >= ${lo} AND minute < $2::timestamptz`, [from, to]);
    const r = await c.query(
      `INSERT INTO aggregates (minute, row_count, sources)
       SELECT date_trunc('minute', created_at), count(*), count(DISTINCT split_part(payload, ':', 1))
         FROM rows WHERE created_at >= ${lo} AND created_at < $2::timestamptz GROUP BY 1`,
      [from, to],
    );
    await c.query('COMMIT');
    return r.rowCount ?? 0;
  } catch (e) {
    await c.query('ROLLBACK');
    throw e;
  }
}

export interface Divergence {
  count: number;
  firstId: number | null;
  lastId: number | null;
  firstAt: Date | null;
  lastAt: Date | null;
}

/**
 * The rows written at `old` since `since` that `current` does not have (by
 * payload, which is unique per writer): what a rewind of `old` discards.
 */
export async function divergedRows(old: pg.Client, current: pg.Client, since: Date): Promise<Divergence> {
  const rows = (await old.query('SELECT id, created_at, payload FROM rows WHERE created_at >= $1 ORDER BY id', [since]))
    .rows as { id: string; created_at: Date; payload: string }[];
  const present = new Set<string>();
  for (let i = 0; i < rows.length; i += 10_000) {
    const batch = rows.slice(i, i + 10_000).map((r) => r.payload);
    const r = await current.query('SELECT payload FROM rows WHERE payload = ANY($1)', [batch]);
    for (const p of r.rows as { payload: string }[]) present.add(p.payload);
  }
  const only = rows.filter((r) => !present.has(r.payload));
  return {
    count: only.length,
    firstId: only.length ? Number(only[0]!.id) : null,
    lastId: only.length ? Number(only.at(-1)!.id) : null,
    firstAt: only.length ? only.reduce((m, r) => (r.created_at < m ? r.created_at : m), only[0]!.created_at) : null,
    lastAt: only.length ? only.reduce((m, r) => (r.created_at > m ? r.created_at : m), only[0]!.created_at) : null,
  };
}
