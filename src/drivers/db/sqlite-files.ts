// The database files of the sqlite driver: its settings, which file names are
// units (plain names in the target's directory, never SQLite's side files
// -wal, -shm, -journal or the driver's own restore temporaries), opening an
// existing database without ever creating one, and SQLite and file-system
// failures as SafeholdErrors.

import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { DatabaseSync } from 'node:sqlite';
import { SafeholdError, fromSystemError } from '../../core/errors.ts';

export interface SqliteDriverConfig {
  /** The target name, for messages. */
  readonly name: string;
  /** The directory holding the database files. */
  readonly dir: string;
  /** Glob of the file names that are units (default '*.db'). */
  readonly files?: string;
  /** How long to wait for a lock held by another connection (SQLite busy timeout). */
  readonly timeoutMs: number;
  /** Where backups are staged before they are streamed (default: the OS temporary directory). */
  readonly stagingDir?: string;
}

/** The files SQLite keeps next to a database (write-ahead log, its index, rollback journal). */
export const SIDE_FILES = ['-wal', '-shm', '-journal'];
/** The name prefix of a restore's temporary file. */
export const TEMP_PREFIX = '.safehold-restore-';

/** The path of a unit's file. */
export function unitFile(cfg: SqliteDriverConfig, unit: string): string {
  return path.join(cfg.dir, checkName(cfg.name, unit));
}

/** A database file with its side files. */
export function withSideFiles(file: string): string[] {
  return [file, ...SIDE_FILES.map((s) => file + s)];
}

export function isUnitName(name: string): boolean {
  return !name.startsWith(TEMP_PREFIX) && !SIDE_FILES.some((s) => name.endsWith(s));
}

/** A unit name is a plain file name: no directory part, no NUL, not one of SQLite's side files or our temporaries. */
function checkName(target: string, unit: string): string {
  const bad =
    typeof unit !== 'string' ||
    unit === '' ||
    unit === '.' ||
    unit === '..' ||
    /[/\\\0]/.test(unit) ||
    Buffer.byteLength(unit) > 255;
  if (bad || !isUnitName(unit)) {
    throw new SafeholdError('USAGE', `${target}: ${JSON.stringify(unit)} is not a valid database file name`);
  }
  return unit;
}

/** Opens an existing database read-write (so a hot journal can be rolled back) without ever creating one. */
export function openDb(cfg: SqliteDriverConfig, file: string, unit: string): DatabaseSync {
  const url = pathToFileURL(file);
  url.searchParams.set('mode', 'rw');
  try {
    return new DatabaseSync(url, { timeout: cfg.timeoutMs });
  } catch (e) {
    throw backupError(cfg.name, unit, e);
  }
}

/** A failure reading a unit: not a database, damaged, locked (retryable), or the file system's. */
export function backupError(target: string, unit: string, e: unknown): SafeholdError {
  if (e instanceof SafeholdError) return e;
  const errcode = (e as { errcode?: number }).errcode;
  const msg = e instanceof Error ? e.message : String(e);
  if (errcode === 26) {
    return new SafeholdError('IO', `${target}: ${unit} is not an SQLite database (${msg})`, { cause: e });
  }
  if (errcode === 11) return new SafeholdError('IO', `${target}: ${unit} is damaged (${msg})`, { cause: e });
  if (errcode === 5 || errcode === 6) {
    return new SafeholdError('IO', `${target}: ${unit} is locked (${msg})`, { cause: e, retryable: true });
  }
  if (errcode !== undefined) return new SafeholdError('IO', `${target}: ${unit}: ${msg}`, { cause: e });
  return fromSystemError(e, `${target}: ${unit}`);
}

/** A file-system failure as IO (a missing file too: the target's directory is expected to be there). */
export function ioError(target: string, what: string, e: unknown): SafeholdError {
  const err = fromSystemError(e, `${target}: ${what}`);
  return err.code === 'PATH_NOT_FOUND' ? new SafeholdError('IO', err.message, { cause: e }) : err;
}
