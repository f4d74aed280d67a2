// The walk of the tar writer (tar-writer.ts): visits the given paths depth
// first in sorted name order and yields the uncompressed pax tar stream in
// large buffers. Entries are handled strictly one after the other (a file is
// opened only after the previous entry was written and reported, so problems
// and progress come in archive order), but directories are listed and small
// files opened, stat'ed and read with synchronous calls (one
// open-fstat-read-close costs ~10 µs, a trip through the thread pool for each
// costs far more), in slices of at most SLICE_MS before the event loop gets a
// turn. Headers and small contents are copied into BATCH-sized buffers
// (tar-batch.ts); large files are read asynchronously in CHUNK pieces.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { BigIntStats } from 'node:fs';
import { SafeholdError, fromSystemError, sysCode } from '../../core/errors.ts';
import { resolvePaths } from '../backup/source-paths.ts';
import { Excluder } from '../backup/excluder.ts';
import { nodeType } from '../backup/node-meta.ts';
import { TarBatch } from './tar-batch.ts';
import type { BufferPool } from './tar-batch.ts';
import { BLOCK, encodeHeader } from './tar-format.ts';
import type { TarEntry, TarEntryType } from './tar-format.ts';
import { IdNames } from './tar-id-names.ts';
import type { TarProgress, TarStreamOptions } from './tar-options.ts';

/** Bytes read from a large file at once (and the largest chunk of it handed downstream). */
const CHUNK = 512 * 1024;
/** Size of the output batches (see tar-batch.ts). */
const BATCH = 1024 * 1024;
/** Files up to this size are read with one synchronous call, into the output batch. */
const SMALL_FILE = 256 * 1024;
/** The longest stretch of synchronous work before the event loop gets a turn. */
const SLICE_MS = 0.5;
const ZERO = Buffer.alloc(CHUNK);
const OPEN_FLAGS = fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK;

