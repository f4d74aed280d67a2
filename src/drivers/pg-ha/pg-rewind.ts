// Bringing an old primary back as a standby of the new one: pg_rewind when it
// can (the old server has data checksums or wal_log_hints = on, finished its
// crash recovery and still has the WAL back to the last common checkpoint;
// pg_rewind --dry-run is asked first; the new primary still has the WAL from
// that checkpoint on, primary-wal.ts), else a rebuild (the old data
// directory moved aside, a fresh pg_basebackup). A directory with no copy at
// all (missing, empty, no PG_VERSION or global/pg_control) is rebuilt.
// Either way it reports the WAL the old server wrote after the timelines
// diverged, which the new primary never had: the split-brain range that is
// thrown away. The server is left stopped, configured as a standby
// (standby-config.ts); pg-follow.ts starts it.

import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { SafeholdError } from '../../core/errors.ts';
import { controlData, finishRecovery, missingCopy, stopServer } from './data-dir.ts';
import { divergence, primaryHistory } from './timeline-history.ts';
import type { TimelineHistory } from './timeline-history.ts';
import { lsnBytes } from './lsn.ts';
import { osUserIds, pgBinDir, pgBinDirFor, runPg, runPgOrThrow } from './pg-bin.ts';
import { missingWal } from './primary-wal.ts';
import { withServer } from './pg-sql.ts';
import { configureStandby, ensureSlot } from './standby-config.ts';
import { conninfoOf, pgEnvOf, pgTarget, secretsOf } from './pg-target.ts';

export interface RewindOptions {
  readonly dataDir: string;
  /** URL or conninfo of the new primary. */
  readonly primary: string;
  readonly port?: number;
  readonly slot?: string;
  readonly signal?: AbortSignal;
}

export interface RewindResult {
  method: 'rewind' | 'rebuild';
  reason: string;
  /** Where the new timeline branched off the old server's (null when it did not). */
  discardedFromLsn: string | null;
  /** The end of the old server's WAL (its last checkpoint after a clean stop). */
  discardedToLsn: string | null;
  discardedBytes: number;
  /** Rebuild: where the old data directory was moved. */
  movedTo: string | null;
}

interface OldServer {
  timeline: number;
  end: string;
  canRewind: string | null;
}

/**
 * The end of a cleanly stopped server's WAL as its control data knows it: its
 * last checkpoint (a primary's shutdown checkpoint), or for a standby the
 * minimum recovery point when that is later than its last restartpoint.
 */
function endOfWal(cd: Map<string, string>): string {
  const checkpoint = cd.get('Latest checkpoint location') ?? '0/0';
  const minRecovery = cd.get('Minimum recovery ending location') ?? '0/0';
  return lsnBytes(checkpoint, minRecovery) > 0 ? minRecovery : checkpoint;
}

/** What the old server's control data says, after finishing its crash recovery. */
async function inspectOld(o: RewindOptions): Promise<OldServer> {
  await stopServer(o.dataDir, 'fast', { signal: o.signal });
  const recovery = await finishRecovery(o.dataDir, { signal: o.signal });
  const cd = await controlData(o.dataDir, { signal: o.signal });
  const checksums = (cd.get('Data page checksum version') ?? '0') !== '0';
  const hints = cd.get('wal_log_hints setting') === 'on';
  let canRewind: string | null = null;
  if (!checksums && !hints)
    canRewind = 'the old server has neither data checksums nor wal_log_hints = on, which pg_rewind needs';
  else if (recovery) canRewind = `the old server's crash recovery could not finish (${recovery})`;
  return {
    timeline: Number(cd.get("Latest checkpoint's TimeLineID") ?? 0),
    end: endOfWal(cd),
    canRewind,
  };
}

function rewindArgv(bin: string, o: RewindOptions, dryRun: boolean): string[] {
  const source = conninfoOf(pgTarget(o.primary), { password: false });
  const argv = [path.join(bin, 'pg_rewind'), `--target-pgdata=${o.dataDir}`, `--source-server=${source}`];
  if (dryRun) argv.push('--dry-run');
  return argv;
}

