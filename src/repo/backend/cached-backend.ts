// The local metadata cache of a remote repository (restic's cache): key
// files, index files, snapshots, and the packs of tree blobs (data files
// loaded or saved with the `metadata` hint) are kept in a local directory, so
// that `snapshots`, `ls`, re-backups and restores do not download them again.
// Every cached file is named by the SHA-256 of its bytes, so an entry can
// never be stale, only missing or damaged: the first read of an entry in a
// process hashes it, and one that does not match its name is dropped and
// fetched again (never reported as a damaged repository). list() always asks
// the backend and removes the entries of names it no longer lists. Writes
// through: what is saved is cached too. Cache files are private (0600 in 0700
// directories) and written atomically (temp file, then rename); a cache that
// cannot be written only costs downloads. The backend's cleanup of
// interrupted writes runs at most once a day per cache (cleanSometimes).

import crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../core/private-files.ts';
import { SafeholdError, sysCode } from '../../core/errors.ts';
import type { Backend, FileInfo, FileType, Handle } from './backend.ts';

/** How often the backend's cleanup of interrupted writes runs through one cache (see cleanSometimes). */
export const CLEAN_INTERVAL_MS = 24 * 60 * 60 * 1000;
/** Never `wal`: an archived WAL file is read once, by a recovery, and its name is not a file id. */
const CACHED_TYPES: ReadonlySet<FileType> = new Set(['keys', 'index', 'snapshots', 'data']);
const CACHEDIR_TAG =
  'Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by Safehold.\n# For information about cache directory tags see https://bford.info/cachedir/\n';

/** `<XDG_CACHE_HOME or ~/.cache>/safehold/<hash of the location>`. */
export function defaultCacheDir(location: string, env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(env.HOME || os.homedir(), '.cache');
  return path.join(base, 'safehold', crypto.createHash('sha256').update(location).digest('hex').slice(0, 32));
}

/** How a load was served, for tests and statistics. */
export interface CacheStats {
  hits: number;
  misses: number;
  /** Entries found damaged (content not matching the name) and fetched again. */
  dropped: number;
}

export class CachedBackend implements Backend {
  readonly location: string;
  readonly dir: string;
  readonly saveNew?: (h: Handle, data: Uint8Array) => Promise<void>;
  readonly cleanTmp?: (olderThanMs: number, now: number) => Promise<number>;
  readonly removeMany?: (hs: readonly Handle[]) => Promise<void>;
  readonly stats: CacheStats = { hits: 0, misses: 0, dropped: 0 };
  private readonly inner: Backend;
  /** Entries hashed and found whole in this process: later reads are plain ranged reads. */
  private readonly verified = new Set<string>();
  /** Entries being hashed, so concurrent readers of one entry read and hash it once. */
  private readonly verifying = new Map<string, Promise<Buffer | null>>();
  /** Downloads in flight, so concurrent readers of one file fetch it once. */
  private readonly fetching = new Map<string, Promise<Buffer>>();
  private ready: Promise<void> | null = null;

  constructor(inner: Backend, dir: string) {
    this.inner = inner;
    this.location = inner.location;
    this.dir = path.resolve(dir);
    if (inner.saveNew) {
      this.saveNew = async (h, data) => {
        await inner.saveNew!(h, data);
        await this.put(h, data);
      };
    }
    if (inner.cleanTmp) this.cleanTmp = (olderThanMs, now) => this.cleanSometimes(inner, olderThanMs, now);
    if (inner.removeMany) {
      this.removeMany = async (hs) => {
        await inner.removeMany!(hs);
        for (const h of hs) await this.forget(h);
      };
    }
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    await this.inner.save(h, data);
    await this.put(h, data);
  }

  async load(h: Handle, offset = 0, length?: number): Promise<Buffer> {
    if (!cacheable(h)) return this.inner.load(h, offset, length);
    const p = this.entry(h);
    const cached = await this.readCached(h, p, offset, length);
    if (cached) {
      this.stats.hits++;
      return cached;
    }
    this.stats.misses++;
    const whole = await this.fetch(h, p);
    return slice(h, whole, offset, length);
  }

