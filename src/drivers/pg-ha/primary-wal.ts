// Whether a (new) primary still holds the WAL a rewound server will ask it
// for: recovery after pg_rewind replays from the last common checkpoint, so
// the primary must still have that WAL segment (on any timeline: the segment
// number is what counts) and everything after it. A primary that was itself
// base-backed-up after the servers diverged, or that removed old segments,
// does not: the rewound server would fail with "requested WAL segment has
// already been removed", so a rebuild is the way. Listing pg_wal needs a
// superuser or pg_monitor; when it cannot be listed the answer is "unknown".

import { withServer } from './pg-sql.ts';
import type { SqlOptions } from './pg-sql.ts';
import { pgTarget } from './pg-target.ts';

const WAL_SQL = `SELECT pg_walfile_name($1::pg_lsn) AS want,
  (SELECT min(substr(name, 9)) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$') AS oldest`;

/**
 * Why `primary` cannot serve the WAL from `from` onward (in words), or null
 * when it can or when its pg_wal cannot be listed.
 */
export async function missingWal(primary: string, from: string, o: SqlOptions = {}): Promise<string | null> {
  const r = await withServer(
    primary,
    async (q) => (await q<{ want: string; oldest: string | null }>(WAL_SQL, [from]))[0]!,
    o,
  ).catch(() => null);
  if (!r) return null;
  const want = r.want.slice(8);
  if (r.oldest !== null && r.oldest <= want) return null;
  const oldest = r.oldest ? `its oldest WAL segment is …${r.oldest}` : 'its pg_wal holds no segment';
  return (
    `the new primary ${pgTarget(primary).where} no longer has the WAL from the last common checkpoint ${from} ` +
    `(segment …${want}) onward (${oldest}), so a rewound server could not catch up`
  );
}
