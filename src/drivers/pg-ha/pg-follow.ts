// Making a server a standby of a (new) primary: stop it if it runs, write
// standby.signal and primary_conninfo (standby-config.ts), create the slot on
// the primary when asked, start it and wait until it streams from the
// primary. A server whose history diverged from the primary's cannot stream:
// the wait ends with the server's own words and the advice to rewind or
// rebuild it first (pg-rewind.ts).

import type { Clock } from '../../core/clock.ts';
import { systemClock } from '../../core/clock.ts';
import { SafeholdError } from '../../core/errors.ts';
import { logTail, mustBeLocal, startServer, stopServer } from './data-dir.ts';
import { tryWithServer, withServer } from './pg-sql.ts';
import { configureStandby, ensureSlot } from './standby-config.ts';
import { pgTarget } from './pg-target.ts';

export interface FollowOptions {
  /** The server to turn into a standby (to watch it stream). */
  readonly url: string;
  readonly dataDir: string;
  /** URL or conninfo of the new primary. */
  readonly primary: string;
  readonly slot?: string;
  readonly port?: number;
  readonly signal?: AbortSignal;
  readonly clock?: Clock;
  /** How long to wait for streaming (default 60 s). */
  readonly waitMs?: number;
}

export interface FollowResult {
  timeline: number;
  replayLsn: string;
  slotCreated: boolean;
}

const POLL_MS = 200;

const TIMELINE_SQL = `SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS t`;

const RECEIVER_SQL = `SELECT r.status, r.received_tli AS timeline, pg_last_wal_replay_lsn()::text AS replay
  FROM pg_stat_wal_receiver r`;

/** Polls the standby until its WAL receiver streams the primary's timeline. */
async function waitStreaming(o: FollowOptions, timeline: number): Promise<{ timeline: number; replay: string }> {
  const clock = o.clock ?? systemClock;
  const deadline = clock.now() + (o.waitMs ?? 60_000);
  for (;;) {
    const r = await tryWithServer(
      o.url,
      async (q) => (await q<{ status: string; timeline: number; replay: string }>(RECEIVER_SQL))[0] ?? null,
      { timeoutMs: 5_000, signal: o.signal },
    ).catch(() => null);
    if (r?.value?.status === 'streaming' && Number(r.value.timeline) >= timeline)
      return { timeline: Number(r.value.timeline), replay: r.value.replay };
    if (clock.now() >= deadline) {
      const tail = await logTail(o.dataDir, 3);
      throw new SafeholdError(
        'IO',
        `the server on ${o.dataDir} did not start streaming from ${pgTarget(o.primary).where} within ` +
          `${Math.round((o.waitMs ?? 60_000) / 1000)} s (its history may have diverged: rewind or rebuild it first)` +
          (tail ? `; its log ends: ${tail}` : ''),
        { retryable: true },
      );
    }
    await clock.sleep(POLL_MS, o.signal);
  }
}

/** Turns the server on `dataDir` into a streaming standby of `primary`. */
export async function follow(o: FollowOptions): Promise<FollowResult> {
  await mustBeLocal(o.dataDir);
  await stopServer(o.dataDir, 'fast', { signal: o.signal });
  const slotCreated = o.slot ? await ensureSlot(o.primary, o.slot, { signal: o.signal }) : false;
  await configureStandby(o.dataDir, { primary: o.primary, slot: o.slot, port: o.port });
  await startServer(o.dataDir, { port: o.port, signal: o.signal });
  const timeline = await withServer(o.primary, async (q) => (await q<{ t: number }>(TIMELINE_SQL))[0]!.t, {
    signal: o.signal,
  });
  const s = await waitStreaming(o, Number(timeline));
  return { timeline: s.timeline, replayLsn: s.replay, slotCreated };
}
