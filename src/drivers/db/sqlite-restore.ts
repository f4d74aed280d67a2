// Restoring a database file for the sqlite driver: the backup is written to a
// temporary file next to the target (0600 from the start), synced, checked
// (it must open and pass `PRAGMA integrity_check`), given the mode and owner
// of the file it replaces (or of the unit's original file, else kept 0600),
// and only then moved to the final name: a failed restore never leaves a
// partial file there. A new name is created with link(), so a file created
// meanwhile is never overwritten.

import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DatabaseSync } from 'node:sqlite';
import { SafeholdError, sysCode } from '../../core/errors.ts';
import { cancelled } from './driver.ts';
import type { SqliteDriverConfig } from './sqlite-files.ts';
import { SIDE_FILES, TEMP_PREFIX, ioError, withSideFiles } from './sqlite-files.ts';

/** A restored file's mode when there is no original to take it from (and the temporary file's from the start). */
const PRIVATE_MODE = 0o600;

/** Where a restore goes. */
export interface RestorePlan {
  /** The final path. */
  readonly file: string;
  /** The unit name restored into, for messages. */
  readonly target: string;
  /** Whether `file` exists and is replaced (else it is created). */
  readonly replace: boolean;
  /** Files whose mode and owner the restored file takes: the first that exists. */
  readonly like: readonly string[];
}

interface FileAttributes {
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/**
 * Writes the stream to a temporary file (0600 from the start) in the target's
 * directory, checks it, gives it the mode and owner of the first existing
 * file of `plan.like` (else keeps 0600), then moves it to `plan.file`.
 */
export async function restoreFile(
  cfg: SqliteDriverConfig,
  input: Readable,
  plan: RestorePlan,
  signal: AbortSignal | undefined,
): Promise<void> {
  const temp = path.join(path.dirname(plan.file), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeTemp(cfg, input, temp, plan.target, signal);
    verifyCopy(cfg, temp, plan.target);
    await takeAttributes(cfg, temp, await fileAttributes(cfg, plan.like));
    await moveIntoPlace(cfg, temp, plan);
    await syncDir(path.dirname(plan.file));
  } finally {
    for (const f of withSideFiles(temp)) await fsp.rm(f, { force: true }).catch(() => {});
  }
}

async function writeTemp(
  cfg: SqliteDriverConfig,
  input: Readable,
  temp: string,
  target: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    await pipeline(input, fs.createWriteStream(temp, { flags: 'wx', flush: true, mode: PRIVATE_MODE }), { signal });
  } catch (e) {
    if (signal?.aborted) throw cancelled(`${cfg.name}: the restore of ${target}`, e);
    throw e instanceof SafeholdError ? e : ioError(cfg.name, `writing ${temp}`, e);
  }
}

/** The restored copy must open as a database and pass the full integrity check. */
function verifyCopy(cfg: SqliteDriverConfig, temp: string, target: string): void {
  let problem: string;
  try {
    problem = integrityProblem(cfg, temp);
    if (problem === '') return;
  } catch (e) {
    const errcode = (e as { errcode?: number }).errcode;
    const msg = e instanceof Error ? e.message : String(e);
    problem = errcode === 26 ? 'it is not an SQLite database' : `it cannot be read: ${msg}`;
  }
  const why = `the backup restored into ${target} is damaged (${problem}); nothing was changed`;
  throw new SafeholdError('CORRUPT', `${cfg.name}: ${why}`);
}

/** What `PRAGMA integrity_check` finds wrong with the database `file` ('' when it is fine). */
function integrityProblem(cfg: SqliteDriverConfig, file: string): string {
  const db = new DatabaseSync(file, { timeout: cfg.timeoutMs });
  try {
    const rows = db.prepare('PRAGMA integrity_check').all() as Array<Record<string, unknown>>;
    const lines = rows.map((r) => String(Object.values(r)[0]));
    if (lines.length === 1 && lines[0] === 'ok') return '';
    return `it fails the integrity check: ${lines.slice(0, 3).join('; ')}`;
  } finally {
    db.close();
  }
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
    if (attrs !== null) await takeOwner(temp, attrs);
    // After chown, which may clear set-id bits; also undoes a umask stricter than 0600's.
    await fsp.chmod(temp, attrs?.mode ?? PRIVATE_MODE);
  } catch (e) {
    throw ioError(cfg.name, `cannot set the mode and owner of ${temp}`, e);
  }
}

async function takeOwner(temp: string, attrs: FileAttributes): Promise<void> {
  const st = await fsp.stat(temp);
  if (st.uid === attrs.uid && st.gid === attrs.gid) return;
  await fsp.chown(temp, attrs.uid, attrs.gid).catch((e) => {
    if (sysCode(e) !== 'EPERM') throw e;
  });
}

/** Renames the checked copy over the replaced file, or links it to the new name. */
async function moveIntoPlace(cfg: SqliteDriverConfig, temp: string, plan: RestorePlan): Promise<void> {
  if (plan.replace) {
    // Stale WAL or journal files of the old database would be applied to the new one: remove them first.
    for (const s of SIDE_FILES) await fsp.rm(plan.file + s, { force: true });
    await fsp.rename(temp, plan.file);
    return;
  }
  // link() refuses an existing name, so a file created meanwhile is never overwritten.
  await fsp.link(temp, plan.file).catch((e) => {
    if (sysCode(e) === 'EEXIST') {
      const why = `database ${plan.target} appeared in ${cfg.dir} during the restore`;
      throw new SafeholdError('RESTORE_TARGET', `${cfg.name}: ${why}`);
    }
    throw ioError(cfg.name, `cannot create ${plan.file}`, e);
  });
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
