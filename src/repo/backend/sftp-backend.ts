// Backend on an SSH server over SFTP, location `sftp:user@host[:port]:/path`.
// Same layout as the local backend (config, keys/, data/xx/, index/,
// snapshots/, locks/, wal/, tmp/; a missing type directory lists as empty and
// is made by the first save), so a repository can be copied between the two
// with any file tool. A save writes tmp/<random> (pipelined writes, then
// fsync@openssh.com when offered), and renames it over the final name with
// posix-rename@openssh.com (atomic replace); saveNew links it with
// hardlink@openssh.com, which fails when the name exists. Loads are positioned
// reads of just the range. Up to `connections` operations run at once over one
// SSH connection (SFTP multiplexes requests); a dropped connection fails the
// operations in flight with a retryable error and the next one reconnects.

import { checkName, checkRange, checkType, describe, pastEnd } from './handle-checks.ts';
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Attributes, SFTPWrapper } from 'ssh2';
import { SafeholdError } from '../../core/errors.ts';
import { Semaphore } from '../../core/semaphore.ts';
import { mapLimit } from '../../core/concurrency.ts';
import type { Backend, FileInfo, FileType, Handle } from './backend.ts';
import type { BackendOptions } from './backend-options.ts';
import { SftpConnection } from './sftp-connection.ts';
import type { SftpSession } from './sftp-connection.ts';
import { formatSftpLocation, parseSftpLocation } from './sftp-location.ts';
import * as op from './sftp-ops.ts';

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;
const SUBDIRS = ['keys', 'data', 'index', 'snapshots', 'locks', 'wal', 'tmp'] as const;
const { NO_SUCH_FILE, PERMISSION_DENIED, NO_CONNECTION, CONNECTION_LOST } = op.SFTP_STATUS;

/** Opens the SFTP backend for `location`; connects on the first operation. */
export function openSftp(location: string, opts: BackendOptions = {}): Backend {
  return new SftpBackend(location, opts);
}

class SftpBackend implements Backend {
  readonly location: string;
  private readonly base: string;
  private readonly conn: SftpConnection;
  private readonly gate: Semaphore;
  private readonly parallel: number;

  constructor(location: string, opts: BackendOptions) {
    const loc = parseSftpLocation(location);
    this.location = formatSftpLocation(loc);
    this.base = loc.path;
    this.parallel = Math.max(1, opts.connections ?? 8);
    this.gate = new Semaphore(this.parallel);
    this.conn = new SftpConnection(loc, { ...opts.sftp, env: opts.env });
  }

  async save(h: Handle, data: Uint8Array): Promise<void> {
    return this.store(h, data, false);
  }

  async saveNew(h: Handle, data: Uint8Array): Promise<void> {
    return this.store(h, data, true);
  }

  async load(h: Handle, offset = 0, length?: number): Promise<Buffer> {
    checkRange(offset, length);
    const p = this.path(h);
    return this.run(`loading ${describe(h)}`, h, async (s) => {
      const fh = await op.open(s.sftp, p, 'r');
      try {
        if (length === undefined || length === 0) {
          const size = (await op.fstat(s.sftp, fh)).size;
          if (offset > size) throw pastEnd(h, offset, length ?? 0, size);
          length ??= size - offset;
        }
        const buf = Buffer.allocUnsafeSlow(length);
        if (length === 0) return buf;
        const got = await op.readRange(s.sftp, fh, buf, offset);
        if (got < length) throw pastEnd(h, offset, length, offset + got);
        return buf;
      } finally {
        await op.closeHandle(s.sftp, fh).catch(() => {});
      }
    });
  }

  async stat(h: Handle): Promise<FileInfo> {
    const p = this.path(h);
    return this.run(`reading size of ${describe(h)}`, h, async (s) => {
      const st = await op.stat(s.sftp, p);
      return { name: h.type === 'config' ? 'config' : h.name, size: st.size };
    });
  }

  async list(type: FileType): Promise<FileInfo[]> {
    checkType(type);
    return this.run(`listing ${type}`, undefined, async (s) => {
      if (type === 'config') {
        const st = await ifExists(op.stat(s.sftp, this.join('config')));
        return st ? [{ name: 'config', size: st.size }] : [];
      }
      const dir = this.join(type);
      if (type !== 'data') return listFiles(s.sftp, dir);
      const subs = (await ifExists(op.readdir(s.sftp, dir))) ?? [];
      const names = subs.filter((e) => !e.filename.startsWith('.') && isDir(e.attrs)).map((e) => e.filename);
      const lists = await mapLimit(names, this.parallel, (n) => listFiles(s.sftp, posix.join(dir, n)));
      return lists.flat();
    });
  }

