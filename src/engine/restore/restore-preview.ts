// What a restore (restorer.ts) of some paths of a snapshot under a target
// would do, worked out without writing anything: the entries it writes, how
// many of them exist now (replaced), and what exists now under the paths it
// cleans first but not in the snapshot (removed). Read only: the live
// entries are listed with lstat and readdir, never following a symlink, and
// a cleaned path whose parents are not real directories is not looked into
// (the restore itself refuses to clean it).

import fs from 'node:fs';
import path from 'node:path';
import type { Repository } from '../../repo/repository.ts';
import { existsNoFollow, realTarget } from './no-follow.ts';
import { planRestore } from './restore-plan.ts';

export interface RestorePreview {
  /** The entries (directories, files, links) the snapshot writes under the target. */
  writes: number;
  /** Of those, the ones that exist now: replaced. */
  replaces: number;
  /** The top-most entries that exist now under the cleaned paths but not in the snapshot (a directory ends in '/'), the first `limit`. */
  deletes: string[];
  /** Every entry those remove, counted down into directories. */
  deleteCount: number;
}

export interface PreviewOptions {
  target: string;
  include?: string[];
  /** The snapshot paths the restore removes under the target before writing. */
  clean?: readonly string[];
  /** How many removed entries to list (default 100). */
  limit?: number;
}

export async function previewRestore(repo: Repository, rootTree: string, o: PreviewOptions): Promise<RestorePreview> {
  const target = realTarget(o.target);
  await repo.loadIndex();
  const plan = await planRestore(repo, rootTree, target, o.include ?? []);
  const written = [...plan.dirs, ...plan.files, ...plan.symlinks, ...plan.special].filter((n) => !n.ancestor);
  const planned = new Set(written.map((n) => n.dest));
  const out: RestorePreview = {
    writes: written.length,
    replaces: written.filter((n) => existsNoFollow(n.dest)).length,
    deletes: [],
    deleteCount: 0,
  };
  const limit = o.limit ?? 100;
  for (const p of o.clean ?? []) {
    const start = path.join(target, p);
    if (!realDirsAbove(target, start)) continue;
    removedUnder(start, planned, out, limit);
  }
  return out;
}

/** Whether every directory between `target` and `p` is a real directory (not a symlink). */
function realDirsAbove(target: string, p: string): boolean {
  for (let d = path.dirname(p); d.length > target.length && d.startsWith(target); d = path.dirname(d)) {
    const st = lstatOrNull(d);
    if (st && !st.isDirectory()) return false;
  }
  return true;
}

/** Adds what exists at `p` but not in `planned` to `out`; walks down real directories the snapshot has too. */
function removedUnder(p: string, planned: Set<string>, out: RestorePreview, limit: number): void {
  const st = lstatOrNull(p);
  if (!st) return;
  if (!planned.has(p)) {
    if (out.deletes.length < limit) out.deletes.push(st.isDirectory() ? `${p}/` : p);
    out.deleteCount += countEntries(p, st);
    return;
  }
  if (!st.isDirectory()) return;
  for (const name of readdirOrEmpty(p)) removedUnder(path.join(p, name), planned, out, limit);
}

function countEntries(p: string, st: fs.Stats): number {
  if (!st.isDirectory()) return 1;
  let n = 1;
  for (const name of readdirOrEmpty(p)) {
    const child = lstatOrNull(path.join(p, name));
    if (child) n += countEntries(path.join(p, name), child);
  }
  return n;
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch {
    return null;
  }
}

function readdirOrEmpty(p: string): string[] {
  try {
    return fs.readdirSync(p).sort();
  } catch {
    return [];
  }
}
