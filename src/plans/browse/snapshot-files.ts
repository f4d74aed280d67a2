// The console's file browser over one snapshot of a repository destination:
// list a directory, search by name, stream one file's content, and restore a
// selection of paths. A selection is restored ONLY into a directory that is
// new or empty and lies outside every place the configuration knows as live
// (live-data.ts), whoever asks: nothing is overwritten, nothing outside the
// chosen directory is created or changed. Reads and restores hold the
// repository's shared lock.

import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Config } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import { SafeholdError, sysCode } from '../../core/errors.ts';
import { listDir, searchNames, snapshotPath } from '../../engine/walk/browse.ts';
import type { BrowseEntry } from '../../engine/walk/browse.ts';
import { nodeAt } from '../../engine/walk/tree-walk.ts';
import { contentLength, readContent } from '../../engine/dump/content-reader.ts';
import { put } from '../../engine/dump/sink.ts';
import { restore as restoreTree } from '../../engine/restore/restorer.ts';
import { realTarget } from '../../engine/restore/no-follow.ts';
import { RepoLock } from '../../repo/lock.ts';
import type { Repository } from '../../repo/repository.ts';
import { findSnapshot } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { openDestinationRepo, repositoryDestination } from '../run/destination-repo.ts';
import { knownLivePlaces, within } from '../restore/live-data.ts';

export interface BrowseContext {
  config: Config;
  clock: Clock;
}

export interface SnapshotRef {
  destination: string;
  /** Snapshot id or unique prefix. */
  snapshot: string;
}

/** Opens the destination's repository and shared lock, finds the snapshot, runs `fn`, then lets go of both. */
async function withSnapshot<T>(
  ctx: BrowseContext,
  ref: SnapshotRef,
  fn: (repo: Repository, snap: SnapshotWithId) => Promise<T>,
): Promise<T> {
  const repo = await openDestinationRepo(repositoryDestination(ctx.config, ref.destination), ctx.clock);
  try {
    const lock = await RepoLock.acquire(repo, false);
    try {
      return await fn(repo, await findSnapshot(repo, ref.snapshot));
    } finally {
      await lock.release().catch(() => {});
    }
  } finally {
    await repo.close().catch(() => {});
  }
}

/** The entries of one directory of the snapshot. */
export function browseSnapshot(
  ctx: BrowseContext,
  ref: SnapshotRef,
  dir: string,
): Promise<{ snapshot: string; path: string; items: BrowseEntry[] }> {
  return withSnapshot(ctx, ref, async (repo, snap) => ({
    snapshot: snap.id,
    path: snapshotPath(dir),
    items: await listDir(repo, snap.tree, dir),
  }));
}

/** Entries whose name contains `text` (any case), at most `limit`. */
export function searchSnapshot(
  ctx: BrowseContext,
  ref: SnapshotRef,
  text: string,
  limit: number,
): Promise<{ snapshot: string; items: BrowseEntry[]; truncated: boolean }> {
  return withSnapshot(ctx, ref, async (repo, snap) => ({
    snapshot: snap.id,
    ...(await searchNames(repo, snap.tree, text, limit)),
  }));
}

export interface FileDownload {
  snapshot: string;
  path: string;
  /** The file's base name (for Content-Disposition). */
  name: string;
  size: number;
  /** Writes the content to `out` (not ended); the repository is let go of afterwards, whatever happens. */
  writeTo(out: Writable): Promise<void>;
}

/**
 * Opens one regular file of the snapshot for download: the repository stays
 * open until `writeTo` is done (or `cancel` called). USAGE for anything but a
 * regular file; NOT_FOUND when the path is not in the snapshot.
 */
