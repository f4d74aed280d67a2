// Making a server a standby of a (new) primary: stop it if it runs, write
// standby.signal and primary_conninfo (standby-config.ts), create the slot on
// the primary when asked, start it and wait until it streams from the
// primary. A server whose history diverged from the primary's cannot stream:
// the wait ends with the server's own words and the advice to rewind or
// rebuild it first (pg-rewind.ts). A server asking the primary for WAL it no
// longer has ("requested WAL segment ... has already been removed" in its
// log) never catches up: the wait ends at once with the advice to rebuild.

import * as fsp from 'node:fs/promises';
import type { Clock } from '../../core/clock.ts';
import { systemClock } from '../../core/clock.ts';
import { SafeholdError } from '../../core/errors.ts';
import { isRunning, logTail, mustBeLocal, serverLog, startServer, stopServer } from './data-dir.ts';
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
/** How long after launching the server its postmaster may take to appear. */
const START_GRACE_MS = 2_000;

const TIMELINE_SQL = `SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS t`;

const RECEIVER_SQL = `SELECT r.status, r.received_tli AS timeline, pg_last_wal_replay_lsn()::text AS replay
  FROM pg_stat_wal_receiver r`;

/** The size of the server log now: what the server writes from here on is read by walRemoved. */
async function logSize(dataDir: string): Promise<number> {
  return (await fsp.stat(serverLog(dataDir)).catch(() => null))?.size ?? 0;
}

/** The server's words when its log (from byte `from`) says the primary no longer has the WAL it asks for. */
async function walRemoved(dataDir: string, from: number): Promise<string | null> {
  const fh = await fsp.open(serverLog(dataDir), 'r').catch(() => null);
  if (!fh) return null;
  try {
    const size = (await fh.stat()).size;
    if (size <= from) return null;
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(Math.min(size - from, 1 << 20)), 0, undefined, from);
    return (
      /requested WAL segment \S+ has already been removed/.exec(buffer.toString('utf8', 0, bytesRead))?.[0] ?? null
    );
  } finally {
    await fh.close();
  }
}

/** Polls the standby until its WAL receiver streams the primary's timeline. */
async function waitStreaming(
  o: FollowOptions,
  timeline: number,
  logFrom: number,
): Promise<{ timeline: number; replay: string }> {
  const clock = o.clock ?? systemClock;
  const started = clock.now();
  const deadline = started + (o.waitMs ?? 60_000);
  for (;;) {
    const r = await tryWithServer(
      o.url,
      async (q) => (await q<{ status: string; timeline: number; replay: string }>(RECEIVER_SQL))[0] ?? null,
      { timeoutMs: 5_000, signal: o.signal },
    ).catch(() => null);
    if (r?.value?.status === 'streaming' && Number(r.value.timeline) >= timeline)
      return { timeline: Number(r.value.timeline), replay: r.value.replay };
    const removed = await walRemoved(o.dataDir, logFrom);
    if (removed)
      throw new SafeholdError(
        'IO',
        `the server on ${o.dataDir} cannot stream from ${pgTarget(o.primary).where}: the primary no longer has ` +
          `the WAL it needs (${removed}); rebuild it (pg.rewind-or-rebuild takes a fresh base backup then)`,
      );
    // Launched without waiting: a server that failed to start, or stopped, is not waited for.
    if (clock.now() - started >= START_GRACE_MS && !(await isRunning(o.dataDir, { signal: o.signal }))) {
      const tail = await logTail(o.dataDir, 3);
      throw new SafeholdError(
        'IO',
        `the server on ${o.dataDir} is not running${tail ? `; its log ends: ${tail}` : ''}`,
      );
    }
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
  const logFrom = await logSize(o.dataDir);
  await startServer(o.dataDir, { port: o.port, signal: o.signal, noWait: true });
  const timeline = await withServer(o.primary, async (q) => (await q<{ t: number }>(TIMELINE_SQL))[0]!.t, {
    signal: o.signal,
  });
  const s = await waitStreaming(o, Number(timeline), logFrom);
  return { timeline: s.timeline, replayLsn: s.replay, slotCreated };
}
