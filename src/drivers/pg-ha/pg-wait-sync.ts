// Waiting until a standby has replayed everything its primary had written
// when the wait began (replay LSN ≥ the primary's current LSN, less
// maxLagBytes). Polls both; ends by the abort signal (the step's timeout)
// with an error saying how far behind the standby still was, or that it
// could not be reached.

import type { Clock } from '../../core/clock.ts';
import { systemClock } from '../../core/clock.ts';
import { SafeholdError } from '../../core/errors.ts';
import { lsnBytes } from './lsn.ts';
import { tryWithServer, withServer } from './pg-sql.ts';
import { pgTarget } from './pg-target.ts';

export interface WaitSyncOptions {
  readonly primary: string;
  readonly standby: string;
  /** Replay may stay this many bytes behind (default 0). */
  readonly maxLagBytes?: number;
  /** The end of the wait (a step's timeout aborts it). */
  readonly signal?: AbortSignal;
  /** An own limit besides the signal, in ms. */
  readonly timeoutMs?: number;
  readonly clock?: Clock;
  readonly pollMs?: number;
}

export interface WaitSyncResult {
  primaryLsn: string;
  replayLsn: string;
  waitedMs: number;
}

async function replayLsn(standby: string, signal?: AbortSignal): Promise<string | null> {
  const r = await tryWithServer(
    standby,
    async (q) => (await q<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn'))[0]!.lsn,
    { timeoutMs: 5_000, signal },
  ).catch((e) => {
    if (signal?.aborted) throw e;
    return null;
  });
  return r?.value ?? null;
}

/** Resolves once the standby caught up with the primary's position at the start. */
export async function waitSync(o: WaitSyncOptions): Promise<WaitSyncResult> {
  const clock = o.clock ?? systemClock;
  const start = clock.now();
  const maxLag = o.maxLagBytes ?? 0;
  const primaryLsn = await withServer(
    o.primary,
    async (q) => (await q<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]!.lsn,
    { timeoutMs: 5_000, signal: o.signal },
  );
  let last: string | null = null;
  let reachable = true;
  const fail = () => {
    const s = pgTarget(o.standby).where;
    const where = !reachable
      ? `it cannot be reached${last ? ` (its replay LSN was last ${last}, the primary's ${primaryLsn})` : ''}`
      : `its replay LSN is ${last}, ${lsnBytes(last!, primaryLsn)} bytes behind the primary's ${primaryLsn}`;
    return new SafeholdError('IO', `the standby at ${s} did not catch up within ${clock.now() - start} ms: ${where}`, {
      retryable: true,
    });
  };
  for (;;) {
    if (o.signal?.aborted) throw fail();
    const now = await replayLsn(o.standby, o.signal).catch(() => null);
    reachable = now !== null;
    last = now ?? last;
    if (last && lsnBytes(last, primaryLsn) <= maxLag)
      return { primaryLsn, replayLsn: last, waitedMs: clock.now() - start };
    if (o.timeoutMs !== undefined && clock.now() - start >= o.timeoutMs) throw fail();
    try {
      await clock.sleep(o.pollMs ?? 100, o.signal);
    } catch {
      throw fail();
    }
  }
}