/**
 * A checkpoint on the new primary: right after a promotion its control file
 * still names the old timeline, and pg_rewind would wrongly find "no rewind
 * required".
 */
async function checkpointPrimary(o: RewindOptions): Promise<void> {
  await withServer(o.primary, (q) => q('CHECKPOINT'), { signal: o.signal, timeoutMs: 120_000 });
}

interface DryRun {
  /** Why pg_rewind cannot do it, or null. */
  problem: string | null;
  /** What pg_rewind found: 'servers diverged at WAL location X on timeline N' (X) or 'no rewind required'. */
  divergedAt: string | null;
  noRewindNeeded: boolean;
  /** Where recovery of the rewound server starts: 'rewinding from last common checkpoint at X'. */
  checkpoint: string | null;
}

/** pg_rewind --dry-run: whether it would work, and where it finds the servers diverged. */
async function dryRun(o: RewindOptions): Promise<DryRun> {
  const t = pgTarget(o.primary);
  const out = await runPg(rewindArgv(await pgBinDirFor(o.dataDir), o, true), {
    asOwnerOf: o.dataDir,
    env: { ...pgEnvOf(t), LC_ALL: 'C', LANG: 'C' },
    signal: o.signal,
  });
  const divergedAt = /servers diverged at WAL location ([0-9A-F]+\/[0-9A-F]+)/i.exec(out.stderr)?.[1] ?? null;
  const noRewindNeeded = /no rewind required/.test(out.stderr);
  const checkpoint = /last common checkpoint at ([0-9A-F]+\/[0-9A-F]+)/i.exec(out.stderr)?.[1] ?? null;
  if (out.exitCode === 0) return { problem: null, divergedAt, noRewindNeeded, checkpoint };
  const lines = out.stderr
    .trim()
    .split('\n')
    .filter((l) => !/^pg_rewind: (servers diverged|rewinding from)/.test(l));
  const why = lines.slice(-2).join(' / ') || `exit status ${out.exitCode}`;
  const problem = `pg_rewind cannot rewind it: ${secretsOf(t).reduce((s, x) => s.split(x).join('***'), why)}`;
  return { problem, divergedAt, noRewindNeeded, checkpoint };
}

async function runRewind(o: RewindOptions): Promise<void> {
  const t = pgTarget(o.primary);
  await runPgOrThrow(rewindArgv(await pgBinDirFor(o.dataDir), o, false), `pg_rewind of ${o.dataDir}`, {
    asOwnerOf: o.dataDir,
    env: pgEnvOf(t),
    signal: o.signal,
    redact: secretsOf(t),
  });
}

/**
 * Readies `abs` for pg_basebackup: a directory with anything in it is moved
 * aside (returned), a missing one created; it ends empty, mode 0700, owned
 * (when we are root) by its owner, or by the postgres OS user when root owned
 * it or it is new.
 */
