// File system calls for restores that never follow a symlink: whatever a
// snapshot or an archive contains, and whatever already lies in the restore
// target, nothing outside the target is created, changed or deleted.
//  - applyMeta: owner, mode and times set through a descriptor opened with
//    O_NOFOLLOW (lchown/lutimes for symlinks themselves);
//  - removeInside: deletes an entry below a root, refusing a path whose
//    parents are not real directories;
//  - realTarget: the real path a restore target stands for, resolved once.

import fs from 'node:fs';
import path from 'node:path';
import { SafeholdError, fromSystemError, sysCode } from '../../core/errors.ts';

export type MetaType = 'file' | 'dir' | 'symlink' | 'fifo';

export interface EntryMeta {
  type: MetaType;
  mode: number;
  uid: number;
  gid: number;
  /** Modification (and access) time, seconds since the epoch. */
  mtime: number;
}

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_DIRECTORY } = fs.constants;

/** Sets owner (when `owner`), mode and times of `dest` without following a link. */
export function applyMeta(dest: string, m: EntryMeta, owner: boolean): void {
  if (m.type === 'symlink') {
    if (owner) fs.lchownSync(dest, m.uid, m.gid);
    fs.lutimesSync(dest, m.mtime, m.mtime);
    return;
  }
  // O_NONBLOCK: opening a fifo for reading must not wait for a writer.
  const flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | (m.type === 'dir' ? O_DIRECTORY : 0);
  let fd: number;
  try {
    fd = fs.openSync(dest, flags);
  } catch (e) {
    const code = sysCode(e);
    if (code === 'ELOOP' || code === 'ENOTDIR') throw notThere(dest, m.type);
    throw e;
  }
  try {
    if (!sameType(fs.fstatSync(fd), m.type)) throw notThere(dest, m.type);
    if (owner) fs.fchownSync(fd, m.uid, m.gid);
    fs.fchmodSync(fd, m.mode);
    fs.futimesSync(fd, m.mtime, m.mtime);
  } finally {
    fs.closeSync(fd);
  }
}

function sameType(st: fs.Stats, type: MetaType): boolean {
  if (type === 'dir') return st.isDirectory();
  if (type === 'fifo') return st.isFIFO();
  return st.isFile();
}

function notThere(dest: string, type: MetaType): SafeholdError {
  return new SafeholdError(
    'UNSAFE_PATH',
    `refusing to set the attributes of ${dest}: it is no longer the ${type} restored there (a symlink or another entry took its place)`,
  );
}

/**
 * Removes `rel` (a normalised absolute snapshot path, not '/') below `root`
 * if it exists: a directory with everything in it, or a file or link itself.
 * Refuses when a parent on the way is a symlink or not a directory.
 */
export function removeInside(root: string, rel: string): void {
  const parts = rel.split('/').filter((c) => c !== '');
  if (parts.length === 0 || parts.some((c) => c === '.' || c === '..')) {
    throw new SafeholdError(
      'UNSAFE_PATH',
      `refusing to remove ${JSON.stringify(rel)} under ${root}: only a path strictly inside the target can be removed`,
    );
  }
  let dir = root;
  for (const part of parts.slice(0, -1)) {
    dir = path.join(dir, part);
    const st = lstatOrNull(dir);
    if (!st) return;
    if (!st.isDirectory()) {
      throw new SafeholdError(
        'UNSAFE_PATH',
        `refusing to remove ${rel} under ${root}: ${dir} is ${st.isSymbolicLink() ? 'a symlink' : 'not a directory'}`,
      );
    }
  }
  const dest = path.join(dir, parts.at(-1)!);
  try {
    fs.rmSync(dest, { recursive: true, force: true });
  } catch (e) {
    throw fromSystemError(e, `removing ${dest}`);
  }
}

/**
 * Whether anything (a dangling symlink too) is at `p`. Only ENOENT/ENOTDIR
 * mean nothing is there: a place that cannot be looked at counts as taken.
 */
export function existsNoFollow(p: string): boolean {
  try {
    fs.lstatSync(p);
    return true;
  } catch (e) {
    const code = sysCode(e);
    return code !== 'ENOENT' && code !== 'ENOTDIR';
  }
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if (sysCode(e) === 'ENOENT') return null;
    throw fromSystemError(e, `reading ${p}`);
  }
}

/**
 * The real path `p` stands for: symlinks in its existing part resolved
 * (`/proc/self/root` is `/`), the part that does not exist yet appended.
 */
export function realTarget(p: string): string {
  const abs = path.resolve(p);
  const rest: string[] = [];
  let cur = abs;
  for (;;) {
    try {
      return path.join(fs.realpathSync(cur), ...rest.reverse());
    } catch (e) {
      if (sysCode(e) !== 'ENOENT' && sysCode(e) !== 'ENOTDIR') throw fromSystemError(e, `resolving ${p}`);
      if (lstatOrNull(cur)?.isSymbolicLink()) {
        throw new SafeholdError('RESTORE_TARGET', `${p}: ${cur} is a symlink to a place that does not exist`);
      }
      const parent = path.dirname(cur);
      if (parent === cur) return abs;
      rest.push(path.basename(cur));
      cur = parent;
    }
  }
}
