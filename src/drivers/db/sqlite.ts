// The sqlite database driver (S6, S8): the units are the database files in
// one directory whose names match a glob. A backup uses SQLite's online
// backup API (node:sqlite `backup`) in a single step, so the copy is one
// consistent snapshot even while other processes write (WAL or rollback
// journal); the copy is staged in a private temporary directory, streamed,
// then deleted. A restore writes a temporary file next to the target, syncs
// it, checks it opens and passes `PRAGMA integrity_check`, and only then
// renames it into place: a failed restore never leaves a partial file under
// the final name. The temporary file is 0600 from the start; the restored
// file keeps the mode and owner of the file it replaces (into a new name: of
// the unit's original file, else 0600).

import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { DatabaseSync, backup as sqliteBackup } from 'node:sqlite';
import type { ContentDigest, DbBackup, DbCapabilities, DbDriver, RestoreOptions } from './driver.ts';
import { SafeholdError, fromSystemError, sysCode } from '../../core/errors.ts';
import { globToRegExp } from '../../core/glob.ts';
import { sqliteDigest } from './sqlite-digest.ts';

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

export const SQLITE_FORMAT = 'sqlite-db';
/** The whole database in one backup step: one read transaction, so one consistent snapshot. */
const ALL_PAGES = 2 ** 31 - 1;
const SIDE_FILES = ['-wal', '-shm', '-journal'];
const TEMP_PREFIX = '.safehold-restore-';
/** A restored file's mode when there is no original to take it from (and the temporary file's from the start). */
const PRIVATE_MODE = 0o600;
const CAPABILITIES: DbCapabilities = Object.freeze({ online: true, quiesce: false, units: true, staging: true, physical: false, snapshotDigest: false });

export function createSqliteDriver(cfg: SqliteDriverConfig): DbDriver {
  if (!cfg.dir) throw new SafeholdError('CONFIG', `${cfg.name}: the sqlite target needs a directory`);
  const pattern = globToRegExp(cfg.files ?? '*.db');
  const stagingDir = cfg.stagingDir ?? os.tmpdir();
  const where = (unit: string) => path.join(cfg.dir, checkName(cfg.name, unit));

  async function exists(unit: string): Promise<boolean> {
    try {
      return (await fsp.stat(where(unit))).isFile();
    } catch (e) {
      if (sysCode(e) === 'ENOENT' || sysCode(e) === 'ENOTDIR') return false;
      throw ioError(cfg.name, `cannot read ${where(unit)}`, e);
    }
  }

  return {
    kind: 'sqlite',
    name: cfg.name,
    capabilities: CAPABILITIES,
    async available() {
      try {
        await fsp.access(cfg.dir, fs.constants.R_OK | fs.constants.X_OK);
        return (await fsp.stat(cfg.dir)).isDirectory();
      } catch {
        return false;
      }
    },
    async listUnits() {
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(cfg.dir, { withFileTypes: true });
      } catch (e) {
        const why = sysCode(e) === 'ENOENT' ? 'does not exist' : sysCode(e) === 'ENOTDIR' ? 'is not a directory' : 'cannot be read';
        throw new SafeholdError('IO', `${cfg.name}: the directory ${cfg.dir} ${why}`, { cause: e });
      }
      return entries.filter((d) => d.isFile() && pattern.test(d.name) && isUnitName(d.name)).map((d) => d.name).sort();
    },
    exists,
    async backup(unit: string, opts: { signal?: AbortSignal } = {}): Promise<DbBackup> {
      const file = where(unit);
      checkAborted(opts.signal, `${cfg.name}: the backup of ${unit}`);
      if (!(await exists(unit))) throw new SafeholdError('NOT_FOUND', `${cfg.name}: no database ${unit} in ${cfg.dir}`);
      const staging = await fsp.mkdtemp(path.join(stagingDir, 'safehold-sqlite-')).catch((e) => { throw ioError(cfg.name, `cannot stage the backup in ${stagingDir}`, e); });
      const copy = path.join(staging, 'backup.db');
      try {
        const db = openDb(cfg, file, unit);
        try {
          await sqliteBackup(db, copy, { rate: ALL_PAGES });
        } finally {
          db.close();
        }
        checkAborted(opts.signal, `${cfg.name}: the backup of ${unit}`);
      } catch (e) {
        await fsp.rm(staging, { recursive: true, force: true });
        throw backupError(cfg.name, unit, e);
      }
      return { stream: stagedStream(copy, staging, opts.signal, `${cfg.name}: backup of ${unit}`), format: SQLITE_FORMAT };
    },
    async restore(unit: string, input: Readable, format: string, opts: RestoreOptions = {}) {
      try {
        const target = opts.into ?? unit;
        const file = where(target);
        if (format !== SQLITE_FORMAT) throw new SafeholdError('USAGE', `${cfg.name}: cannot restore a ${format} backup with the sqlite driver (expected ${SQLITE_FORMAT})`);
        checkAborted(opts.signal, `${cfg.name}: the restore of ${target}`);
        const existed = await exists(target);
        if (existed && !opts.clean) throw new SafeholdError('RESTORE_TARGET', `${cfg.name}: database ${target} already exists in ${cfg.dir} (restore with clean to replace it)`);
        // The mode and owner to keep: the replaced file's, else (a new name) the unit's original file's.
        const like = existed ? [file] : target !== unit ? [where(unit)] : [];
        await restoreFile(cfg, input, file, target, existed, like, opts.signal);
      } catch (e) {
        input.destroy();
        throw e;
      }
    },
    async drop(unit: string) {
      const file = where(unit);
      for (const f of [file, ...SIDE_FILES.map((s) => file + s)]) {
        await fsp.rm(f, { force: true }).catch((e) => { throw ioError(cfg.name, `cannot remove ${f}`, e); });
      }
    },
    async digest(unit: string): Promise<ContentDigest> {
      if (!(await exists(unit))) throw new SafeholdError('NOT_FOUND', `${cfg.name}: no database ${unit} in ${cfg.dir}`);
      const db = openDb(cfg, where(unit), unit);
      try {
        return sqliteDigest(db);
      } catch (e) {
        throw backupError(cfg.name, unit, e);
      } finally {
        db.close();
      }
    },
  };
}

function checkAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new SafeholdError('CANCELLED', `${what} was cancelled`);
}

/** A unit name is a plain file name: no directory part, no NUL, not one of SQLite's side files or our temporaries. */
function checkName(target: string, unit: string): string {
  const bad = typeof unit !== 'string' || unit === '' || unit === '.' || unit === '..' || /[/\\\0]/.test(unit) || Buffer.byteLength(unit) > 255;
  if (bad || !isUnitName(unit)) throw new SafeholdError('USAGE', `${target}: ${JSON.stringify(unit)} is not a valid database file name`);
  return unit;
}

function isUnitName(name: string): boolean {
  return !name.startsWith(TEMP_PREFIX) && !SIDE_FILES.some((s) => name.endsWith(s));
}

/** Opens an existing database read-write (so a hot journal can be rolled back) without ever creating one. */
function openDb(cfg: SqliteDriverConfig, file: string, unit: string): DatabaseSync {
  const url = pathToFileURL(file);
  url.searchParams.set('mode', 'rw');
  try {
    return new DatabaseSync(url, { timeout: cfg.timeoutMs });
  } catch (e) {
    throw backupError(cfg.name, unit, e);
  }
}

function backupError(target: string, unit: string, e: unknown): SafeholdError {
  if (e instanceof SafeholdError) return e;
  const errcode = (e as { errcode?: number }).errcode;
  const msg = e instanceof Error ? e.message : String(e);
  if (errcode === 26) return new SafeholdError('IO', `${target}: ${unit} is not an SQLite database (${msg})`, { cause: e });
  if (errcode === 11) return new SafeholdError('IO', `${target}: ${unit} is damaged (${msg})`, { cause: e });
  if (errcode === 5 || errcode === 6) return new SafeholdError('IO', `${target}: ${unit} is locked (${msg})`, { cause: e, retryable: true });
  if (errcode !== undefined) return new SafeholdError('IO', `${target}: ${unit}: ${msg}`, { cause: e });
  return fromSystemError(e, `${target}: ${unit}`);
}

function ioError(target: string, what: string, e: unknown): SafeholdError {
  const err = fromSystemError(e, `${target}: ${what}`);
  return err.code === 'PATH_NOT_FOUND' ? new SafeholdError('IO', err.message, { cause: e }) : err;
}

/** The staged copy as a stream; the staging directory is removed when the stream closes (end, error or destroy). */
function stagedStream(copy: string, staging: string, signal: AbortSignal | undefined, what: string): Readable {
  const stream = fs.createReadStream(copy, { highWaterMark: 1 << 20 });
  const onAbort = () => stream.destroy(new SafeholdError('CANCELLED', `${what} was cancelled`));
  signal?.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => {
    signal?.removeEventListener('abort', onAbort);
    void fsp.rm(staging, { recursive: true, force: true }).catch(() => {});
  });
  return stream;
}

