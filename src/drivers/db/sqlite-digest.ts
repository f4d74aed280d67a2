// The content digest of an SQLite database (S7 drills): for every ordinary
// table (not SQLite's own, not virtual tables, whose content lives in their
// shadow tables) the row count and a checksum that does not depend on the
// physical row order: each row is encoded with its value types (NULL, integer,
// real, text, blob are all distinct), hashed with MD5, and the 128-bit hashes
// are summed modulo 2^128 (a sum, unlike XOR, does not cancel duplicate rows).
// The rows are read one at a time, so memory stays small; the time is
// proportional to the size of the database.

import { createHash } from 'node:crypto';
import type { DatabaseSync, SQLOutputValue } from 'node:sqlite';
import type { ContentDigest } from './driver.ts';

const MOD = 1n << 128n;

export function sqliteDigest(db: DatabaseSync): ContentDigest {
  const tables: Record<string, { rows: number; checksum: string }> = {};
  const names = db
    .prepare(
      "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
    )
    .all() as Array<{ name: string }>;
  for (const { name } of names) tables[name] = tableDigest(db, name);
  return { tables };
}

function tableDigest(db: DatabaseSync, table: string): { rows: number; checksum: string } {
  const stmt = db.prepare(`SELECT * FROM ${quoteIdent(table)}`);
  stmt.setReadBigInts(true);
  stmt.setReturnArrays(true);
  let rows = 0;
  let sum = 0n;
  for (const row of stmt.iterate() as Iterable<SQLOutputValue[]>) {
    rows++;
    const h = createHash('md5');
    for (const v of row) h.update(encodeValue(v));
    sum = (sum + BigInt(`0x${h.digest('hex')}`)) % MOD;
  }
  return { rows, checksum: sum.toString(16).padStart(32, '0') };
}

/** A self-delimiting encoding of one value: its type, its length where it has one, its content. */
function encodeValue(v: SQLOutputValue): Buffer {
  if (v === null) return Buffer.from('N;');
  if (typeof v === 'bigint') return Buffer.from(`I${v};`);
  if (typeof v === 'number') return Buffer.from(`R${Object.is(v, -0) ? '-0' : String(v)};`);
  if (typeof v === 'string') {
    const b = Buffer.from(v);
    return Buffer.concat([Buffer.from(`T${b.length}:`), b]);
  }
  return Buffer.concat([Buffer.from(`B${v.byteLength}:`), Buffer.from(v.buffer, v.byteOffset, v.byteLength)]);
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
