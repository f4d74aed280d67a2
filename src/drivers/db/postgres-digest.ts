// The content digest of a PostgreSQL database (S7 drills), computed by the
// server in one REPEATABLE READ transaction: for every base table outside the
// system schemas (partitions, not their partitioned parents) the row count
// and an order-independent checksum (every row's text form hashed with md5,
// the two 64-bit halves of the hashes summed). The session pins the settings
// that shape the text form of values, so that every session agrees. For a
// backup, the transaction exports its snapshot to pg_dump (--snapshot), so
// the digest describes exactly the dumped rows, however busy the database.

import type pg from 'pg';
import type { ContentDigest } from './driver.ts';
import { ident, withClient } from './postgres-connection.ts';
import type { PostgresDriverConfig } from './postgres-connection.ts';

/** A snapshot exported for pg_dump, the digest computed in it, and the end of its transaction. */
export interface ExportedSnapshot {
  readonly id: string;
  readonly digest: Promise<ContentDigest>;
  readonly release: () => void;
}

/**
 * Base tables outside the system schemas; partitions count as tables,
 * partitioned parents do not (their rows are in the partitions).
 */
const TABLES = `
  SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
  ORDER BY 1, 2`;

/** The settings the text form of values depends on. */
const PINNED_SETTINGS =
  "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'postgres'; " +
  "SET bytea_output = 'hex'; SET extra_float_digits = 1";

export async function digestDatabase(cfg: PostgresDriverConfig, unit: string): Promise<ContentDigest> {
  return withClient(
    cfg,
    unit,
    `digest of ${unit}`,
    async (c) => {
      await beginDigest(c);
      const d = await tablesDigest(c);
      await c.query('COMMIT');
      return d;
    },
    null,
  );
}

/**
 * Opens a REPEATABLE READ transaction, exports its snapshot for pg_dump
 * (--snapshot) and computes the digest in it while the dump runs, so that
 * the digest describes exactly the dumped rows, however busy the database.
 * Resolves once the snapshot is exported; `release` (when the dump is done)
 * ends the transaction.
 */
export function exportedSnapshotDigest(cfg: PostgresDriverConfig, unit: string): Promise<ExportedSnapshot> {
  return new Promise((resolveOpen, rejectOpen) => {
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    const digest: Promise<ContentDigest> = withClient(
      cfg,
      unit,
      `digest of ${unit}`,
      async (c) => {
        await beginDigest(c);
        const id = (await c.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]!.id;
        resolveOpen({ id, digest, release });
        const d = await tablesDigest(c);
        await released;
        await c.query('COMMIT');
        return d;
      },
      null,
    );
    // Before the export this rejects the open; after it, the caller sees the failure through `digest`.
    digest.catch(rejectOpen);
  });
}

async function beginDigest(c: pg.Client): Promise<void> {
  // The text form of values depends on these settings: pin them so that every session agrees.
  await c.query(PINNED_SETTINGS);
  await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
}

async function tablesDigest(c: pg.Client): Promise<ContentDigest> {
  const tables: Record<string, { rows: number; checksum: string }> = {};
  for (const t of (await c.query<{ schema: string; name: string }>(TABLES)).rows) {
    const r = (await c.query<{ n: string; checksum: string }>(tableDigestSql(t.schema, t.name))).rows[0]!;
    tables[`${t.schema}.${t.name}`] = { rows: Number(r.n), checksum: r.checksum };
  }
  return { tables };
}

/**
 * Row count and an order-independent checksum of one table: every row's text
 * form is hashed (md5) and the two 64-bit halves of the hashes are summed
 * (exact numeric sums), so the server needs neither a sort nor a big string,
 * however many rows there are.
 */
function tableDigestSql(schema: string, table: string): string {
  const half = (from: number) => `coalesce(sum(('x' || substr(h, ${from}, 16))::bit(64)::int8::numeric), 0)::text`;
  return `SELECT count(*)::int8 AS n, md5(count(*)::text || ':' || ${half(1)} || ':' || ${half(17)}) AS checksum
    FROM (SELECT md5(ROW(r.*)::text) AS h FROM ONLY ${ident(schema)}.${ident(table)} AS r) q`;
}