/**
 * Writes the stream to a temporary file (0600 from the start) in the target's
 * directory, checks it, gives it the mode and owner of the first existing
 * file of `like` (else keeps 0600), then moves it to `file`.
 */
async function restoreFile(cfg: SqliteDriverConfig, input: Readable, file: string, target: string, replace: boolean, like: readonly string[], signal: AbortSignal | undefined): Promise<void> {
  const temp = path.join(path.dirname(file), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}.tmp`);
  try {
    try {
      await pipeline(input, fs.createWriteStream(temp, { flags: 'wx', flush: true, mode: PRIVATE_MODE }), { signal });
    } catch (e) {
      if (signal?.aborted) throw new SafeholdError('CANCELLED', `${cfg.name}: the restore of ${target} was cancelled`, { cause: e });
      throw e instanceof SafeholdError ? e : ioError(cfg.name, `writing ${temp}`, e);
    }
    verifyCopy(cfg, temp, target);
    await takeAttributes(cfg, temp, await fileAttributes(cfg, like));
    if (replace) {
      // Stale WAL or journal files of the old database would be applied to the new one: remove them first.
      for (const s of SIDE_FILES) await fsp.rm(file + s, { force: true });
      await fsp.rename(temp, file);
    } else {
      // link() refuses an existing name, so a file created meanwhile is never overwritten.
      await fsp.link(temp, file).catch((e) => {
        if (sysCode(e) === 'EEXIST') throw new SafeholdError('RESTORE_TARGET', `${cfg.name}: database ${target} appeared in ${cfg.dir} during the restore`);
        throw ioError(cfg.name, `cannot create ${file}`, e);
      });
    }
    await syncDir(path.dirname(file));
  } finally {
    for (const f of [temp, ...SIDE_FILES.map((s) => temp + s)]) await fsp.rm(f, { force: true }).catch(() => {});
  }
}

interface FileAttributes {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** The permission bits and owner of the first of `files` that exists, or null. */
async function fileAttributes(cfg: SqliteDriverConfig, files: readonly string[]): Promise<FileAttributes | null> {
  for (const f of files) {
    try {
      const st = await fsp.stat(f);
      if (st.isFile()) return { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
    } catch (e) {
      if (sysCode(e) !== 'ENOENT' && sysCode(e) !== 'ENOTDIR') throw ioError(cfg.name, `cannot read ${f}`, e);
    }
  }
  return null;
}

/**
 * Gives the restored copy `attrs` (null: 0600 and our own owner). The owner is
 * changed only when it differs; without the right to (not root), the copy
 * stays ours, with the mode still applied.
 */
async function takeAttributes(cfg: SqliteDriverConfig, temp: string, attrs: FileAttributes | null): Promise<void> {
  try {
    if (attrs !== null) {
      const st = await fsp.stat(temp);
      if (st.uid !== attrs.uid || st.gid !== attrs.gid) {
        await fsp.chown(temp, attrs.uid, attrs.gid).catch((e) => { if (sysCode(e) !== 'EPERM') throw e; });
      }
    }
    // After chown, which may clear set-id bits; also undoes a umask stricter than 0600's.
    await fsp.chmod(temp, attrs?.mode ?? PRIVATE_MODE);
  } catch (e) {
    throw ioError(cfg.name, `cannot set the mode and owner of ${temp}`, e);
  }
}

/** The restored copy must open as a database and pass the full integrity check. */
function verifyCopy(cfg: SqliteDriverConfig, temp: string, target: string): void {
  let problem: string;
  try {
    const db = new DatabaseSync(temp, { timeout: cfg.timeoutMs });
    try {
      const rows = db.prepare('PRAGMA integrity_check').all() as Array<Record<string, unknown>>;
      const lines = rows.map((r) => String(Object.values(r)[0]));
      if (lines.length === 1 && lines[0] === 'ok') return;
      problem = `it fails the integrity check: ${lines.slice(0, 3).join('; ')}`;
    } finally {
      db.close();
    }
  } catch (e) {
    const errcode = (e as { errcode?: number }).errcode;
    problem = errcode === 26 ? 'it is not an SQLite database' : `it cannot be read: ${e instanceof Error ? e.message : String(e)}`;
  }
  throw new SafeholdError('CORRUPT', `${cfg.name}: the backup restored into ${target} is damaged (${problem}); nothing was changed`);
}

async function syncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r').catch(() => null);
  if (!fh) return;
  try {
    await fh.sync().catch(() => {});
  } finally {
    await fh.close();
  }
}
