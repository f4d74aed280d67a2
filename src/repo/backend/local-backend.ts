// Backend on a local directory (or any mounted filesystem). Layout under the
// repository directory: `config`, `keys/<name>`, `data/<first 2 chars>/<name>`,
// `index/<name>`, `snapshots/<name>`, `locks/<name>`, `wal/<name>`, and `tmp/`
// for writes in progress. A missing type directory (`wal/` in a repository
// made before it existed) lists as empty and is created by the first save. A save writes tmp/<random>, fsyncs it, renames it over the final
// name and fsyncs the directory, so no partial file is ever visible; saveNew
// hard-links the finished temp file instead, which fails if the name exists. Loads
// use positioned reads of just the requested range.

import { checkName, checkRange, checkType, describe, pastEnd } from './handle-checks.ts';
import fsCb, { promises as fs } from 'node:fs';
import type { Dirent } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import type { Backend, FileInfo, FileType, Handle } from './backend.ts';
import { SafeholdError, fromSystemError, sysCode } from '../../core/errors.ts';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
/** Most file operations in flight at once, so that callers issuing 100k loads don't run out of descriptors. */
const MAX_OPEN = 64;
/** How many stat calls list() runs concurrently. */
const STAT_BATCH = 64;
/** Largest single read(2) Node accepts. */
const MAX_READ = 0x7fffffff;
const SUBDIRS = ['keys', 'data', 'index', 'snapshots', 'locks', 'wal', 'tmp'] as const;

export class LocalBackend implements Backend {
  readonly location: string;
  private readonly dir: string;
  private readonly tmpDir: string;
  private readonly gate = new Gate(MAX_OPEN);

  constructor(dir: string) {
    this.dir = resolve(dir);
    this.tmpDir = join(this.dir, 'tmp');
    this.location = this.dir;
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    await this.writeVia(h, data, (tmp, final) => this.renameInto(tmp, final, fs.rename));
  }

  /**
   * Creates `h` only if no file of that name exists: the fully written and
   * fsynced temp file is hard-linked to the final name, which link(2) refuses
   * atomically with EEXIST when the name is taken.
   */
  async saveNew(h: Handle, data: Uint8Array): Promise<void> {
    await this.writeVia(h, data, async (tmp, final) => {
      try {
        await this.renameInto(tmp, final, fs.link);
      } catch (e) {
        if (sysCode(e) !== 'EEXIST') throw e;
        throw new SafeholdError('ALREADY_EXISTS', `${describe(h)} already exists in ${this.location}`, {
          details: { type: h.type, name: h.name },
        });
      } finally {
        await fs.unlink(tmp).catch(() => {});
      }
    });
  }

  /** Writes tmp/<random>, fsyncs it, moves it to the final name with `place`, fsyncs the directory. */
  private async writeVia(
    h: Handle,
    data: Uint8Array,
    place: (tmp: string, final: string) => Promise<void>,
  ): Promise<void> {
    const final = this.path(h);
    await this.gate.run(async () => {
      const tmp = join(this.tmpDir, randomBytes(16).toString('hex'));
      let fh: FileHandle | undefined;
      let tmpExists = false;
      try {
        fh = await this.openTemp(tmp);
        tmpExists = true;
        await fh.writeFile(data);
        await fh.sync();
        const closing = fh;
        fh = undefined;
        await closing.close();
        await place(tmp, final);
        tmpExists = false;
        await syncDir(dirname(final));
      } catch (e) {
        if (fh) await fh.close().catch(() => {});
        if (tmpExists) await fs.unlink(tmp).catch(() => {});
        throw fromSystemError(e, `saving ${describe(h)} in ${this.location}`);
      }
    });
  }

  async load(h: Handle, offset = 0, length?: number): Promise<Buffer> {
    checkRange(offset, length);
    const p = this.path(h);
    return this.gate.run(async () => {
      try {
        return await readRange(p, offset, length, h);
      } catch (e) {
        throw this.readError(e, h, 'loading');
      }
    });
  }

  async stat(h: Handle): Promise<FileInfo> {
    const p = this.path(h);
    try {
      const st = await fs.stat(p);
      return { name: h.type === 'config' ? 'config' : h.name, size: st.size };
    } catch (e) {
      throw this.readError(e, h, 'reading size of');
    }
  }

