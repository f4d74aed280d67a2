// The restore of ONE snapshot of a unit (no group hooks): a files snapshot
// is recreated under a directory, a database dump is restored through its
// target's driver into a database name. Whether that overwrites live data
// is decided on the real places and databases it writes (live-data.ts):
// only a caller allowed to may do it, and then the current state is saved
// first (a safety backup into the same repository). The repository's shared
// lock is held throughout.

import type { Config } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import { SafeholdError } from '../../core/errors.ts';
import { restore as restoreTree } from '../../engine/restore/restorer.ts';
import { realTarget } from '../../engine/restore/no-follow.ts';
import { openStreamSnapshot } from '../../engine/restore/stream-reader.ts';
import { openDestinationRepo, repositoryDestination } from '../run/destination-repo.ts';
import { RepoLock } from '../../repo/lock.ts';
import type { Repository } from '../../repo/repository.ts';
import { findSnapshot } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { originOf } from '../../repo/snapshot-tags.ts';
import { databaseLiveHits, filesLiveHits, requireLiveAllowed, writtenPlaces } from './live-data.ts';
import type { LiveHit } from './live-data.ts';
import { safetyBackup } from './safety-backup.ts';
import type { SafetyItem } from './safety-backup.ts';
import { buildTargets } from '../../drivers/target/targets.ts';

export interface UnitRestoreRequest {
  /** The repository destination holding the snapshot. */
  destination: string;
  /** Snapshot id or unique prefix. */
  snapshot: string;
  /** Dumps: the database (unit) name to restore into; default the original. */
  into?: string;
  /** Files: the absolute directory the snapshot's paths are recreated under. */
  target?: string;
  /** Files: remove the snapshot's paths under target first; dumps: replace an existing database. */
  clean: boolean;
}

export interface UnitRestoreResult {
  snapshot: string;
  kind: 'files' | 'database';
  /** The real directory (files) or database name (dumps) restored into. */
  into: string;
  target: string | null;
  unit: string | null;
  /** Whether live data was overwritten (then `safety` names the snapshot of what was there). */
  inPlace: boolean;
  overLiveData: LiveHit[];
  safety: string | null;
  files?: number;
  bytes?: number;
}

interface UnitRestoreContext {
  config: Config;
  clock: Clock;
  /** Whether this caller may overwrite live data (an admin, or the local CLI). */
  allowLive: boolean;
}

/** Opens the destination's repository, takes its shared lock, and restores the one snapshot. */
export async function restoreUnit(ctx: UnitRestoreContext, req: UnitRestoreRequest): Promise<UnitRestoreResult> {
  const dest = repositoryDestination(ctx.config, req.destination);
  const repo = await openDestinationRepo(dest, ctx.clock);
  try {
    const lock = await RepoLock.acquire(repo, false);
    try {
      const snap = await findSnapshot(repo, req.snapshot);
      return snap.kind === 'stream'
        ? await restoreDump(ctx, repo, snap, req)
        : await restoreFiles(ctx, repo, snap, req);
    } finally {
      await lock.release().catch(() => {});
    }
  } finally {
    await repo.close().catch(() => {});
  }
}

/** Saves what a restore allowed over live data would overwrite (nothing to do without hits). */
async function saveLive(repo: Repository, hits: LiveHit[], item: SafetyItem): Promise<string | null> {
  if (hits.length === 0) return null;
  const saved = await safetyBackup(repo, [item], null, () => {});
  return saved?.snapshots[0] ?? null;
}

