// Generations of a plain-file backup in a directory destination (SPEC S2):
// the newest complete backup has a fixed name, older ones are kept as
// `<name>.old`, `<name>.1`, `<name>.2`, … or `<name>.<UTC timestamp>`. A write
// in progress lives under a temporary name, is fsynced, and only then renamed,
// so a final name never points at a partial file. Only closed generations are
// listed and copied away. See docs/generations.md.

import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { systemClock } from '../../core/clock.ts';
import type { Clock } from '../../core/clock.ts';
import { SafeholdError, fromSystemError, sysCode } from '../../core/errors.ts';

export type GenerationNaming = 'old' | 'numbered' | 'timestamped';

export interface GenerationScheme {
  /** Directory holding the generations (created when missing). */
  dir: string;
  /** The fixed name of the newest generation, e.g. `cvp_backup_data`. */
  name: string;
  /** How many generations to keep, the newest included. 'old' requires 2. */
  keep: number;
  naming: GenerationNaming;
}

export interface ClosedGeneration {
  /** Absolute path. */
  file: string;
  size: number;
  /** Modification time, milliseconds since the epoch. */
  mtime: number;
}

export interface WrittenGeneration {
  file: string;
  size: number;
  sha256: string;
}

const TMP_MARK = '.tmp-';
const TS_RE = /^\d{8}T\d{6}Z$/;
const NUM_RE = /^[1-9]\d*$/;

/** Checks a scheme and throws CONFIG when it cannot be used. */
export function validateScheme(s: GenerationScheme): void {
  const n = s.name;
  if (typeof n !== 'string' || n === '' || n.includes('/') || n.includes('\0') || /^\.*$/.test(n)) {
    throw new SafeholdError('CONFIG', `invalid generation name ${JSON.stringify(n)}: it must be a plain file name`);
  }
  if (!Number.isInteger(s.keep) || s.keep < 1)
    throw new SafeholdError('CONFIG', `generations: keep must be an integer ≥ 1, got ${s.keep}`);
  if (s.naming === 'old') {
    if (s.keep !== 2)
      throw new SafeholdError(
        'CONFIG',
        `generations: naming 'old' keeps exactly 2 (<name> and <name>.old), got keep ${s.keep}`,
      );
  } else if (s.naming !== 'numbered' && s.naming !== 'timestamped') {
    throw new SafeholdError('CONFIG', `generations: unknown naming ${JSON.stringify(s.naming)}`);
  }
}

/** `yyyymmddThhmmssZ` in UTC. */
export function generationTimestamp(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

function tmpPrefix(s: GenerationScheme): string {
  return `.${s.name}${TMP_MARK}`;
}

function tmpPath(s: GenerationScheme): string {
  return path.join(s.dir, `${tmpPrefix(s)}${process.pid}-${randomBytes(6).toString('hex')}`);
}

/** The rank of a final name (0 = newest for 'old'/'numbered'; the timestamp for 'timestamped'), or undefined. */
function classify(s: GenerationScheme, entry: string): { rank: number; key: string } | undefined {
  if (s.naming === 'timestamped') {
    if (!entry.startsWith(`${s.name}.`)) return undefined;
    const ts = entry.slice(s.name.length + 1);
    return TS_RE.test(ts) ? { rank: 0, key: ts } : undefined;
  }
  if (entry === s.name) return { rank: 0, key: '' };
  if (!entry.startsWith(`${s.name}.`)) return undefined;
  const suffix = entry.slice(s.name.length + 1);
  if (s.naming === 'old') return suffix === 'old' ? { rank: 1, key: suffix } : undefined;
  return NUM_RE.test(suffix) ? { rank: Number(suffix), key: suffix } : undefined;
}

function numberedName(s: GenerationScheme, i: number): string {
  if (i === 0) return s.name;
  return s.naming === 'old' ? `${s.name}.old` : `${s.name}.${i}`;
}

/** Closed generations, newest first. Never lists temporaries nor, for 'timestamped', the `<name>` alias. */
export function closedGenerations(s: GenerationScheme): ClosedGeneration[] {
  validateScheme(s);
  let entries: string[];
  try {
    entries = fs.readdirSync(s.dir);
  } catch (e) {
    if (sysCode(e) === 'ENOENT') return [];
    throw fromSystemError(e, `listing ${s.dir}`);
  }
  const found: { c: { rank: number; key: string }; g: ClosedGeneration }[] = [];
  for (const entry of entries) {
    const c = classify(s, entry);
    if (!c) continue;
    const file = path.join(s.dir, entry);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(file);
    } catch (e) {
      if (sysCode(e) === 'ENOENT') continue; // rotated away while listing
      throw fromSystemError(e, `reading ${file}`);
    }
    if (!st.isFile()) continue;
    found.push({ c, g: { file, size: st.size, mtime: st.mtimeMs } });
  }
  if (s.naming === 'timestamped') found.sort((a, b) => (a.c.key < b.c.key ? 1 : a.c.key > b.c.key ? -1 : 0));
  else found.sort((a, b) => a.c.rank - b.c.rank);
  return found.map((f) => f.g);
}

