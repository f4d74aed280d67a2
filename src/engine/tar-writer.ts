// The tar writer of directory destinations (SPEC S2): streams the given paths
// as a POSIX pax archive compressed with zstd, for `writeGeneration` to store
// as `<name>.tar.zst`. Plain GNU tar restores it (`tar --zstd -xf`). It walks
// like the archiver (same path resolution, same excludes), reads files in
// chunks only as fast as the consumer takes the output, and never lets one bad
// file break the archive: unreadable files are reported and left out, a file
// that changes size while read is padded or cut to its declared size and
// reported. Format details: docs/generations.md.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { Readable, pipeline } from 'node:stream';
import { constants as zc, createZstdCompress } from 'node:zlib';
import type { BigIntStats } from 'node:fs';
import { SafeholdError, fromSystemError, sysCode } from '../core/errors.ts';
import { resolvePaths } from './archiver.ts';
import { Excluder } from './excluder.ts';
import { BLOCK, encodeHeader } from './tar-format.ts';
import type { TarEntry, TarEntryType } from './tar-format.ts';

/** Bytes read from a file at once (and the largest chunk handed downstream). */
const CHUNK = 512 * 1024;
const ZERO = Buffer.alloc(CHUNK);
const DEFAULT_LEVEL = 3;

export interface TarProgress {
  /** Files (and hard links, symlinks, fifos, devices) written so far. */
  files: number;
  dirs: number;
  /** File content bytes written (before compression). */
  bytes: number;
  errors: number;
  /** The entry being written. */
  path: string;
}

export interface TarStreamOptions {
  /** Exclude patterns with the archiver's semantics (src/engine/excluder.ts); the given paths themselves are never excluded. */
  excludes?: string[];
  /** zstd level, 1–19 (default 3). */
  level?: number;
  /** Do not descend into directories on another file system than their top-level path. */
  oneFileSystem?: boolean;
  /**
   * A path that could not be archived (left out) or changed size while read
   * (padded or cut, see docs). Without onError the first such problem fails the stream.
   */
  onError?(path: string, err: Error): void;
  /** Called after every entry and every chunk of file content. */
  onProgress?(p: TarProgress): void;
}

/**
 * A zstd-compressed pax tar archive of `paths` (resolved like the archiver's:
 * absolute, parents' symlinks resolved, nested paths dropped). Member names are
 * the absolute paths without the leading '/'. A missing top-level path fails
 * the stream with PATH_NOT_FOUND; destroying the stream stops the walk and
 * closes open files.
 */
export function tarStream(paths: string[], opts: TarStreamOptions = {}): Readable {
  const level = opts.level ?? DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 19) throw new SafeholdError('CONFIG', `zstd level must be an integer from 1 to 19, got ${level}`);
  const zstd = createZstdCompress({ params: { [zc.ZSTD_c_compressionLevel]: level, [zc.ZSTD_c_checksumFlag]: 1 } });
  const raw = Readable.from(new TarWalker(paths, opts).archive(), { objectMode: false, highWaterMark: CHUNK });
  // An error on either side destroys both; the consumer sees it on the returned stream.
  pipeline(raw, zstd, () => {});
  return zstd;
}

/** Device major/minor numbers from a Linux dev_t. */
function devNumbers(rdev: bigint): { devmajor: number; devminor: number } {
  return {
    devmajor: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    devminor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

function entryType(st: BigIntStats): TarEntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'chardev';
  if (st.isBlockDevice()) return 'blockdev';
  return undefined; // sockets: left out, like GNU tar does
}

/** uid/gid → name from /etc/passwd and /etc/group, read once. */
class IdNames {
  private users: Map<number, string> | undefined;
  private groups: Map<number, string> | undefined;

  user(uid: number): string {
    this.users ??= readIdFile('/etc/passwd');
    return this.users.get(uid) ?? '';
  }

  group(gid: number): string {
    this.groups ??= readIdFile('/etc/group');
    return this.groups.get(gid) ?? '';
  }
}

function readIdFile(file: string): Map<number, string> {
  const m = new Map<number, string>();
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return m; // no names: numeric ids only
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    const n = Number(id);
    if (name && id !== undefined && Number.isInteger(n) && !m.has(n)) m.set(n, name);
  }
  return m;
}

class TarWalker {
  private readonly paths: string[];
  private readonly opts: TarStreamOptions;
  private readonly excluder: Excluder;
  private readonly names = new IdNames();
  /** `dev:ino` of files with several links → the member name of the first one stored. */
  private readonly links = new Map<string, string>();
  private readonly progress: TarProgress = { files: 0, dirs: 0, bytes: 0, errors: 0, path: '' };

  constructor(paths: string[], opts: TarStreamOptions) {
    this.paths = paths;
    this.opts = opts;
    this.excluder = new Excluder(opts.excludes ?? []);
  }

  async *archive(): AsyncGenerator<Buffer> {
    for (const root of await resolvePaths(this.paths)) {
      let st: BigIntStats;
      try {
        st = await fsp.lstat(root, { bigint: true });
      } catch (e) {
        this.fail(root, e);
        continue;
      }
      yield* this.entry(root, st, st.dev);
    }
    yield Buffer.alloc(2 * BLOCK); // end of archive
  }

