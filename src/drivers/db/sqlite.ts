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
// the unit's original file, else 0600): sqlite-restore.ts. File names and
// errors are in sqlite-files.ts, the digest in sqlite-digest.ts.

import { probe } from '../availability.ts';
import type { Availability } from '../availability.ts';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { backup as sqliteBackup } from 'node:sqlite';
import { SafeholdError, fromSystemError, sysCode } from '../../core/errors.ts';
import { globToRegExp } from '../../core/glob.ts';
import type { BackupOptions, ContentDigest, DbBackup, DbCapabilities, DbDriver, RestoreOptions } from './driver.ts';
import { cancelled, checkAborted } from './driver.ts';
import { sqliteDigest } from './sqlite-digest.ts';
import type { SqliteDriverConfig } from './sqlite-files.ts';
import { backupError, ioError, isUnitName, openDb, unitFile, withSideFiles } from './sqlite-files.ts';
import { restoreFile } from './sqlite-restore.ts';
import { noMatch } from '../no-match.ts';

export type { SqliteDriverConfig } from './sqlite-files.ts';

export const SQLITE_FORMAT = 'sqlite-db';
/** The whole database in one backup step: one read transaction, so one consistent snapshot. */
const ALL_PAGES = 2 ** 31 - 1;
const CAPABILITIES: DbCapabilities = Object.freeze({
  online: true,
  quiesce: false,
  units: true,
  staging: true,
  physical: false,
  snapshotDigest: false,
});

export function createSqliteDriver(cfg: SqliteDriverConfig): DbDriver {
  if (!cfg.dir) throw new SafeholdError('CONFIG', `${cfg.name}: the sqlite target needs a directory`);
  const pattern = globToRegExp(cfg.files ?? '*.db');
  const stagingDir = cfg.stagingDir ?? os.tmpdir();
  return {
    kind: 'sqlite',
    name: cfg.name,
    capabilities: CAPABILITIES,
    available: () => available(cfg),
    listUnits: () => listUnits(cfg, cfg.files ?? '*.db', pattern),
    exists: (unit) => exists(cfg, unit),
    backup: (unit, opts) => backup(cfg, stagingDir, unit, opts),
    restore: (unit, input, format, opts) => restore(cfg, unit, input, format, opts),
    drop: (unit) => drop(cfg, unit),
    digest: (unit) => digest(cfg, unit),
  };
}

function available(cfg: SqliteDriverConfig): Promise<Availability> {
  return probe(async () => {
    try {
      await fsp.access(cfg.dir, fs.constants.R_OK | fs.constants.X_OK);
    } catch (e) {
      throw fromSystemError(e, `${cfg.name}: database directory ${cfg.dir}`);
    }
    if (!(await fsp.stat(cfg.dir)).isDirectory()) throw new Error(`${cfg.name}: ${cfg.dir} is not a directory`);
  });
}

async function listUnits(cfg: SqliteDriverConfig, glob: string, pattern: RegExp): Promise<string[]> {
  const entries = await readDir(cfg);
  const files = entries
    .filter((d) => d.isFile() && isUnitName(d.name))
    .map((d) => d.name)
    .sort();
  const units = files.filter((f) => pattern.test(f));
  // A glob matching no file fails the listing: an empty target is not backed up as if all were well.
  if (units.length === 0) throw noMatch('file', cfg.name, glob, files, [], ` in ${cfg.dir}`);
  return units;
}

async function readDir(cfg: SqliteDriverConfig): Promise<fs.Dirent[]> {
  try {
    return await fsp.readdir(cfg.dir, { withFileTypes: true });
  } catch (e) {
    const code = sysCode(e);
    const why = code === 'ENOENT' ? 'does not exist' : code === 'ENOTDIR' ? 'is not a directory' : 'cannot be read';
    throw new SafeholdError('IO', `${cfg.name}: the directory ${cfg.dir} ${why}`, { cause: e });
  }
}

async function exists(cfg: SqliteDriverConfig, unit: string): Promise<boolean> {
  const file = unitFile(cfg, unit);
  try {
    return (await fsp.stat(file)).isFile();
  } catch (e) {
    if (sysCode(e) === 'ENOENT' || sysCode(e) === 'ENOTDIR') return false;
    throw ioError(cfg.name, `cannot read ${file}`, e);
  }
}