  async remove(h: Handle): Promise<void> {
    const p = this.path(h);
    await this.run(`removing ${describe(h)}`, undefined, async (s) => {
      await ifExists(op.unlink(s.sftp, p));
    });
  }

  async exists(): Promise<boolean> {
    return this.run('checking for a repository', undefined, async (s) => {
      return (await ifExists(op.stat(s.sftp, this.join('config')))) !== undefined;
    });
  }

  async create(): Promise<void> {
    if (await this.exists()) {
      throw new SafeholdError('REPO_EXISTS', `a repository already exists at ${this.location}`);
    }
    await this.run('creating a repository', undefined, async (s) => {
      await mkdirp(s.sftp, this.base);
      for (const sub of SUBDIRS) await mkdirp(s.sftp, this.join(sub));
    });
  }

  /** Removes files in tmp/ last modified more than `olderThanMs` before `now`; returns how many. */
  async cleanTmp(olderThanMs: number, now: number): Promise<number> {
    return this.run('cleaning temporary files', undefined, async (s) => {
      const entries = (await ifExists(op.readdir(s.sftp, this.join('tmp')))) ?? [];
      let removed = 0;
      for (const e of entries) {
        if (isDir(e.attrs) || now - e.attrs.mtime * 1000 <= olderThanMs) continue;
        const gone = await ifExists(op.unlink(s.sftp, this.join('tmp', e.filename)).then(() => true));
        if (gone) removed++;
      }
      return removed;
    });
  }

  async close(): Promise<void> {
    await this.conn.close();
  }

  /** Cuts the TCP connection as a network fault would (tests of reconnection). */
  dropConnectionForTest(): void {
    this.conn.destroySocket();
  }

  /** Writes a temp file, then renames (replace) or links (create only) it to the final name. */
  private async store(h: Handle, data: Uint8Array, createOnly: boolean): Promise<void> {
    const final = this.path(h);
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    return this.run(`saving ${describe(h)}`, undefined, async (s) => {
      const tmp = this.join('tmp', randomBytes(16).toString('hex'));
      let tmpExists = false;
      try {
        await this.writeTemp(s, tmp, bytes);
        tmpExists = true;
        if (createOnly) {
          if (await this.linkInto(s, tmp, final, h)) await op.unlink(s.sftp, tmp);
        } else {
          await this.renameInto(s, tmp, final);
        }
        tmpExists = false;
      } catch (e) {
        if (tmpExists && !s.closed) await op.unlink(s.sftp, tmp).catch(() => {});
        throw e;
      }
    });
  }

  private async writeTemp(s: SftpSession, tmp: string, data: Buffer): Promise<void> {
    let fh: Buffer;
    try {
      fh = await op.open(s.sftp, tmp, 'wx', FILE_MODE);
    } catch (e) {
      if (op.statusOf(e) !== NO_SUCH_FILE) throw e;
      await mkdirp(s.sftp, this.join('tmp'));
      fh = await op.open(s.sftp, tmp, 'wx', FILE_MODE);
    }
    try {
      await op.writeAll(s.sftp, fh, data);
      if (s.extensions['fsync@openssh.com'] === '1') await op.fsync(s.sftp, fh);
    } finally {
      await op.closeHandle(s.sftp, fh).catch(() => {});
    }
  }

  /** posix-rename replaces atomically; plain SFTP rename refuses an existing target, so remove it first. */
  private async renameInto(s: SftpSession, tmp: string, final: string): Promise<void> {
    const atomic = s.extensions['posix-rename@openssh.com'] === '1';
    const attempt = async (): Promise<void> => {
      if (atomic) return op.posixRename(s.sftp, tmp, final);
      await ifExists(op.unlink(s.sftp, final));
      return op.rename(s.sftp, tmp, final);
    };
    try {
      await attempt();
    } catch (e) {
      if (op.statusOf(e) !== NO_SUCH_FILE) throw e;
      await mkdirp(s.sftp, posix.dirname(final));
      await attempt();
    }
  }