  stat(h: Handle): Promise<FileInfo> {
    return this.inner.stat(h);
  }

  /** Asks the backend; cache entries of this type that it no longer lists are removed. */
  async list(type: FileType): Promise<FileInfo[]> {
    const files = await this.inner.list(type);
    if (CACHED_TYPES.has(type)) await this.expire(type, new Set(files.map((f) => f.name)));
    return files;
  }

  async remove(h: Handle): Promise<void> {
    await this.inner.remove(h);
    await this.forget(h);
  }

  exists(): Promise<boolean> {
    return this.inner.exists();
  }

  create(): Promise<void> {
    return this.inner.create();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Drops the cache entry of a removed file. */
  private async forget(h: Handle): Promise<void> {
    if (CACHED_TYPES.has(h.type) && isFileId(h.name)) await this.drop(this.entry(h));
  }

  /** Path of a handle's cache entry: `<dir>/<type>/<name>`, packs under `data/<first 2>/`. */
  private entry(h: Handle): string {
    if (h.type === 'data') return path.join(this.dir, 'data', h.name.slice(0, 2), h.name);
    return path.join(this.dir, h.type, h.name);
  }

  /** The requested bytes from the cache, or null on a miss (absent, or damaged and dropped). */
  private async readCached(h: Handle, p: string, offset: number, length: number | undefined): Promise<Buffer | null> {
    try {
      if (this.verified.has(p)) {
        const got = await readRange(p, offset, length);
        if (got) return got;
        this.verified.delete(p);
        return null;
      }
      const whole = await this.verify(h, p);
      if (!whole) return null;
      if (offset > whole.byteLength || (length !== undefined && offset + length > whole.byteLength)) return null;
      return slice(h, whole, offset, length);
    } catch {
      // Absent, or unreadable: not a repository problem, fetch instead.
      return null;
    }
  }

  /** Reads and hashes an entry once for concurrent readers: its bytes, or null when damaged (then dropped). */
  private verify(h: Handle, p: string): Promise<Buffer | null> {
    let pending = this.verifying.get(p);
    if (!pending) {
      pending = (async () => {
        const whole = await fs.readFile(p);
        if (sha256(whole) === h.name) {
          this.verified.add(p);
          return whole;
        }
        this.stats.dropped++;
        await this.drop(p);
        return null;
      })().finally(() => this.verifying.delete(p));
      this.verifying.set(p, pending);
    }
    return pending;
  }

  /**
   * Downloads a whole file (once for concurrent readers; again once if its
   * bytes do not match its name) and caches it when they do.
   */
  private fetch(h: Handle, p: string): Promise<Buffer> {
    let pending = this.fetching.get(p);
    if (!pending) {
      pending = (async () => {
        let whole = await this.inner.load(h);
        // Bytes that do not match their name were cut short or altered on the way, or are damaged
        // where they are stored: one more download tells which; the repository's checks judge the rest.
        if (sha256(whole) !== h.name) whole = await this.inner.load(h);
        await this.put(h, whole);
        return whole;
      })().finally(() => this.fetching.delete(p));
      this.fetching.set(p, pending);
    }
    return pending;
  }

  /** Caches bytes whose hash is their name (anything else is left to the repository's checks). */
  private async put(h: Handle, data: Uint8Array): Promise<void> {
    if (!cacheable(h) || sha256(data) !== h.name) return;
    const p = this.entry(h);
    try {
      await this.prepare();
      const tmp = path.join(this.dir, 'tmp', crypto.randomBytes(16).toString('hex'));
      await fs.writeFile(tmp, data, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
      try {
        await fs.mkdir(path.dirname(p), { recursive: true, mode: PRIVATE_DIR_MODE });
        await fs.rename(tmp, p);
      } catch (e) {
        await fs.unlink(tmp).catch(() => {});
        throw e;
      }
      this.verified.add(p);
    } catch {
      // A full or read-only cache only costs downloads.
    }
  }

  /**
   * The backend's cleanup of interrupted writes (on S3 a listing of unfinished
   * uploads), run at most once per CLEAN_INTERVAL_MS for this cache: the time
   * of the last run is kept in `cleaned-at`. A clock gone backwards runs it.
   */
  private async cleanSometimes(inner: Backend, olderThanMs: number, now: number): Promise<number> {
    const stamp = path.join(this.dir, 'cleaned-at');
    const last = Number(await fs.readFile(stamp, 'utf8').catch(() => ''));
    if (last > 0 && last <= now && now - last < CLEAN_INTERVAL_MS) return 0;
    const removed = await inner.cleanTmp!(olderThanMs, now);
    try {
      await this.prepare();
      await fs.writeFile(stamp, String(now), { mode: PRIVATE_FILE_MODE });
    } catch {
      // Not remembered: the next process cleans again.
    }
    return removed;
  }

  /** Creates the cache directory (0700) with its CACHEDIR.TAG once. */
  private prepare(): Promise<void> {
    this.ready ??= (async () => {
      await fs.mkdir(path.join(this.dir, 'tmp'), { recursive: true, mode: PRIVATE_DIR_MODE });
      await fs.chmod(this.dir, PRIVATE_DIR_MODE);
      await fs
        .writeFile(path.join(this.dir, 'CACHEDIR.TAG'), CACHEDIR_TAG, { mode: PRIVATE_FILE_MODE, flag: 'wx' })
        .catch((e: unknown) => {
          if (sysCode(e) !== 'EEXIST') throw e;
        });
    })();
    this.ready.catch(() => {
      this.ready = null;
    });
    return this.ready;
  }

  private async drop(p: string): Promise<void> {
    this.verified.delete(p);
    await fs.unlink(p).catch(() => {});
  }

  /** Removes the entries of `type` whose names are not in `listed`. */
  private async expire(type: FileType, listed: Set<string>): Promise<void> {
    const base = path.join(this.dir, type);
    const dirs = type === 'data' ? (await readdir(base)).map((d) => path.join(base, d)) : [base];
    for (const d of dirs) {
      for (const name of await readdir(d)) {
        if (isFileId(name) && !listed.has(name)) await this.drop(path.join(d, name));
      }
    }
  }
}

/** Whether a handle's file is kept in the cache: keys, index, snapshots, and packs of trees. */
function cacheable(h: Handle): boolean {
  return (h.type === 'data' ? h.metadata === true : CACHED_TYPES.has(h.type)) && isFileId(h.name);
}

/** A file id (SHA-256 hex): the only names the cache stores, so a path can never escape it. */
function isFileId(name: string): boolean {
  return typeof name === 'string' && /^[0-9a-f]{64}$/.test(name);
}

function sha256(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** The requested range of a whole file; CORRUPT past the end, like every backend. */
function slice(h: Handle, whole: Buffer, offset: number, length: number | undefined): Buffer {
  const end = length === undefined ? whole.byteLength : offset + length;
  if (offset > whole.byteLength || end > whole.byteLength) {
    throw new SafeholdError(
      'CORRUPT',
      `${h.type}/${h.name} is too short: wanted ${end - offset} bytes at offset ${offset}, file has ${whole.byteLength}`,
    );
  }
  // A fresh, unpooled copy: callers may keep or change it.
  const out = Buffer.allocUnsafeSlow(end - offset);
  whole.copy(out, 0, offset, end);
  return out;
}

/** A positioned read of a cached file; null when it is shorter than the range. */
async function readRange(p: string, offset: number, length: number | undefined): Promise<Buffer | null> {
  const fh = await fs.open(p, 'r');
  try {
    const size = (await fh.stat()).size;
    const want = length ?? size - offset;
    if (offset > size || want < 0 || offset + want > size) return null;
    const buf = Buffer.allocUnsafeSlow(want);
    let got = 0;
    while (got < want) {
      const { bytesRead } = await fh.read(buf, got, want - got, offset + got);
      if (bytesRead === 0) return null;
      got += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

async function readdir(dir: string): Promise<string[]> {
  try {
    return (await fs.readdir(dir)).filter((n) => !n.startsWith('.'));
  } catch (e) {
    if (sysCode(e) === 'ENOENT' || sysCode(e) === 'ENOTDIR') return [];
    throw e;
  }
}
