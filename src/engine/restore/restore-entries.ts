// The restorer's steps on the file system, run on the main thread while it
// has nothing else to do (before and after the workers write file contents):
// synchronous calls avoid a thread-pool round trip for each of tens of
// thousands of entries. Nothing here follows a symlink or leaves the target.

import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { TreeNode } from '../../repo/tree.ts';
import { snapshotPathProblem } from '../../repo/snapshot.ts';
import { SafeholdError, fromSystemError, sysCode } from '../../core/errors.ts';
import type { PlannedNode } from './restore-plan.ts';
import { applyMeta, removeInside } from './no-follow.ts';

export async function prepareTarget(target: string): Promise<void> {
  try {
    const st = await fs.promises.stat(target);
    if (!st.isDirectory())
      throw new SafeholdError('RESTORE_TARGET', `restore target ${target} exists and is not a directory`);
  } catch (e) {
    if (sysCode(e) !== 'ENOENT') throw e instanceof SafeholdError ? e : fromSystemError(e, `restore target ${target}`);
    await fs.promises.mkdir(target, { recursive: true, mode: 0o700 }).catch((err) => {
      throw fromSystemError(err, `creating restore target ${target}`);
    });
  }
}

/** Removes one snapshot path under the target before the restore writes (never the target itself). */
export function cleanPath(target: string, p: string): void {
  const problem = snapshotPathProblem(p);
  if (problem) throw new SafeholdError('UNSAFE_PATH', `refusing to clean ${JSON.stringify(p)}: it ${problem}`);
  if (p === '/')
    throw new SafeholdError(
      'USAGE',
      `refusing to clean the whole target ${target}: the snapshot is of '/'; restore into an empty directory instead`,
    );
  removeInside(target, p);
}

/**
 * Creates a directory, refusing to go through a symlink or replace a
 * non-directory silently. Returns whether it was created.
 */
export function makeDir(dest: string, target: string): boolean {
  try {
    const st = fs.lstatSync(dest);
    if (st.isDirectory()) return false;
    if (st.isSymbolicLink())
      throw new SafeholdError(
        'UNSAFE_PATH',
        `refusing to restore into ${dest}: it is a symlink (it could lead outside ${target})`,
      );
    fs.unlinkSync(dest);
  } catch (e) {
    if (e instanceof SafeholdError) throw e;
    if (sysCode(e) !== 'ENOENT') throw fromSystemError(e, `restoring ${dest}`);
  }
  try {
    fs.mkdirSync(dest, { mode: 0o700 });
  } catch (e) {
    throw fromSystemError(e, `creating ${dest}`);
  }
  return true;
}

/** Removes whatever is at `dest` (never following a link), then creates the new entry. */
export function replace(dest: string, make: () => void): void {
  try {
    make();
  } catch (e) {
    if (sysCode(e) !== 'EEXIST') throw fromSystemError(e, `restoring ${dest}`);
    try {
      if (fs.lstatSync(dest).isDirectory()) fs.rmSync(dest, { recursive: true });
      else fs.unlinkSync(dest);
      make();
    } catch (err) {
      throw fromSystemError(err, `restoring ${dest}`);
    }
  }
}

const CREATE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

export function createFile(dest: string, size: number): void {
  replace(dest, () => {
    const fd = fs.openSync(dest, CREATE_FLAGS, 0o600);
    try {
      if (size > 0) fs.ftruncateSync(fd, size);
    } finally {
      fs.closeSync(fd);
    }
  });
}

export function makeSpecial(s: PlannedNode): void {
  if (s.node.type === 'fifo') {
    replace(s.dest, () => {
      execFileSync('mkfifo', ['-m', '600', s.dest], { stdio: 'ignore' });
    });
    return;
  }
  throw new SafeholdError('IO', `${s.node.type} entries are not restored (only files, directories, links and fifos)`);
}

export function finishNode(dest: string, node: TreeNode, owner: boolean): void {
  try {
    const type = node.type === 'dir' || node.type === 'symlink' || node.type === 'fifo' ? node.type : 'file';
    applyMeta(dest, { type, mode: node.mode, uid: node.uid, gid: node.gid, mtime: nsToSeconds(node.mtime) }, owner);
  } catch (e) {
    throw fromSystemError(e, `setting metadata of ${dest}`);
  }
}

export function nsToSeconds(ns: string): number {
  const b = BigInt(ns);
  return Number(b / 1_000_000_000n) + Number(b % 1_000_000_000n) / 1e9;
}