async function restoreFiles(
  ctx: UnitRestoreContext,
  repo: Repository,
  snap: SnapshotWithId,
  req: UnitRestoreRequest,
): Promise<UnitRestoreResult> {
  if (req.target === undefined)
    throw new SafeholdError('USAGE', `snapshot ${snap.id.slice(0, 8)} is a files snapshot: give target (a directory)`);
  if (req.into !== undefined)
    throw new SafeholdError('USAGE', 'into is for database dumps; a files snapshot is restored under target');
  if (!req.target.startsWith('/'))
    throw new SafeholdError('USAGE', `target must be an absolute directory, not '${req.target}'`);
  const root = realTarget(req.target);
  const whole = snap.paths.includes('/');
  const places = writtenPlaces(root, snap.paths);
  const hits = filesLiveHits(ctx.config, places);
  const { target: targetName, unit } = originOf(snap);
  const item: SafetyItem = { kind: 'files', target: targetName ?? 'files', unit, paths: places };
  requireLiveAllowed(hits, {
    allowLive: ctx.allowLive,
    safetyBackup: true,
    what: `restoring snapshot ${snap.id.slice(0, 8)} under ${root}`,
  });
  const safety = await saveLive(repo, hits, item);
  // Only the snapshot's own paths are written (and, with clean, removed first): never the rest of the target.
  const include = whole ? [] : snap.paths;
  const res = await restoreTree(repo, snap.tree, { target: root, include, clean: req.clean ? include : [] });
  if (res.errors.length > 0) {
    const first = res.errors[0]!;
    throw new SafeholdError(
      'IO',
      `restored ${res.files} file(s) under ${root}, but ${res.errors.length} failed (first: ${first.path}: ${first.message})`,
    );
  }
  return {
    snapshot: snap.id,
    kind: 'files',
    into: root,
    target: targetName,
    unit,
    inPlace: hits.length > 0,
    overLiveData: hits,
    safety,
    files: res.files,
    bytes: res.bytes,
  };
}

async function restoreDump(
  ctx: UnitRestoreContext,
  repo: Repository,
  snap: SnapshotWithId,
  req: UnitRestoreRequest,
): Promise<UnitRestoreResult> {
  const format = snap.meta?.format;
  if (!format)
    throw new SafeholdError(
      'USAGE',
      `snapshot ${snap.id.slice(0, 8)} is a stream without a dump format (a command or device backup): it cannot be restored into a database`,
    );
  if (format === 'pg_basebackup-tar')
    throw new SafeholdError(
      'USAGE',
      `snapshot ${snap.id.slice(0, 8)} is a physical backup: restore it with the group restore (filesTo)`,
    );
  if (req.target !== undefined)
    throw new SafeholdError(
      'USAGE',
      'target is for files snapshots; a database dump is restored with into (a database name)',
    );
  const { target: targetName, unit } = originOf(snap);
  if (targetName === null || unit === null)
    throw new SafeholdError(
      'USAGE',
      `snapshot ${snap.id.slice(0, 8)} has no target: and unit: tags: it was not made by a plan`,
    );
  const target = buildTargets(ctx.config).find((t) => t.name === targetName);
  if (!target)
    throw new SafeholdError(
      'CONFIG',
      `snapshot ${snap.id.slice(0, 8)} is of target '${targetName}', which is not configured`,
    );
  if (!target.db) throw new SafeholdError('CONFIG', `${targetName} is not a database target`);
  const into = req.into ?? unit;
  const hits = await databaseLiveHits(target, into);
  requireLiveAllowed(hits, {
    allowLive: ctx.allowLive,
    safetyBackup: true,
    what: `restoring snapshot ${snap.id.slice(0, 8)} into database ${into}`,
  });
  if (hits.length > 0 && !req.clean)
    throw new SafeholdError(
      'RESTORE_TARGET',
      `database ${into} of ${targetName} exists already: restore with clean to replace it`,
    );
  const safety = await saveLive(repo, hits, { kind: 'database', target, unit, into });
  const { stream, size } = await openStreamSnapshot(repo, snap);
  try {
    await target.db.restore(unit, stream, format, { into, clean: req.clean });
  } catch (e) {
    stream.destroy();
    throw e;
  }
  return {
    snapshot: snap.id,
    kind: 'database',
    into,
    target: targetName,
    unit,
    inPlace: hits.length > 0,
    overLiveData: hits,
    safety,
    bytes: size,
  };
}