  async list(type: FileType): Promise<FileInfo[]> {
    checkType(type);
    const what = `listing ${type} in ${this.location}`;
    if (type === 'config') {
      try {
        return [{ name: 'config', size: (await fs.stat(join(this.dir, 'config'))).size }];
      } catch (e) {
        if (isMissing(e)) return [];
        throw fromSystemError(e, what);
      }
    }
    const base = join(this.dir, type);
    try {
      if (type !== 'data') return await listFiles(base);
      const out: FileInfo[] = [];
      for (const sub of await readdirOrEmpty(base)) {
        if (sub.name.startsWith('.') || !sub.isDirectory()) continue;
        for (const f of await listFiles(join(base, sub.name))) out.push(f);
      }
      return out;
    } catch (e) {
      throw fromSystemError(e, what);
    }
  }

  async remove(h: Handle): Promise<void> {
    const p = this.path(h);
    try {
      await fs.unlink(p);
      // The removal is durable before the caller's next step (prune deletes the old index before packs).
      await syncDir(dirname(p));
    } catch (e) {
      if (isMissing(e)) return;
      throw fromSystemError(e, `removing ${describe(h)} from ${this.location}`);
    }
  }

  async exists(): Promise<boolean> {
    try {
      await fs.stat(join(this.dir, 'config'));
      return true;
    } catch (e) {
      if (isMissing(e)) return false;
      throw fromSystemError(e, `checking for a repository at ${this.location}`);
    }
  }

  async create(): Promise<void> {
    if (await this.exists()) {
      throw new SafeholdError('REPO_EXISTS', `a repository already exists at ${this.location}`);
    }
    try {
      await fs.mkdir(this.dir, { recursive: true, mode: DIR_MODE });
      for (const sub of SUBDIRS) await fs.mkdir(join(this.dir, sub), { recursive: true, mode: DIR_MODE });
      await syncDir(this.dir);
    } catch (e) {
      throw fromSystemError(e, `creating a repository at ${this.location}`);
    }
  }

  /**
   * Removes files in tmp/ last modified more than `olderThanMs` before `now`
   * (left by a process killed mid-save). Young files may belong to a save in
   * progress and are kept. Returns how many files were removed.
   */
  async cleanTmp(olderThanMs: number, now: number): Promise<number> {
    let removed = 0;
    try {
      for (const ent of await readdirOrEmpty(this.tmpDir)) {
        if (ent.isDirectory()) continue;
        const p = join(this.tmpDir, ent.name);
        try {
          const st = await fs.lstat(p);
          if (now - st.mtimeMs <= olderThanMs) continue;
          await fs.unlink(p);
          removed++;
        } catch (e) {
          if (!isMissing(e)) throw e;
        }
      }
    } catch (e) {
      throw fromSystemError(e, `cleaning temporary files in ${this.tmpDir}`);
    }
    return removed;
  }

  async close(): Promise<void> {}

  /** Final path of a handle; rejects names that could escape their directory. */
  private path(h: Handle): string {
    checkType(h.type);
    if (h.type === 'config') return join(this.dir, 'config');
    checkName(h.name);
    if (h.type === 'data') return join(this.dir, 'data', h.name.slice(0, 2), h.name);
    return join(this.dir, h.type, h.name);
  }

  /** Opens a new temp file, creating tmp/ (and the repository directory) if missing. */
  private async openTemp(tmp: string): Promise<FileHandle> {
    try {
      return await fs.open(tmp, 'wx', FILE_MODE);
    } catch (e) {
      if (sysCode(e) !== 'ENOENT') throw e;
      await fs.mkdir(this.tmpDir, { recursive: true, mode: DIR_MODE });
      return await fs.open(tmp, 'wx', FILE_MODE);
    }
  }

  /** Renames (or links) the temp file to `final`, creating its directory (data/xx, or wal/ in an old repository) when missing. */
  private async renameInto(
    tmp: string,
    final: string,
    move: (from: string, to: string) => Promise<void>,
  ): Promise<void> {
    try {
      await move(tmp, final);
    } catch (e) {
      if (sysCode(e) !== 'ENOENT') throw e;
      const parent = dirname(final);
      const created = await fs.mkdir(parent, { recursive: true, mode: DIR_MODE });
      await move(tmp, final);
      if (created !== undefined) await syncDir(dirname(parent));
    }
  }