async function fsyncDir(dir: string): Promise<void> {
  const h = await fsp.open(dir, 'r');
  try {
    await h.sync();
  } catch (e) {
    if (sysCode(e) !== 'EINVAL') throw e; // some file systems cannot fsync a directory
  } finally {
    await h.close();
  }
}

async function statOrUndefined(p: string): Promise<fs.Stats | undefined> {
  try {
    return await fsp.lstat(p);
  } catch (e) {
    if (sysCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

/** Writes `data` to a temporary file next to `dest`, fsyncs it; returns size and sha256. Removes the temporary on failure. */
async function writeTemp(
  tmp: string,
  data: Readable | AsyncIterable<Uint8Array | string>,
  signal?: AbortSignal,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  const h = await fsp.open(tmp, 'wx', 0o600);
  try {
    for await (const chunk of data) {
      if (signal?.aborted) throw new SafeholdError('CANCELLED', 'generation write cancelled', { cause: signal.reason });
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      let off = 0;
      while (off < buf.byteLength) {
        const { bytesWritten } = await h.write(buf, off, buf.byteLength - off);
        off += bytesWritten;
      }
      hash.update(buf);
      size += buf.byteLength;
    }
    if (signal?.aborted) throw new SafeholdError('CANCELLED', 'generation write cancelled', { cause: signal.reason });
    await h.sync();
  } catch (e) {
    await h.close().catch(() => {});
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw e;
  }
  await h.close();
  return { size, sha256: hash.digest('hex') };
}

/** Moves the current generations one step older ('old' / 'numbered'); the newest stays reachable under `<name>`. */
async function shiftNumbered(s: GenerationScheme): Promise<void> {
  const dir = s.dir;
  const newest = path.join(dir, s.name);
  const newestSt = await statOrUndefined(newest);
  if (!newestSt || s.keep === 1) return;
  const second = path.join(dir, numberedName(s, 1));
  const secondSt = await statOrUndefined(second);
  // An earlier rotation was killed after linking <name> as <name>.1: the shift is already done.
  if (secondSt && secondSt.ino === newestSt.ino && secondSt.dev === newestSt.dev) return;
  for (let i = s.keep - 1; i >= 2; i--) {
    try {
      await fsp.rename(path.join(dir, numberedName(s, i - 1)), path.join(dir, numberedName(s, i)));
    } catch (e) {
      if (sysCode(e) !== 'ENOENT') throw e; // a gap left by an earlier crash
    }
  }
  // <name> → <name>.1 by hard link + rename, so that <name> never disappears.
  const link = tmpPath(s);
  await fsp.link(newest, link);
  try {
    await fsp.rename(link, second);
  } catch (e) {
    await fsp.rm(link, { force: true }).catch(() => {});
    throw e;
  }
}

/** Drops numbered generations at or beyond `keep` (left from a larger keep). */
async function dropExtraNumbered(s: GenerationScheme): Promise<void> {
  if (s.naming !== 'numbered') return;
  for (const entry of await fsp.readdir(s.dir)) {
    const c = classify(s, entry);
    if (c && c.rank >= s.keep) await fsp.rm(path.join(s.dir, entry), { force: true });
  }
}

/**
 * Writes a new generation: temporary file, fsync, rotation, rename to the final
 * name, fsync of the directory. On any failure the temporary is removed and no
 * final name points at partial data. The caller holds the scope's lock: two
 * writers of one scheme must not run at once.
 */
export async function writeGeneration(
  s: GenerationScheme,
  data: Readable | AsyncIterable<Uint8Array | string>,
  opts: { clock?: Clock; signal?: AbortSignal } = {},
): Promise<WrittenGeneration> {
  validateScheme(s);
  const clock = opts.clock ?? systemClock;
  try {
    await fsp.mkdir(s.dir, { recursive: true });
  } catch (e) {
    throw fromSystemError(e, `creating ${s.dir}`);
  }
  let finalName = s.name;
  if (s.naming === 'timestamped') {
    const ts = generationTimestamp(clock.now());
    finalName = `${s.name}.${ts}`;
    const newest = closedGenerations(s)[0];
    if (newest && path.basename(newest.file) >= finalName) {
      throw new SafeholdError(
        'IO',
        `generation ${finalName} is not newer than ${path.basename(newest.file)} (clock behind or two writes in one second)`,
        { retryable: true },
      );
    }
  }
  const tmp = tmpPath(s);
  let written: { size: number; sha256: string };
  try {
    written = await writeTemp(tmp, data, opts.signal);
  } catch (e) {
    throw sysCode(e) ? fromSystemError(e, `writing generation ${finalName} in ${s.dir}`) : e;
  }
  const file = path.join(s.dir, finalName);
  try {
    if (s.naming === 'timestamped') {
      await fsp.rename(tmp, file);
      // The newest is also reachable as <name>: a hard link, swapped in atomically.
      const link = tmpPath(s);
      await fsp.link(file, link);
      await fsp.rename(link, path.join(s.dir, s.name)).catch(async (e: unknown) => {
        await fsp.rm(link, { force: true }).catch(() => {});
        throw e;
      });
      const all = closedGenerations(s);
      for (const g of all.slice(s.keep)) await fsp.rm(g.file, { force: true });
    } else {
      await shiftNumbered(s);
      await fsp.rename(tmp, file);
      await dropExtraNumbered(s);
    }
    await fsyncDir(s.dir);
  } catch (e) {
    await fsp.rm(tmp, { force: true }).catch(() => {});
    throw fromSystemError(e, `rotating generations of ${finalName} in ${s.dir}`);
  }
  return { file, size: written.size, sha256: written.sha256 };
}

/** Removes temporaries left by killed writers; returns the removed paths. Call it under the scope's lock only. */
export async function cleanTemporaries(s: GenerationScheme): Promise<string[]> {
  validateScheme(s);
  let entries: string[];
  try {
    entries = await fsp.readdir(s.dir);
  } catch (e) {
    if (sysCode(e) === 'ENOENT') return [];
    throw fromSystemError(e, `listing ${s.dir}`);
  }
  const removed: string[] = [];
  const prefix = tmpPrefix(s);
  for (const entry of entries) {
    if (!entry.startsWith(prefix)) continue;
    const p = path.join(s.dir, entry);
    await fsp.rm(p, { force: true });
    removed.push(p);
  }
  if (removed.length > 0) await fsyncDir(s.dir);
  return removed.sort();
}

async function sha256File(file: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).byteLength;
  }
  return { size, sha256: hash.digest('hex') };
}

/**
 * Copies the closed generations of `s` into `targetDir` under the same names,
 * skipping those already there with the same size and sha256. Each copy goes
 * through a temporary name, is fsynced, re-read and verified, then renamed.
 */
export async function copyClosedGenerations(
  s: GenerationScheme,
  targetDir: string,
): Promise<{ copied: string[]; skipped: string[] }> {
  const gens = closedGenerations(s);
  await fsp.mkdir(targetDir, { recursive: true });
  const copied: string[] = [];
  const skipped: string[] = [];
  const target: GenerationScheme = { ...s, dir: targetDir };
  for (const g of gens) {
    const base = path.basename(g.file);
    const dest = path.join(targetDir, base);
    // Open once: a rotation during the copy cannot change what this descriptor reads.
    let src: fsp.FileHandle;
    try {
      src = await fsp.open(g.file, 'r');
    } catch (e) {
      if (sysCode(e) === 'ENOENT') continue; // rotated away since listing
      throw fromSystemError(e, `opening ${g.file}`);
    }
    try {
      const srcHash = await sha256Handle(src);
      const existing = await statOrUndefined(dest);
      if (existing?.isFile() && existing.size === srcHash.size && (await sha256File(dest)).sha256 === srcHash.sha256) {
        skipped.push(base);
        continue;
      }
      const tmp = tmpPath(target);
      try {
        const written = await writeTemp(tmp, src.createReadStream({ start: 0, autoClose: false }));
        if (written.sha256 !== srcHash.sha256 || written.size !== srcHash.size) {
          throw new SafeholdError(
            'CORRUPT',
            `copy of ${base} changed while copying (sha256 ${written.sha256} ≠ ${srcHash.sha256})`,
          );
        }
        const check = await sha256File(tmp);
        if (check.sha256 !== srcHash.sha256)
          throw new SafeholdError(
            'CORRUPT',
            `copy of ${base} in ${targetDir} does not verify (sha256 ${check.sha256} ≠ ${srcHash.sha256})`,
          );
        await fsp.rename(tmp, dest);
      } catch (e) {
        await fsp.rm(tmp, { force: true }).catch(() => {});
        throw sysCode(e) ? fromSystemError(e, `copying ${base} to ${targetDir}`) : e;
      }
      copied.push(base);
    } finally {
      await src.close().catch(() => {});
    }
  }
  if (copied.length > 0) await fsyncDir(targetDir);
  return { copied, skipped };
}

async function sha256Handle(h: fsp.FileHandle): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of h.createReadStream({ start: 0, autoClose: false })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).byteLength;
  }
  return { size, sha256: hash.digest('hex') };
}
