// Fencing an old primary so that it refuses writes: stopped ('stop', when
// its data directory is on this machine) or made read-only (ALTER SYSTEM
// default_transaction_read_only, reload, and every other client session
// ended so none keeps writing). A server that cannot be reached is reported
// as not fenced ('unreachable'): whether it is really down is for the
// runbook to judge. With a local data directory whose postmaster is not
// running (its PID gone, or a zombie right after kill -9, which pg_ctl
// would take for alive and wait on) it is the same answer at once, the
// detail saying it is not running: nothing was done that keeps it down (a
// crashed server may be restarted by its service manager).

import * as fs from 'node:fs';
import { isLocalDataDir, isRunning, postmasterState, stopServer } from './data-dir.ts';
import { tryWithServer } from './pg-sql.ts';
import type { Query, SqlOptions } from './pg-sql.ts';

export interface FenceOptions extends SqlOptions {
  readonly dataDir?: string;
  /** 'stop' (default) falls back to read-only when the data directory is not on this machine. */
  readonly mode?: 'stop' | 'read-only';
}

export interface FenceResult {
  fenced: boolean;
  how: 'stopped' | 'read-only' | 'unreachable';
  /** The last WAL position before fencing, when the server was reachable. */
  lsn: string | null;
  /** What was found and done, in words. */
  detail: string;
}

const LSN_SQL = `SELECT pg_is_in_recovery() AS standby,
  (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn`;

async function makeReadOnly(q: Query): Promise<void> {
  await q('ALTER SYSTEM SET default_transaction_read_only = on');
  await q('SELECT pg_reload_conf()');
  // The reload reaches every backend asynchronously; sessions already open could still write, so end them.
  await q(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
      WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
  );
}

/** Words for a local data directory whose postmaster is not running. */
async function notRunning(dataDir: string): Promise<string> {
  const pm = await postmasterState(dataDir);
  const why =
    pm.state === 'dead'
      ? `its postmaster, PID ${pm.pid}, ${fs.existsSync(`/proc/${pm.pid}`) ? 'died and is a zombie not yet reaped' : 'is gone'}`
      : 'no postmaster.pid';
  return `the server cannot be reached and is not running on ${dataDir} (${why}): nothing to stop`;
}

/** Makes the server at `url` refuse writes. */
export async function fence(url: string, o: FenceOptions = {}): Promise<FenceResult> {
  const local = o.dataDir ? await isLocalDataDir(o.dataDir) : false;
  const stop = (o.mode ?? 'stop') === 'stop' && local;
  const seen = await tryWithServer(
    url,
    async (q) => {
      const r = (await q<{ standby: boolean; lsn: string | null }>(LSN_SQL))[0]!;
      if (!stop && !r.standby) await makeReadOnly(q);
      return r;
    },
    { timeoutMs: 5_000, ...o },
  );
  if (stop && (seen || (await isRunning(o.dataDir!, o)))) {
    await stopServer(o.dataDir!, 'fast', o);
    return { fenced: true, how: 'stopped', lsn: seen?.value.lsn ?? null, detail: `stopped the server on ${o.dataDir}` };
  }
  if (!seen && stop) return { fenced: false, how: 'unreachable', lsn: null, detail: await notRunning(o.dataDir!) };
  if (!seen) return { fenced: false, how: 'unreachable', lsn: null, detail: 'the server cannot be reached' };
  const detail = seen.value.standby
    ? 'the server is a standby (in recovery): it already refuses writes'
    : 'set default_transaction_read_only = on, reloaded, ended the other client sessions';
  return { fenced: true, how: 'read-only', lsn: seen.value.lsn, detail };
}
