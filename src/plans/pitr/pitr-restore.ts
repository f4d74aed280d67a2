// Point-in-time restore of a PostgreSQL cluster from the repository: the
// base backup for the target, extracted into a new or empty directory, set
// to recover from the archive (restore_command = our archive-get) up to the
// target, started on a loopback-reachable port of its own, watched through
// its log until it has promoted (or paused) at the target, and checked: a
// recovery that ran out of WAL before the target is an error, never a
// silently earlier copy. Archiving is switched off in the copy, so a
// restore never writes into the archive it reads. Nothing outside the
// target directory is created or changed.

import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { SafeholdError } from '../../core/errors.ts';
import { systemClock } from '../../core/clock.ts';
import type { Clock } from '../../core/clock.ts';
import type { Repository } from '../../repo/repository.ts';
import { openStreamSnapshot } from '../../engine/restore/stream-reader.ts';
import { restorePhysical } from '../../drivers/db/postgres-physical.ts';
import { isRunning, setAutoConf, startServer, stopServer } from '../../drivers/pg-ha/data-dir.ts';
import { analyseChain } from '../../drivers/pg-wal/wal-chain.ts';
import { segnoOfLsn, parseWalName } from '../../drivers/pg-wal/wal-names.ts';
import { archiveInventory, histories, pickCluster } from './archive-inventory.ts';
import type { BaseBackup, ClusterArchive } from './archive-inventory.ts';
import { chooseBaseBackup, describeTarget, normaliseTarget, targetSettings } from './recovery-target.ts';
import type { RecoveryTarget } from './recovery-target.ts';
import { emptyRecoveryState, readLog } from './recovery-log.ts';
import type { RecoveryState } from './recovery-log.ts';

