// Promoting a standby to primary (pg_promote, waiting until it is done). A
// server that is already a primary is a success that says so. When the
// server cannot be reached but its data directory is here, `pg_ctl promote`
// is used instead.

import * as path from 'node:path';
import { SafeholdError } from '../../core/errors.ts';
import { isLocalDataDir } from './data-dir.ts';
import { pgBinDirFor, runPgOrThrow } from './pg-bin.ts';
import { tryWithServer, withServer } from './pg-sql.ts';
import type { SqlOptions } from './pg-sql.ts';

export interface PromoteResult {
  /** The new primary's current WAL position. */
  lsn: string;
  timeline: number;
  alreadyPrimary: boolean;
}

const AFTER_SQL = `SELECT pg_current_wal_lsn()::text AS lsn,
  ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS timeline`;

const WAIT_SECONDS = 60;

async function promoteByPgCtl(dataDir: string, o: SqlOptions): Promise<void> {
  const bin = path.join(await pgBinDirFor(dataDir), 'pg_ctl');
  await runPgOrThrow([bin, 'promote', '-D', dataDir, '-w', '-t', String(WAIT_SECONDS)], `promoting ${dataDir}`, {
    asOwnerOf: dataDir,
    signal: o.signal,
  });
}

/** Promotes the standby at `url` (or says it already is a primary). */
export async function promote(url: string, o: SqlOptions & { dataDir?: string } = {}): Promise<PromoteResult> {
  const did = await tryWithServer(
    url,
    async (q) => {
      const [{ standby }] = (await q<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby')) as [
        { standby: boolean },
      ];
      if (!standby) return false;
      const [{ ok }] = (await q<{ ok: boolean }>('SELECT pg_promote(true, $1) AS ok', [WAIT_SECONDS])) as [
        { ok: boolean },
      ];
      if (!ok)
        throw new SafeholdError('IO', `the promotion did not finish within ${WAIT_SECONDS} s`, { retryable: true });
      return true;
    },
    { timeoutMs: (WAIT_SECONDS + 5) * 1000, ...o },
  );
  if (!did) {
    if (!(o.dataDir && (await isLocalDataDir(o.dataDir))))
      throw new SafeholdError('IO', 'cannot connect to the server to promote it', { retryable: true });
    await promoteByPgCtl(o.dataDir, o);
  }
  // A promoted server must not stay fenced if it was once made read-only.
  const after = await withServer(url, async (q) => {
    const [ro] = await q<{ v: string }>("SELECT current_setting('default_transaction_read_only') AS v");
    if (ro?.v === 'on' && did?.value !== false) {
      await q('ALTER SYSTEM RESET default_transaction_read_only');
      await q('SELECT pg_reload_conf()');
    }
    return (await q<{ lsn: string; timeline: number }>(AFTER_SQL))[0]!;
  });
  return { lsn: after.lsn, timeline: after.timeline, alreadyPrimary: did?.value === false };
}