  private fail(p: string, e: unknown, what = 'reading'): void {
    const err = e instanceof SafeholdError ? e : sysCode(e) ? fromSystemError(e, `${what} ${p}`) : e instanceof Error ? e : new Error(String(e));
    if (!this.opts.onError) throw err;
    this.progress.errors++;
    this.opts.onError(p, err);
  }

  private report(p: string): void {
    this.progress.path = p;
    this.opts.onProgress?.({ ...this.progress });
  }

  private header(p: string, st: BigIntStats, type: TarEntryType, extra: Partial<TarEntry> = {}): Buffer {
    const uid = Number(st.uid);
    const gid = Number(st.gid);
    return encodeHeader({
      path: p.replace(/^\/+/, ''),
      type,
      size: 0,
      mode: Number(st.mode & 0o7777n),
      uid,
      gid,
      uname: this.names.user(uid),
      gname: this.names.group(gid),
      mtimeNs: st.mtimeNs,
      ...extra,
    });
  }

  private async *entry(p: string, st: BigIntStats, rootDev: bigint): AsyncGenerator<Buffer> {
    const type = entryType(st);
    if (type === 'dir') {
      yield* this.dir(p, st, rootDev);
    } else if (type === 'file') {
      yield* this.file(p, st);
    } else if (type === 'symlink') {
      let target: string;
      try {
        target = await fsp.readlink(p);
      } catch (e) {
        this.fail(p, e);
        return;
      }
      yield this.header(p, st, 'symlink', { linkpath: target });
      this.progress.files++;
      this.report(p);
    } else if (type !== undefined) {
      yield this.header(p, st, type, type === 'fifo' ? {} : devNumbers(st.rdev));
      this.progress.files++;
      this.report(p);
    }
  }

  private async *dir(p: string, st: BigIntStats, rootDev: bigint): AsyncGenerator<Buffer> {
    if (p !== '/') yield this.header(p, st, 'dir');
    this.progress.dirs++;
    this.report(p);
    if (this.opts.oneFileSystem && st.dev !== rootDev) return;
    let names: string[];
    try {
      names = (await fsp.readdir(p)).sort();
    } catch (e) {
      this.fail(p, e, 'listing');
      return;
    }
    const base = p === '/' ? '' : p;
    const stats = await Promise.all(names.map((name) => fsp.lstat(`${base}/${name}`, { bigint: true }).then((s) => ({ s }), (error: unknown) => ({ error }))));
    for (let i = 0; i < names.length; i++) {
      const cp = `${base}/${names[i]!}`;
      const r = stats[i]!;
      if ('error' in r) {
        this.fail(cp, r.error);
        continue;
      }
      if (!this.excluder.empty && this.excluder.excludes(cp, names[i]!, r.s.isDirectory())) continue;
      yield* this.entry(cp, r.s, rootDev);
    }
  }

  private async *file(p: string, lst: BigIntStats): AsyncGenerator<Buffer> {
    const key = lst.nlink > 1n ? `${lst.dev}:${lst.ino}` : undefined;
    const first = key === undefined ? undefined : this.links.get(key);
    if (first !== undefined) {
      yield this.header(p, lst, 'hardlink', { linkpath: first });
      this.progress.files++;
      this.report(p);
      return;
    }
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    } catch (e) {
      this.fail(p, e);
      return;
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (!st.isFile()) {
        this.fail(p, new SafeholdError('IO', `${p} is no longer a regular file; left out`));
        return;
      }
      const size = Number(st.size);
      // The header declares the size now; the content that follows must match it exactly.
      yield this.header(p, st, 'file', { size });
      yield* this.content(p, fh, size);
      if (key !== undefined) this.links.set(key, p.replace(/^\/+/, ''));
      this.progress.files++;
      this.report(p);
    } finally {
      await fh.close().catch(() => {});
    }
  }

  /** Exactly `size` bytes of content plus block padding, whatever the file does meanwhile. */
  private async *content(p: string, fh: fsp.FileHandle, size: number): AsyncGenerator<Buffer> {
    let pos = 0;
    let readError: unknown;
    while (pos < size) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, size - pos));
      let n: number;
      try {
        n = (await fh.read(buf, 0, buf.length, pos)).bytesRead;
      } catch (e) {
        readError = e;
        break;
      }
      if (n === 0) break;
      pos += n;
      this.progress.bytes += n;
      yield n === buf.length ? buf : buf.subarray(0, n);
      this.report(p);
    }
    if (pos < size) {
      for (let left = size - pos; left > 0; left -= CHUNK) yield ZERO.subarray(0, Math.min(CHUNK, left));
      const why = readError === undefined ? 'it shrank while being read' : `reading failed (${readError instanceof Error ? readError.message : String(readError)})`;
      this.fail(p, new SafeholdError('IO', `${p}: ${why}: archived ${pos} of ${size} bytes, the rest as zeros`, { cause: readError }));
    } else {
      const probe = Buffer.alloc(1);
      const grew = await fh.read(probe, 0, 1, size).then((r) => r.bytesRead > 0, () => false);
      if (grew) this.fail(p, new SafeholdError('IO', `${p}: it grew while being read: archived the first ${size} bytes`));
    }
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad > 0) yield ZERO.subarray(0, pad);
  }
}