/** Device major/minor numbers from a Linux dev_t. */
function devNumbers(rdev: bigint): { devmajor: number; devminor: number } {
  return {
    devmajor: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    devminor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

function entryType(st: BigIntStats): TarEntryType | undefined {
  const type = nodeType(st);
  return type === 'socket' ? undefined : type; // sockets: left out, like GNU tar does
}

const padding = (size: number): number => (BLOCK - (size % BLOCK)) % BLOCK;

/** fs.read as a promise on a plain descriptor. */
function readAt(fd: number, buf: Buffer, len: number, pos: number): Promise<number> {
  return new Promise((resolve, reject) => fs.read(fd, buf, 0, len, pos, (err, n) => (err ? reject(err) : resolve(n))));
}

/** A directory being walked: its entries sorted by name and the next one to visit. */
interface Listing {
  base: string;
  entries: fs.Dirent[];
  next: number;
}

/** A regular file opened for archiving whose content is streamed (too large for one batch). */
interface LargeFile {
  p: string;
  fd: number;
  size: number;
  key: string | undefined;
}

export class TarWalker {
  private readonly paths: string[];
  private readonly opts: TarStreamOptions;
  private readonly excluder: Excluder;
  private readonly names = new IdNames();
  /** `dev:ino` of files with several links → the member name of the first one stored. */
  private readonly links = new Map<string, string>();
  private readonly progress: TarProgress = { files: 0, dirs: 0, bytes: 0, errors: 0, path: '' };
  private readonly pool: BufferPool;
  private readonly out: TarBatch;
  private sliceStart = performance.now();

  constructor(paths: string[], opts: TarStreamOptions, pool: BufferPool) {
    this.paths = paths;
    this.opts = opts;
    this.pool = pool;
    this.out = new TarBatch(pool, BATCH);
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
      yield* this.tree(root, st);
    }
    this.out.zeros(2 * BLOCK); // end of archive
    this.out.flush();
    yield* this.out.ready.splice(0);
  }

  /**
   * Everything under `root` (itself first), depth first in sorted name order.
   * Entries the listing says are regular files are not lstat'ed: opening
   * them and fstat'ing the open file gives everything their header needs.
   */
  private async *tree(root: string, rootSt: BigIntStats): AsyncGenerator<Buffer> {
    const stack: Listing[] = [];
    let p: string | undefined = root;
    let st: BigIntStats | undefined = rootSt;
    let regular = false;
    for (;;) {
      if (regular && p !== undefined) {
        const large = this.file(p, undefined);
        if (large) yield* this.largeFile(large);
      } else if (p !== undefined && st !== undefined) {
        const type = entryType(st);
        if (type === 'dir') {
          this.dirHeader(p, st);
          if (!this.opts.oneFileSystem || st.dev === rootSt.dev) {
            const entries = await this.list(p);
            if (entries) stack.push({ base: p === '/' ? '' : p, entries, next: 0 });
          }
        } else if (type === 'file') {
          const large = this.file(p, st);
          if (large) yield* this.largeFile(large);
        } else if (type !== undefined) {
          this.special(p, st, type);
        }
      }
      while (this.out.ready.length > 0) yield this.out.ready.shift()!;
      if (this.sliceOver()) await this.breathe();
      const dir = stack.at(-1);
      if (!dir) return;
      p = st = undefined;
      regular = false;
      if (dir.next >= dir.entries.length) {
        stack.pop();
        continue;
      }
      const d = dir.entries[dir.next++]!;
      const cp = `${dir.base}/${d.name}`;
      regular = d.isFile();
      if (!this.excluder.empty && this.excluder.excludes(cp, d.name, d.isDirectory())) continue;
      if (!regular) st = this.lstat(cp);
      p = cp;
    }
  }

  private fail(p: string, e: unknown, what = 'reading'): void {
    const err =
      e instanceof SafeholdError
        ? e
        : sysCode(e)
          ? fromSystemError(e, `${what} ${p}`)
          : e instanceof Error
            ? e
            : new Error(String(e));
    if (!this.opts.onError) throw err;
    this.progress.errors++;
    this.opts.onError(p, err);
  }

  private report(p: string): void {
    if (!this.opts.onProgress) return;
    this.progress.path = p;
    this.opts.onProgress({ ...this.progress });
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

  private lstat(p: string): BigIntStats | undefined {
    try {
      return fs.lstatSync(p, { bigint: true });
    } catch (e) {
      this.fail(p, e);
      return undefined;
    }
  }

  /**
   * A directory's entries, sorted by name; undefined (reported) when it cannot
   * be listed. Read in pieces so that a huge directory does not hold the event loop.
   */
  private async list(p: string): Promise<fs.Dirent[] | undefined> {
    let dir: fs.Dir;
    try {
      dir = fs.opendirSync(p, { bufferSize: 256 });
    } catch (e) {
      this.fail(p, e, 'listing');
      return undefined;
    }
    const entries: fs.Dirent[] = [];
    try {
      for (let d = dir.readSync(); d !== null; d = dir.readSync()) {
        entries.push(d);
        if ((entries.length & 63) === 0 && this.sliceOver()) await this.breathe();
      }
    } catch (e) {
      this.fail(p, e, 'listing');
      return undefined;
    } finally {
      dir.closeSync();
    }
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Whether the current stretch of synchronous work is long enough to give the event loop a turn. */
  private sliceOver(): boolean {
    return performance.now() - this.sliceStart > SLICE_MS;
  }

  private async breathe(): Promise<void> {
    await nextTurn();
    this.sliceStart = performance.now();
  }

  private dirHeader(p: string, st: BigIntStats): void {
    if (p !== '/') this.out.write(this.header(p, st, 'dir'));
    this.progress.dirs++;
    this.report(p);
  }

  /** Symlinks, fifos and devices: a header only. */
  private special(p: string, st: BigIntStats, type: TarEntryType): void {
    let extra: Partial<TarEntry> = {};
    if (type === 'symlink') {
      try {
        extra = { linkpath: fs.readlinkSync(p) };
      } catch (e) {
        this.fail(p, e);
        return;
      }
    } else if (type !== 'fifo') {
      extra = devNumbers(st.rdev);
    }
    this.out.write(this.header(p, st, type, extra));
    this.progress.files++;
    this.report(p);
  }

  /**
   * A regular file (`lst` from lstat, or undefined when the directory listing
   * said so): a hard link to an earlier member, or header and content written
   * to the batch at once when it is small. A large one comes back open, its
   * header written, for `largeFile` to stream.
   */
  private file(p: string, lst: BigIntStats | undefined): LargeFile | undefined {
    if (lst && this.hardLink(p, lst)) return undefined;
    let fd: number;
    try {
      fd = fs.openSync(p, OPEN_FLAGS);
    } catch (e) {
      this.fail(p, e);
      return undefined;
    }
    let large = false;
    try {
      const st = fs.fstatSync(fd, { bigint: true });
      if (!st.isFile()) {
        this.fail(p, new SafeholdError('IO', `${p} is no longer a regular file; left out`));
        return undefined;
      }
      if (!lst && this.hardLink(p, st)) return undefined;
      const key = st.nlink > 1n ? `${st.dev}:${st.ino}` : undefined;
      const size = Number(st.size);
      // The header declares the size now; the content that follows must match it exactly.
      const header = this.header(p, st, 'file', { size });
      if (size > SMALL_FILE) {
        this.out.write(header);
        large = true;
        return { p, fd, size, key };
      }
      this.smallContent(p, fd, size, header);
      this.done(p, key);
      return undefined;
    } finally {
      if (!large) fs.closeSync(fd);
    }
  }

  /** Writes a hard link header when `st` is a file with several links of which one is already stored. */
  private hardLink(p: string, st: BigIntStats): boolean {
    const first = st.nlink > 1n ? this.links.get(`${st.dev}:${st.ino}`) : undefined;
    if (first === undefined) return false;
    this.out.write(this.header(p, st, 'hardlink', { linkpath: first }));
    this.progress.files++;
    this.report(p);
    return true;
  }

  /** Header, content and padding of a small file, read with one call (plus one byte, to see growth). */
  private smallContent(p: string, fd: number, size: number, header: Buffer): void {
    const { buf, off } = this.out.reserve(header.length + size + padding(size) + 1);
    header.copy(buf, off);
    const start = off + header.length;
    let n = 0;
    let readError: unknown;
    try {
      for (let r = -1; n <= size && r !== 0; n += r) r = fs.readSync(fd, buf, start + n, size + 1 - n, n);
    } catch (e) {
      readError = e;
    }
    const got = Math.min(n, size);
    buf.fill(0, start + got, start + size + padding(size));
    this.out.commit(header.length + size + padding(size));
    this.progress.bytes += got;
    if (got > 0) this.report(p);
    if (got < size) this.incomplete(p, got, size, readError);
    else if (n > size)
      this.fail(p, new SafeholdError('IO', `${p}: it grew while being read: archived the first ${size} bytes`));
  }

  private incomplete(p: string, got: number, size: number, readError: unknown): void {
    const why =
      readError === undefined
        ? 'it shrank while being read'
        : `reading failed (${readError instanceof Error ? readError.message : String(readError)})`;
    this.fail(
      p,
      new SafeholdError('IO', `${p}: ${why}: archived ${got} of ${size} bytes, the rest as zeros`, {
        cause: readError,
      }),
    );
  }

  private done(p: string, key: string | undefined): void {
    if (key !== undefined) this.links.set(key, p.replace(/^\/+/, ''));
    this.progress.files++;
    this.report(p);
  }

  /** Exactly `size` bytes of content plus block padding, whatever the file does meanwhile; closes the file. */
  private async *largeFile({ p, fd, size, key }: LargeFile): AsyncGenerator<Buffer> {
    try {
      this.out.flush();
      yield* this.out.ready.splice(0);
      let pos = 0;
      let readError: unknown;
      while (pos < size) {
        const buf = this.pool.take(CHUNK);
        let n: number;
        try {
          n = await readAt(fd, buf, Math.min(CHUNK, size - pos), pos);
        } catch (e) {
          readError = e;
          this.pool.give(buf);
          break;
        }
        this.sliceStart = performance.now();
        if (n === 0) {
          this.pool.give(buf);
          break;
        }
        pos += n;
        this.progress.bytes += n;
        yield n === CHUNK ? buf : buf.subarray(0, n);
        this.report(p);
      }
      if (pos < size) {
        for (let left = size - pos; left > 0; left -= CHUNK) yield ZERO.subarray(0, Math.min(CHUNK, left));
        this.incomplete(p, pos, size, readError);
      } else {
        const grew = await readAt(fd, Buffer.alloc(1), 1, size).then(
          (n) => n > 0,
          () => false,
        );
        if (grew)
          this.fail(p, new SafeholdError('IO', `${p}: it grew while being read: archived the first ${size} bytes`));
      }
      this.out.zeros(padding(size));
      this.done(p, key);
    } finally {
      fs.closeSync(fd);
    }
  }
}
