// The content digest of a MariaDB database (S7 drills), computed by the
// server: for every base table (and system-versioned table, its current rows)
// the row count and an order-independent checksum. Each row hashes to
// MD5(CONCAT_WS('|', MD5(col1) or 'n', MD5(col2) or 'n', ...)), so NULL and ''
// differ and a value containing the separator cannot shift into the next
// column, and no row grows beyond one hash per column (no max_allowed_packet
// limit on wide rows). The two 64-bit halves of the row hashes are summed
// (exact DECIMAL sums: unlike XOR, duplicates do not cancel) and shown as 32
// hex digits, each half modulo 2^64. Sessions run with time_zone '+00:00', as
// mariadb-dump does, so TIMESTAMP values read the same on both sides.

import type { ContentDigest } from './driver.ts';
import type { Conn, MariadbDriverConfig } from './mariadb-connection.ts';
import { ident, rows } from './mariadb-connection.ts';

const MOD64 = 1n << 64n;

export async function mariadbDigest(cfg: MariadbDriverConfig, c: Conn, db: string): Promise<ContentDigest> {
  const cols = await rows<{ t: string; c: string }>(
    cfg,
    c,
    `SELECT c.table_name AS t, c.column_name AS c
       FROM information_schema.columns c
       JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
      WHERE c.table_schema = ? AND t.table_type IN ('BASE TABLE', 'SYSTEM VERSIONED')
      ORDER BY c.table_name, c.ordinal_position`,
    [db],
  );
  const byTable = new Map<string, string[]>();
  for (const { t, c: col } of cols) byTable.set(t, [...(byTable.get(t) ?? []), col]);
  const tables: Record<string, { rows: number; checksum: string }> = {};
  for (const [t, columns] of [...byTable].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const [r] = await c.query({ sql: digestSql(db, t, columns) });
    const row = (r as Array<{ n: string | number; hi: string | null; lo: string | null }>)[0]!;
    tables[t] = { rows: Number(row.n), checksum: hex64(row.hi) + hex64(row.lo) };
  }
  return { tables };
}

/** The statement computing one table's row count and the sums of the halves of its row hashes. */
function digestSql(db: string, table: string, columns: readonly string[]): string {
  const parts = columns.map((col) => `IFNULL(MD5(${ident(col)}), 'n')`).join(', ');
  const half = (expr: string) => `CAST(SUM(CAST(CONV(${expr}, 16, 10) AS UNSIGNED)) AS CHAR)`;
  return `SELECT COUNT(*) AS n, ${half('LEFT(h, 16)')} AS hi, ${half('RIGHT(h, 16)')} AS lo
    FROM (SELECT MD5(CONCAT_WS('|', ${parts})) AS h FROM ${ident(db)}.${ident(table)}) AS x`;
}

function hex64(sum: string | null): string {
  return (BigInt(sum ?? '0') % MOD64).toString(16).padStart(16, '0');
}