  /**
   * hardlink@openssh.com (or OpenSSH's plain rename, which links too) fails
   * when `final` exists. Returns whether the temp file is still there.
   */
  private async linkInto(s: SftpSession, tmp: string, final: string, h: Handle): Promise<boolean> {
    const link = s.extensions['hardlink@openssh.com'] === '1';
    const attempt = (): Promise<void> => (link ? op.hardlink(s.sftp, tmp, final) : op.rename(s.sftp, tmp, final));
    try {
      await attempt();
      return link;
    } catch (first) {
      let e = first;
      if (op.statusOf(e) === NO_SUCH_FILE) {
        await mkdirp(s.sftp, posix.dirname(final));
        try {
          await attempt();
          return link;
        } catch (e2) {
          e = e2;
        }
      }
      if (op.statusOf(e) !== NO_CONNECTION && (await ifExists(op.stat(s.sftp, final))) !== undefined) {
        throw new SafeholdError('ALREADY_EXISTS', `${describe(h)} already exists in ${this.location}`, {
          details: { type: h.type, name: h.name },
        });
      }
      throw e;
    }
  }

  /** Runs `fn` on a live session within the concurrency limit, mapping SFTP failures to SafeholdErrors. */
  private async run<T>(what: string, h: Handle | undefined, fn: (s: SftpSession) => Promise<T>): Promise<T> {
    await this.gate.acquire();
    let s: SftpSession | undefined;
    try {
      s = await this.conn.session();
      const session = s;
      let unwatch = (): void => {};
      const lost = new Promise<never>((_, reject) => {
        unwatch = session.onEnd(() => reject(this.conn.lost()));
      });
      try {
        return await Promise.race([fn(session), lost]);
      } finally {
        unwatch();
      }
    } catch (e) {
      throw this.failure(e, `${what} in ${this.location}`, h, s);
    } finally {
      this.gate.release();
    }
  }

  private failure(e: unknown, what: string, h: Handle | undefined, s: SftpSession | undefined): SafeholdError {
    if (e instanceof SafeholdError) return e;
    const status = op.statusOf(e);
    const msg = e instanceof Error ? e.message : String(e);
    if (s?.closed || status === NO_CONNECTION || status === CONNECTION_LOST || msg === 'No response from server') {
      return this.conn.lost(e);
    }
    if (status === NO_SUCH_FILE && h) {
      return new SafeholdError('NOT_FOUND', `${describe(h)} not found in ${this.location}`, { cause: e });
    }
    if (status === PERMISSION_DENIED) return new SafeholdError('IO', `${what}: permission denied`, { cause: e });
    return new SafeholdError('IO', `${what}: ${msg}`, { cause: e });
  }

  private join(...parts: string[]): string {
    return posix.join(this.base, ...parts);
  }

  /** Final path of a handle; rejects names that could escape their directory. */
  private path(h: Handle): string {
    checkType(h.type);
    if (h.type === 'config') return this.join('config');
    checkName(h.name);
    if (h.type === 'data') return this.join('data', h.name.slice(0, 2), h.name);
    return this.join(h.type, h.name);
  }
}

/** The value, or undefined when the SFTP call failed with "no such file". */
async function ifExists<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (op.statusOf(e) === NO_SUCH_FILE) return undefined;
    throw e;
  }
}

/** Regular, non-hidden files of a directory with their sizes; [] when it is missing. */
async function listFiles(sftp: SFTPWrapper, dir: string): Promise<FileInfo[]> {
  const entries = (await ifExists(op.readdir(sftp, dir))) ?? [];
  return entries
    .filter((e) => !e.filename.startsWith('.') && isFile(e.attrs))
    .map((e) => ({ name: e.filename, size: e.attrs.size }));
}

/** mkdir -p: creates missing parents; an existing directory is fine. */
async function mkdirp(sftp: SFTPWrapper, dir: string): Promise<void> {
  try {
    await op.mkdir(sftp, dir, DIR_MODE);
  } catch (e) {
    let err = e;
    const parent = posix.dirname(dir);
    if (op.statusOf(e) === NO_SUCH_FILE && parent !== dir && parent !== '.') {
      await mkdirp(sftp, parent);
      try {
        return await op.mkdir(sftp, dir, DIR_MODE);
      } catch (e2) {
        err = e2;
      }
    }
    if (isDir(await ifExists(op.stat(sftp, dir)))) return;
    throw err;
  }
}

function isDir(a: Attributes | undefined): boolean {
  return a !== undefined && (a.mode & 0o170000) === 0o040000;
}

function isFile(a: Attributes): boolean {
  return (a.mode & 0o170000) === 0o100000;
}
