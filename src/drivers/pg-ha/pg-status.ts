// The replication state of one server: primary or standby, its timeline, its
// WAL positions, how far a standby's replay is behind (bytes and seconds), the
// time of the last replayed transaction and whether replay is paused. An
// unreachable server is an answer (reachable: false), never an error.

import { lsnBytes } from './lsn.ts';
import { tryWithServer } from './pg-sql.ts';
import type { Query, SqlOptions } from './pg-sql.ts';

export interface PgStatus {
  reachable: boolean;
  role: 'primary' | 'standby' | null;
  timeline: number | null;
  /** Current write LSN on a primary, replay LSN on a standby. */
  lsn: string | null;
  receiveLsn: string | null;
  replayLsn: string | null;
  /** Standby: WAL received or known to be sent but not yet replayed; primary: 0. */
  lagBytes: number | null;
  /** Standby: age of the last replayed transaction while replay is behind, else 0; primary: 0. */
  lagSeconds: number | null;
  lastReplayAt: string | null;
  paused: boolean | null;
  /** Primary: standbys streaming from it, and the largest replay lag among them in bytes. */
  standbys: number | null;
  maxStandbyLagBytes: number | null;
}

export const UNREACHABLE: PgStatus = Object.freeze({
  reachable: false,
  role: null,
  timeline: null,
  lsn: null,
  receiveLsn: null,
  replayLsn: null,
  lagBytes: null,
  lagSeconds: null,
  lastReplayAt: null,
  paused: null,
  standbys: null,
  maxStandbyLagBytes: null,
});

/** The timeline of a WAL position on a primary: the first 8 hex digits of its segment's file name. */
const PRIMARY_SQL = `SELECT pg_current_wal_lsn()::text AS lsn,
  ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS timeline,
  (SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming')::int AS standbys,
  (SELECT coalesce(max(pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)), 0)::bigint
     FROM pg_stat_replication)::text AS max_lag`;

const STANDBY_SQL = `SELECT pg_last_wal_receive_lsn()::text AS receive, pg_last_wal_replay_lsn()::text AS replay,
  (SELECT latest_end_lsn::text FROM pg_stat_wal_receiver) AS sent,
  coalesce((SELECT received_tli FROM pg_stat_wal_receiver), (SELECT timeline_id FROM pg_control_checkpoint())) AS timeline,
  pg_last_xact_replay_timestamp() AS last_replay,
  extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS age,
  pg_get_wal_replay_pause_state() <> 'not paused' AS paused`;

async function primaryStatus(q: Query): Promise<PgStatus> {
  const r = (await q<{ lsn: string; timeline: number; standbys: number; max_lag: string }>(PRIMARY_SQL))[0]!;
  return {
    ...UNREACHABLE,
    reachable: true,
    role: 'primary',
    timeline: r.timeline,
    lsn: r.lsn,
    lagBytes: 0,
    lagSeconds: 0,
    paused: false,
    standbys: r.standbys,
    maxStandbyLagBytes: Number(r.max_lag),
  };
}

interface StandbyRow {
  receive: string | null;
  replay: string | null;
  sent: string | null;
  timeline: number;
  last_replay: Date | null;
  age: number | null;
  paused: boolean;
}

async function standbyStatus(q: Query): Promise<PgStatus> {
  const r = (await q<StandbyRow>(STANDBY_SQL))[0]!;
  const ahead = [r.receive, r.sent].filter((x): x is string => !!x);
  const lagBytes = r.replay ? Math.max(0, ...ahead.map((x) => lsnBytes(r.replay!, x))) : null;
  return {
    ...UNREACHABLE,
    reachable: true,
    role: 'standby',
    timeline: Number(r.timeline),
    lsn: r.replay,
    receiveLsn: r.receive,
    replayLsn: r.replay,
    lagBytes,
    lagSeconds: lagBytes === 0 || r.age === null ? 0 : Math.max(0, Math.round(r.age * 1000) / 1000),
    lastReplayAt: r.last_replay ? r.last_replay.toISOString() : null,
    paused: r.paused,
  };
}

/** The state of the server at `url`; { reachable: false, ... null } when it cannot be reached. */
export async function status(url: string, o: SqlOptions = {}): Promise<PgStatus> {
  const r = await tryWithServer(
    url,
    async (q) => {
      const [{ standby }] = (await q<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby')) as [
        { standby: boolean },
      ];
      return standby ? standbyStatus(q) : primaryStatus(q);
    },
    { timeoutMs: 5_000, ...o },
  );
  return r ? r.value : { ...UNREACHABLE };
}