  private readError(e: unknown, h: Handle, verb: string): SafeholdError {
    if (e instanceof SafeholdError) return e;
    if (isMissing(e))
      return new SafeholdError('NOT_FOUND', `${describe(h)} not found in ${this.location}`, { cause: e });
    return fromSystemError(e, `${verb} ${describe(h)} in ${this.location}`);
  }
}

/**
 * Reads `length` bytes at `offset` (to the end when undefined) with positioned
 * reads on a raw descriptor: never more than the range, and about twice as
 * fast as a FileHandle for the many small reads of restore and check.
 */
async function readRange(p: string, offset: number, length: number | undefined, h: Handle): Promise<Buffer> {
  const fd = await fdOpen(p);
  try {
    if (length === undefined || length === 0) {
      const size = await fdSize(fd);
      if (offset > size) throw pastEnd(h, offset, length ?? 0, size);
      if (length === 0 || offset === size) return Buffer.alloc(0);
      length = size - offset;
    }
    const buf = Buffer.allocUnsafeSlow(length);
    let got = 0;
    while (got < length) {
      const n = await fdRead(fd, buf, got, Math.min(length - got, MAX_READ), offset + got);
      if (n === 0) throw pastEnd(h, offset, length, offset + got);
      got += n;
    }
    return buf;
  } finally {
    await fdClose(fd);
  }
}

function fdOpen(p: string): Promise<number> {
  return new Promise((res, rej) => fsCb.open(p, 'r', (e, fd) => (e ? rej(e) : res(fd))));
}

function fdSize(fd: number): Promise<number> {
  return new Promise((res, rej) => fsCb.fstat(fd, (e, st) => (e ? rej(e) : res(st.size))));
}

function fdRead(fd: number, buf: Buffer, at: number, len: number, pos: number): Promise<number> {
  return new Promise((res, rej) => fsCb.read(fd, buf, at, len, pos, (e, n) => (e ? rej(e) : res(n))));
}

function fdClose(fd: number): Promise<void> {
  return new Promise((res, rej) => fsCb.close(fd, (e) => (e ? rej(e) : res())));
}

/** Regular files in a directory with their sizes, skipping dot-files; [] when the directory is missing. */
async function listFiles(dir: string): Promise<FileInfo[]> {
  const names: string[] = [];
  for (const ent of await readdirOrEmpty(dir)) {
    if (!ent.name.startsWith('.') && ent.isFile()) names.push(ent.name);
  }
  const out: FileInfo[] = [];
  for (let i = 0; i < names.length; i += STAT_BATCH) {
    const batch = names.slice(i, i + STAT_BATCH);
    const sizes = await Promise.all(
      batch.map((n) =>
        fs.stat(join(dir, n)).then(
          (s) => s.size,
          (e: unknown) => {
            if (isMissing(e)) return -1; // removed since readdir
            throw e;
          },
        ),
      ),
    );
    for (let j = 0; j < batch.length; j++) if (sizes[j]! >= 0) out.push({ name: batch[j]!, size: sizes[j]! });
  }
  return out;
}

async function readdirOrEmpty(dir: string): Promise<Dirent[]> {
  try {
    return await fs.readdir(dir, { withFileTypes: true });
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
}

/** fsyncs a directory so a rename or new entry in it survives a crash; a no-op where unsupported. */
async function syncDir(dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch (e) {
    const code = sysCode(e);
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR' && code !== 'EPERM') throw e;
  } finally {
    await fh?.close();
  }
}

function isMissing(e: unknown): boolean {
  const code = sysCode(e);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Limits concurrent operations; waiters are served in arrival order. */
class Gate {
  private active = 0;
  private readonly max: number;
  private queue: (() => void)[] = [];
  private head = 0;

  constructor(max: number) {
    this.max = max;
  }

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active < this.max) this.active++;
    else await new Promise<void>((r) => this.queue.push(r));
    try {
      return await fn();
    } finally {
      this.release();
    }
  }

  /** Hands the slot to the next waiter, or frees it. */
  private release(): void {
    if (this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      this.head++;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      next();
    } else {
      this.active--;
    }
  }
}
