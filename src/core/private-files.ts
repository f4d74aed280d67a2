// Directories and files only their owner may read, whatever the umask:
// Safehold's data directory (0700) and the catalog database with its WAL
// files (0600) hold password hashes, tokens and run logs. What we create gets
// exactly that mode; an existing one that group or others may use loses those
// bits (its owner's bits stay), so an installation made under a looser umask
// is tightened on its next start. An entry owned by another user we cannot
// chmod is left as it is.

import fs from 'node:fs';
import { sysCode } from './errors.ts';

export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

/** Creates `dir` (and missing parents) 0700, or takes group and other access away from an existing one. */
export function ensurePrivateDir(dir: string): void {
  const created = fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (created !== undefined) fs.chmodSync(dir, PRIVATE_DIR_MODE);
  else tightenIfExists(dir);
}

/** Creates `file` empty with mode 0600 when missing (never replacing one), or tightens an existing one. */
export function ensurePrivateFile(file: string): void {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, PRIVATE_FILE_MODE);
  } catch (e) {
    if (sysCode(e) !== 'EEXIST') throw e;
    tightenIfExists(file);
    return;
  }
  try {
    fs.fchmodSync(fd, PRIVATE_FILE_MODE);
  } finally {
    fs.closeSync(fd);
  }
}

/** Removes group and other permissions from `p` if it exists and has any; false when it does not exist. */
export function tightenIfExists(p: string): boolean {
  let mode: number;
  try {
    mode = fs.statSync(p).mode;
  } catch (e) {
    if (sysCode(e) === 'ENOENT') return false;
    throw e;
  }
  if ((mode & 0o077) === 0) return true;
  try {
    fs.chmodSync(p, mode & 0o7700);
  } catch (e) {
    // Someone else's file (and we are not root): it stays as its owner made it.
    if (sysCode(e) !== 'EPERM') throw e;
  }
  return true;
}