export async function openFileDownload(
  ctx: BrowseContext,
  ref: SnapshotRef,
  file: string,
): Promise<FileDownload & { cancel(): Promise<void> }> {
  const p = snapshotPath(file);
  let release: () => void = () => {};
  const held = new Promise<void>((r) => {
    release = r;
  });
  let ready: (d: FileDownload & { cancel(): Promise<void> }) => void = () => {};
  const opened = new Promise<FileDownload & { cancel(): Promise<void> }>((r) => {
    ready = r;
  });
  const done = withSnapshot(ctx, ref, async (repo, snap) => {
    const at = await nodeAt(repo, snap.tree, p);
    if (at.node.type !== 'file')
      throw new SafeholdError('USAGE', `${at.path} is a ${at.node.type}: only a regular file can be downloaded`);
    const content = at.node.content ?? [];
    const size = contentLength(repo, content);
    let written: Promise<void> | null = null;
    ready({
      snapshot: snap.id,
      path: at.path,
      name: at.node.name,
      size,
      writeTo: (out) => {
        written = (async () => {
          try {
            let n = 0;
            for await (const b of readContent(repo, content)) {
              await put(out, b);
              n += b.length;
            }
            if (n !== size)
              throw new SafeholdError('CORRUPT', `${at.path}: content is ${n} bytes, the index said ${size}`);
          } finally {
            release();
          }
        })();
        return written;
      },
      cancel: async () => {
        release();
        await done.catch(() => {});
      },
    });
    await held;
  });
  return Promise.race([opened, done.then(() => opened)]);
}

export interface SelectionRestoreRequest extends SnapshotRef {
  /** Absolute snapshot paths to restore (files or directories, with what lies below). */
  paths: readonly string[];
  /** The directory to restore into: must not exist yet, or be empty; outside live data. */
  target: string;
}

export interface SelectionRestoreResult {
  snapshot: string;
  into: string;
  paths: string[];
  files: number;
  dirs: number;
  bytes: number;
}

/**
 * The real directory a selection is restored into. Refuses a target that is
 * not absolute, lies in or holds a live place, or is not a new (its parent
 * existing) or empty directory.
 */
export function checkSelectionTarget(config: Config, target: string): string {
  if (!target.startsWith('/'))
    throw new SafeholdError('USAGE', `target must be an absolute directory, not '${target}'`);
  const root = realTarget(target);
  const live = knownLivePlaces(config).filter((k) => within(root, k.real) || within(k.real, root));
  if (live.length > 0)
    throw new SafeholdError(
      'FORBIDDEN',
      `${root} is live data (${[...new Set(live.map((k) => k.what))].join('; ')}): restore a selection into a new or empty directory elsewhere`,
    );
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch (e) {
    const code = sysCode(e);
    if (code === 'ENOENT') {
      // Only the chosen directory itself is created: its parent must be there already.
      if (!fs.statSync(path.dirname(root), { throwIfNoEntry: false })?.isDirectory())
        throw new SafeholdError(
          'RESTORE_TARGET',
          `${path.dirname(root)} does not exist: choose a new directory inside an existing one`,
        );
      return root;
    }
    if (code === 'ENOTDIR')
      throw new SafeholdError('RESTORE_TARGET', `${root} is not a directory: choose a new or empty directory`);
    throw new SafeholdError('IO', `cannot read ${root}: ${code ?? (e as Error).message}`, { cause: e });
  }
  if (names.length > 0)
    throw new SafeholdError(
      'RESTORE_TARGET',
      `${root} is not empty (${names.length} entr${names.length === 1 ? 'y' : 'ies'}): choose a new or empty directory`,
    );
  return root;
}

/** Restores the selected paths of a files snapshot under a new or empty directory outside live data. */
export async function restoreSelection(
  ctx: BrowseContext,
  req: SelectionRestoreRequest,
): Promise<SelectionRestoreResult> {
  if (req.paths.length === 0) throw new SafeholdError('USAGE', 'select at least one path to restore');
  const paths = [...new Set(req.paths.map(snapshotPath))];
  const root = checkSelectionTarget(ctx.config, req.target);
  return withSnapshot(ctx, req, async (repo, snap) => {
    for (const p of paths) await nodeAt(repo, snap.tree, p);
    // Checked again with the lock held, just before anything is written.
    checkSelectionTarget(ctx.config, root);
    const include = paths.includes('/') ? [] : paths;
    const res = await restoreTree(repo, snap.tree, { target: root, include });
    if (res.errors.length > 0) {
      const first = res.errors[0]!;
      throw new SafeholdError(
        'IO',
        `restored ${res.files} file(s) under ${root}, but ${res.errors.length} failed (first: ${first.path}: ${first.message})`,
      );
    }
    return { snapshot: snap.id, into: root, paths, files: res.files, dirs: res.dirs, bytes: res.bytes };
  });
}