async function emptyTarget(abs: string): Promise<string | null> {
  const st = await fsp.stat(abs).catch(() => null);
  let movedTo: string | null = null;
  if (st && (await fsp.readdir(abs)).length > 0) {
    movedTo = `${abs}.before-rebuild-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await fsp.rename(abs, movedTo);
  }
  await fsp.mkdir(path.dirname(abs), { recursive: true });
  await fsp.mkdir(abs, { mode: 0o700 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  await fsp.chmod(abs, 0o700);
  if (process.getuid?.() === 0) {
    const owner = st && st.uid !== 0 ? { uid: st.uid, gid: st.gid } : await osUserIds('postgres');
    await fsp.chown(abs, owner.uid, owner.gid);
  }
  return movedTo;
}

/** Takes a fresh base backup of the primary into `dataDir` (anything there moved aside first: returned). */
async function rebuild(o: RewindOptions): Promise<string | null> {
  const abs = path.resolve(o.dataDir);
  const movedTo = await emptyTarget(abs);
  const t = pgTarget(o.primary);
  if (o.slot) await ensureSlot(o.primary, o.slot, { signal: o.signal });
  const argv = [
    path.join(pgBinDir(), 'pg_basebackup'),
    `--pgdata=${abs}`,
    '--wal-method=stream',
    '--checkpoint=fast',
    '--no-password',
    `--dbname=${conninfoOf(t, { password: false, dbname: false })}`,
  ];
  if (o.slot) argv.push(`--slot=${o.slot}`);
  try {
    await runPgOrThrow(argv, `pg_basebackup from ${t.where}`, {
      asOwnerOf: abs,
      env: pgEnvOf(t),
      signal: o.signal,
      redact: secretsOf(t),
    });
  } catch (e) {
    if (movedTo) {
      await fsp.rm(abs, { recursive: true, force: true }).catch(() => {});
      await fsp.rename(movedTo, abs).catch(() => {});
    } else {
      for (const f of await fsp.readdir(abs).catch(() => []))
        await fsp.rm(path.join(abs, f), { recursive: true, force: true }).catch(() => {});
    }
    throw e;
  }
  return movedTo;
}

/** A rebuild of a data directory holding no copy of a server (`missing` says why). */
async function rebuildFromNothing(o: RewindOptions, missing: string): Promise<RewindResult> {
  const movedTo = await rebuild(o);
  await configureStandby(o.dataDir, o);
  const reason = `no existing copy (${o.dataDir} ${missing}): took a fresh base backup of ${pgTarget(o.primary).where}`;
  return { method: 'rebuild', reason, discardedFromLsn: null, discardedToLsn: null, discardedBytes: 0, movedTo };
}

/** The timeline history of the primary, or an empty one when it cannot be read (no superuser). */
async function historyOf(o: RewindOptions): Promise<TimelineHistory | null> {
  return primaryHistory(o.primary, { signal: o.signal }).catch(() => null);
}

function describeFork(h: TimelineHistory | null, old: OldServer, fork: string | null): string {
  if (!h) return `the old server is on timeline ${old.timeline} (the primary's timeline history could not be read)`;
  if (h.timeline === old.timeline) return `the old server is on the primary's timeline ${h.timeline}`;
  return fork
    ? `timeline ${h.timeline} branched off timeline ${old.timeline} at ${fork}`
    : `the primary is on timeline ${h.timeline}, the old server on timeline ${old.timeline}`;
}

/** Rewinds (or else rebuilds) the stopped old primary on `dataDir` into a standby of `primary`. */
export async function rewindOrRebuild(o: RewindOptions): Promise<RewindResult> {
  const missing = await missingCopy(o.dataDir);
  if (missing) return rebuildFromNothing(o, missing);
  const old = await inspectOld(o);
  await checkpointPrimary(o);
  const history = await historyOf(o);
  const dry = old.canRewind ? null : await dryRun(o);
  const fork = (history && divergence(history, old.timeline)) ?? dry?.divergedAt ?? null;
  const discarded = fork && lsnBytes(fork, old.end) > 0 ? { from: fork, to: old.end } : null;
  const base = {
    discardedFromLsn: discarded?.from ?? null,
    discardedToLsn: discarded?.to ?? null,
    discardedBytes: discarded ? lsnBytes(discarded.from, discarded.to) : 0,
    movedTo: null,
  };
  const forked = describeFork(history, old, fork);
  let problem = old.canRewind ?? dry?.problem ?? null;
  if (!problem && discarded && dry?.noRewindNeeded)
    problem = 'pg_rewind finds no rewind required although the timelines diverged';
  if (!problem && dry?.checkpoint && !dry.noRewindNeeded)
    problem = await missingWal(o.primary, dry.checkpoint, { signal: o.signal });
  if (!problem) {
    try {
      await runRewind(o);
      if (o.slot) await ensureSlot(o.primary, o.slot, { signal: o.signal });
      await configureStandby(o.dataDir, o);
      const how = dry?.noRewindNeeded ? 'no rewind was needed' : 'pg_rewind rewound it';
      return { ...base, method: 'rewind', reason: `${forked}; ${how}` };
    } catch (e) {
      problem = e instanceof SafeholdError ? e.message : String(e);
    }
  }
  const movedTo = await rebuild(o);
  await configureStandby(o.dataDir, o);
  return { ...base, method: 'rebuild', reason: `${forked}; ${problem}`, movedTo };
}