export interface PitrRestoreOptions {
  readonly cluster?: string;
  readonly target: RecoveryTarget;
  /** The new data directory: missing or empty. */
  readonly dataDir: string;
  /** Port of the restored server (default: a free one, for the check only). */
  readonly port?: number;
  /** Leave the server running afterwards (default: stopped once the target is verified). */
  readonly start?: boolean;
  /** At the target: promote to a primary (default) or pause, still in recovery. */
  readonly action?: 'promote' | 'pause';
  /** A base backup (snapshot id or prefix) instead of the newest that fits. */
  readonly base?: string;
  /** The shell command the server runs to fetch WAL (%f, %p): our archive-get with the repository settings. */
  readonly restoreCommand: string;
  /** Variables the restore command needs (the repository password when it came from the environment). */
  readonly serverEnv?: Readonly<Record<string, string | undefined>>;
  readonly timeoutMs?: number;
  readonly clock?: Clock;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface PitrRestoreResult {
  cluster: string;
  baseBackup: { snapshot: string; stopTime: string; stopLsn: string; timeline: number };
  target: RecoveryTarget;
  /** The time of the last transaction replayed (or the stop's time), and how recovery stopped. */
  reached: { time: string | null; redoDone: string | null; how: string };
  walFetched: number;
  dataDir: string;
  port: number;
  running: boolean;
  durationMs: number;
}

const LOG_NAME = 'safehold-recovery.log';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Before anything is written: the archive must run without a gap from the base backup when the target is its end. */
async function precheck(repo: Repository, a: ClusterArchive, b: BaseBackup, t: RecoveryTarget): Promise<string | null> {
  const chain = analyseChain(a.files, a.backups, { histories: await histories(repo, a) });
  const mine = chain.backups.find((x) => x.id === b.id);
  const gap = mine?.firstGap ?? null;
  if (gap && t.kind === 'latest')
    throw new SafeholdError(
      'PRECONDITION_FAILED',
      `the archived WAL of cluster ${a.cluster} has a gap after base backup ${b.id.slice(0, 8)} (timeline ${gap.timeline}: ${gap.from}${gap.to !== gap.from ? ` to ${gap.to}` : ''} missing): a restore to the latest time would stop early at the gap`,
    );
  return gap ? `WAL is missing after base backup ${b.id.slice(0, 8)}: timeline ${gap.timeline}, ${gap.from}` : null;
}

/** Leftovers of the source server that must not come along (a standby's signal, its primary). */
async function prepareDataDir(dir: string, o: PitrRestoreOptions, t: RecoveryTarget): Promise<void> {
  for (const f of ['standby.signal', 'recovery.signal', 'postmaster.pid', 'postmaster.opts', LOG_NAME])
    await fsp.rm(path.join(dir, f), { force: true });
  const signal = path.join(dir, 'recovery.signal');
  await fsp.writeFile(signal, '', { mode: 0o600 });
  const st = await fsp.stat(path.join(dir, 'PG_VERSION'));
  if (process.getuid?.() === 0) await fsp.chown(signal, st.uid, st.gid);
  await setAutoConf(dir, {
    ...targetSettings(t),
    restore_command: o.restoreCommand,
    recovery_target_action: t.kind === 'latest' ? null : (o.action ?? 'promote'),
    recovery_target_timeline: 'latest',
    archive_mode: 'off',
    primary_conninfo: null,
    primary_slot_name: null,
    ...(o.port !== undefined ? { port: o.port } : {}),
  });
  // The server writes its log inside the directory (it must own the file).
  const log = path.join(dir, LOG_NAME);
  await fsp.writeFile(log, '', { mode: 0o600 });
  if (process.getuid?.() === 0) await fsp.chown(log, st.uid, st.gid);
}

/** Waits until the log says the server promoted (or paused) at the target, or why it stopped. */
async function watch(dir: string, o: PitrRestoreOptions, clock: Clock): Promise<RecoveryState> {
  const deadline = clock.now() + (o.timeoutMs ?? 6 * 3600_000);
  const log = path.join(dir, LOG_NAME);
  const launched = clock.now();
  let fetched = 0;
  let seenRunning = false;
  for (;;) {
    o.signal?.throwIfAborted();
    const s = readLog(await fsp.readFile(log, 'utf8').catch(() => ''));
    if (s.restored !== fetched && o.log) o.log(`recovering: ${s.restored} WAL file(s) fetched from the archive`);
    fetched = s.restored;
    if (s.ready || s.paused) return s;
    const running = await isRunning(dir);
    seenRunning ||= running;
    // pg_ctl -W returns before the postmaster has written its PID file: give it time to appear.
    const gone = !running && (seenRunning || clock.now() - launched > 15_000);
    if (s.fatal || gone) {
      // The log may still be written when the server has just exited.
      const last = readLog(await fsp.readFile(log, 'utf8').catch(() => ''));
      return { ...last, fatal: last.fatal ?? 'the server stopped during recovery' };
    }
    if (clock.now() > deadline) return { ...s, fatal: `recovery did not finish within ${o.timeoutMs} ms` };
    await clock.sleep(100, o.signal);
  }
}

function failure(s: RecoveryState, t: RecoveryTarget, gapNote: string | null, window: string): SafeholdError {
  if (/recovery ended before configured recovery target was reached/.test(s.fatal ?? ''))
    return new SafeholdError(
      'PRECONDITION_FAILED',
      `the archived WAL ends before ${describeTarget(t)}: recovery replayed up to ${s.lastTransaction ?? s.redoDone ?? 'its start'} and could not reach the target${gapNote ? ` (${gapNote})` : ''}${window}`,
    );
  return new SafeholdError('IO', `the restored server did not recover to ${describeTarget(t)}: ${s.fatal}`);
}

/** For the latest target: recovery must have reached the newest archived segment of the path it took. */
function checkReachedEnd(a: ClusterArchive, s: RecoveryState): void {
  if (!s.redoDone) return;
  let newest = -1n;
  for (const f of a.files) {
    const w = parseWalName(f);
    if (w?.kind === 'segment' && w.segno! > newest) newest = w.segno!;
  }
  if (newest >= 0n && segnoOfLsn(s.redoDone) < newest)
    throw new SafeholdError(
      'PRECONDITION_FAILED',
      `recovery stopped at ${s.redoDone}, before the newest archived WAL: a segment in between could not be read`,
    );
}

export async function pitrRestore(repo: Repository, o: PitrRestoreOptions): Promise<PitrRestoreResult> {
  const clock = o.clock ?? systemClock;
  const started = clock.now();
  const t = normaliseTarget(o.target);
  const a = pickCluster(await archiveInventory(repo), o.cluster);
  const b = chooseBaseBackup(a, t, o.base);
  const gapNote = await precheck(repo, a, b, t);
  o.log?.(`restoring base backup ${b.id.slice(0, 8)} (finished ${b.pitr.stopTime}) into ${o.dataDir}`);
  const { stream } = await openStreamSnapshot(repo, b.snapshot);
  await restorePhysical(stream, o.dataDir, { signal: o.signal });
  await prepareDataDir(o.dataDir, o, t);
  const port = o.port ?? (await freePort());
  o.log?.(`recovering to ${describeTarget(t)} on port ${port}`);
  await startServer(o.dataDir, {
    port,
    noWait: true,
    log: path.join(o.dataDir, LOG_NAME),
    settings: { lc_messages: 'C', logging_collector: 'off', log_destination: 'stderr', listen_addresses: 'localhost' },
    env: o.serverEnv,
  });
  let s: RecoveryState = emptyRecoveryState();
  let keep = false;
  try {
    s = await watch(o.dataDir, o, clock);
    if (s.fatal) throw failure(s, t, gapNote, '');
    if (t.kind !== 'latest' && !s.stopping)
      throw new SafeholdError('IO', `recovery ended without confirming that it stopped at ${describeTarget(t)}`);
    if (t.kind === 'latest') checkReachedEnd(a, s);
    keep = o.start === true;
  } finally {
    if (!keep) await stopServer(o.dataDir, s.fatal ? 'immediate' : 'fast').catch(() => {});
  }
  return {
    cluster: a.cluster,
    baseBackup: { snapshot: b.id, stopTime: b.pitr.stopTime, stopLsn: b.stopLsn, timeline: b.timeline },
    target: t,
    reached: {
      time: s.stopTime ?? s.lastTransaction,
      redoDone: s.redoDone,
      how: s.stopping ?? 'end of the archived WAL',
    },
    walFetched: s.restored,
    dataDir: o.dataDir,
    port,
    running: keep,
    durationMs: clock.now() - started,
  };
}