async function backup(
  cfg: SqliteDriverConfig,
  stagingDir: string,
  unit: string,
  opts: BackupOptions = {},
): Promise<DbBackup> {
  const file = unitFile(cfg, unit);
  checkAborted(opts.signal, `${cfg.name}: the backup of ${unit}`);
  if (!(await exists(cfg, unit))) throw notFound(cfg, unit);
  const staging = await makeStaging(cfg, stagingDir);
  const copy = path.join(staging, 'backup.db');
  try {
    await copyDatabase(cfg, file, unit, copy);
    checkAborted(opts.signal, `${cfg.name}: the backup of ${unit}`);
  } catch (e) {
    await fsp.rm(staging, { recursive: true, force: true });
    throw backupError(cfg.name, unit, e);
  }
  return { stream: stagedStream(copy, staging, opts.signal, `${cfg.name}: backup of ${unit}`), format: SQLITE_FORMAT };
}

/** A new private directory in `stagingDir` for one backup's copy. */
async function makeStaging(cfg: SqliteDriverConfig, stagingDir: string): Promise<string> {
  return fsp.mkdtemp(path.join(stagingDir, 'safehold-sqlite-')).catch((e) => {
    throw ioError(cfg.name, `cannot stage the backup in ${stagingDir}`, e);
  });
}

/** SQLite's online backup of `file` into `copy`, in one step: one consistent snapshot. */
async function copyDatabase(cfg: SqliteDriverConfig, file: string, unit: string, copy: string): Promise<void> {
  const db = openDb(cfg, file, unit);
  try {
    await sqliteBackup(db, copy, { rate: ALL_PAGES });
  } finally {
    db.close();
  }
}

/** The staged copy as a stream; the staging directory is removed when the stream closes (end, error or destroy). */
function stagedStream(copy: string, staging: string, signal: AbortSignal | undefined, what: string): Readable {
  const stream = fs.createReadStream(copy, { highWaterMark: 1 << 20 });
  const onAbort = () => stream.destroy(cancelled(what));
  signal?.addEventListener('abort', onAbort, { once: true });
  stream.once('close', () => {
    signal?.removeEventListener('abort', onAbort);
    void fsp.rm(staging, { recursive: true, force: true }).catch(() => {});
  });
  return stream;
}

async function restore(
  cfg: SqliteDriverConfig,
  unit: string,
  input: Readable,
  format: string,
  opts: RestoreOptions = {},
): Promise<void> {
  try {
    await restoreUnit(cfg, unit, input, format, opts);
  } catch (e) {
    input.destroy();
    throw e;
  }
}

/** Checks the format and the target, then restores the file (keeping the mode and owner it should have). */
async function restoreUnit(
  cfg: SqliteDriverConfig,
  unit: string,
  input: Readable,
  format: string,
  opts: RestoreOptions,
): Promise<void> {
  const target = opts.into ?? unit;
  const file = unitFile(cfg, target);
  if (format !== SQLITE_FORMAT) {
    const why = `cannot restore a ${format} backup with the sqlite driver (expected ${SQLITE_FORMAT})`;
    throw new SafeholdError('USAGE', `${cfg.name}: ${why}`);
  }
  checkAborted(opts.signal, `${cfg.name}: the restore of ${target}`);
  const existed = await exists(cfg, target);
  if (existed && !opts.clean) {
    const why = `database ${target} already exists in ${cfg.dir} (restore with clean to replace it)`;
    throw new SafeholdError('RESTORE_TARGET', `${cfg.name}: ${why}`);
  }
  // The mode and owner to keep: the replaced file's, else (a new name) the unit's original file's.
  const like = existed ? [file] : target !== unit ? [unitFile(cfg, unit)] : [];
  await restoreFile(cfg, input, { file, target, replace: existed, like }, opts.signal);
}

async function drop(cfg: SqliteDriverConfig, unit: string): Promise<void> {
  for (const f of withSideFiles(unitFile(cfg, unit))) {
    await fsp.rm(f, { force: true }).catch((e) => {
      throw ioError(cfg.name, `cannot remove ${f}`, e);
    });
  }
}

async function digest(cfg: SqliteDriverConfig, unit: string): Promise<ContentDigest> {
  if (!(await exists(cfg, unit))) throw notFound(cfg, unit);
  const db = openDb(cfg, unitFile(cfg, unit), unit);
  try {
    return sqliteDigest(db);
  } catch (e) {
    throw backupError(cfg.name, unit, e);
  } finally {
    db.close();
  }
}

function notFound(cfg: SqliteDriverConfig, unit: string): SafeholdError {
  return new SafeholdError('NOT_FOUND', `${cfg.name}: no database ${unit} in ${cfg.dir}`);
}
