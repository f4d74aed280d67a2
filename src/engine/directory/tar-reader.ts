// Reads the zstd-compressed pax tar archives of directory destinations (our own
// restore path and the tests): lists members, or extracts them under a target
// directory, never outside it: names with '..' and link targets escaping the
// target are refused, no entry is written through a symlinked parent, and
// attributes are never set through a symlink (no-follow.ts): a directory
// replaced by a later member of the same name loses its pending attributes.
// Modes, mtimes (to the nanosecond where the platform allows) and, as root,
// owners are restored. A damaged archive fails with CORRUPT. GNU tar's own
// long-name headers are read too. Format: docs/generations.md.

import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { pipeline } from 'node:stream';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { createZstdDecompress } from 'node:zlib';
import { SafeholdError, fromSystemError, sysCode } from '../../core/errors.ts';
import { applyMeta } from '../restore/no-follow.ts';
import { BLOCK, decodeHeader, isZeroBlock, parsePaxRecords, resolveEntry } from './tar-format.ts';
import type { TarEntry } from './tar-format.ts';

export type { TarEntry, TarEntryType } from './tar-format.ts';

/** The largest pax or GNU long-name header body we accept (a guard against memory bombs). */
const MAX_META = 1024 * 1024;

export interface ExtractOptions {
  /** Restore owners (uid/gid). Default: when running as root. */
  owner?: boolean;
  /** Members that are not extracted (devices, unknown types) and why. */
  onWarning?(path: string, message: string): void;
  /** The input is a plain tar, not zstd-compressed (e.g. pg_basebackup's). Default false. */
  plain?: boolean;
}

export interface ExtractResult {
  /** Members other than directories extracted: files, hard links, symlinks, fifos. */
  files: number;
  /** Content bytes of the regular files written. */
  bytes: number;
}

/** Pulls exact byte counts out of the decompressed stream; maps zstd failures to CORRUPT. */
class ByteSource {
  offset = 0;
  private readonly it: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  private inputError: unknown;
  private done = false;

  constructor(input: Readable, plain = false) {
    input.once('error', (e) => {
      this.inputError = e;
    });
    if (plain) {
      this.it = input[Symbol.asyncIterator]();
      return;
    }
    const dec = createZstdDecompress({ chunkSize: 128 * 1024 });
    pipeline(input, dec, () => {});
    this.it = dec[Symbol.asyncIterator]();
  }

  private async more(): Promise<boolean> {
    if (this.done) return false;
    let r: IteratorResult<Buffer>;
    try {
      r = await this.it.next();
    } catch (e) {
      if (e === this.inputError || !/^(ZSTD_|Z_)/.test(sysCode(e) ?? ''))
        throw fromSystemError(e, 'reading the archive');
      const what = sysCode(e) === 'Z_BUF_ERROR' ? 'it is truncated' : (e as Error).message;
      throw new SafeholdError(
        'CORRUPT',
        `the archive is not a valid zstd stream (${what}) after ${this.offset} bytes of tar data`,
        { cause: e },
      );
    }
    if (r.done) {
      this.done = true;
      return false;
    }
    this.buf = this.buf.length === 0 ? r.value : Buffer.concat([this.buf, r.value]);
    return true;
  }

  /** Exactly n bytes; null at a clean end of stream; CORRUPT when it ends within them. */
  async read(n: number): Promise<Buffer | null> {
    while (this.buf.length < n) {
      if (!(await this.more())) {
        if (this.buf.length === 0) return null;
        throw new SafeholdError(
          'CORRUPT',
          `the archive is truncated at byte ${this.offset + this.buf.length} of tar data`,
        );
      }
    }
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.offset += n;
    return out;
  }

  /** n bytes in pieces as they arrive. */
  async *pieces(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buf.length === 0 && !(await this.more())) {
        throw new SafeholdError('CORRUPT', `the archive is truncated at byte ${this.offset} of tar data`);
      }
      const take = Math.min(left, this.buf.length);
      const out = this.buf.subarray(0, take);
      this.buf = this.buf.subarray(take);
      this.offset += take;
      left -= take;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.pieces(n));
  }

  /** Reads to the end so that zstd verifies its checksum. */
  async drain(): Promise<void> {
    this.buf = Buffer.alloc(0);
    while (await this.more()) this.buf = Buffer.alloc(0);
  }
}

const padded = (n: number): number => Math.ceil(n / BLOCK) * BLOCK;

/** A member and its content; `content` must be consumed before the next member is read, or it is skipped. */
interface Member {
  entry: TarEntry;
  known: boolean;
  content: AsyncGenerator<Buffer>;
}

async function readMeta(src: ByteSource, size: number, offset: number): Promise<Buffer> {
  if (size > MAX_META)
    throw new SafeholdError('CORRUPT', `tar: extended header of ${size} bytes at byte ${offset} is too large`);
  const body = (await src.read(padded(size))) ?? Buffer.alloc(0);
  if (body.length < size) throw new SafeholdError('CORRUPT', `the archive is truncated at byte ${src.offset}`);
  return Buffer.from(body.subarray(0, size));
}

/** The members of a zstd-compressed tar stream, in order. */
async function* members(input: Readable, plain = false): AsyncGenerator<Member> {
  const src = new ByteSource(input, plain);
  const global = new Map<string, string>();
  let local = new Map<string, string>();
  for (;;) {
    const offset = src.offset;
    const h = await src.read(BLOCK);
    if (h === null)
      throw new SafeholdError('CORRUPT', 'the archive ends without its end-of-archive blocks (truncated?)');
    if (isZeroBlock(h)) break;
    const raw = decodeHeader(h, offset);
    if (raw.typeflag === 'x' || raw.typeflag === 'g') {
      const records = parsePaxRecords(await readMeta(src, raw.size, offset));
      for (const [k, v] of records) (raw.typeflag === 'x' ? local : global).set(k, v);
      continue;
    }
    if (raw.typeflag === 'L' || raw.typeflag === 'K') {
      const name = (await readMeta(src, raw.size, offset)).toString('utf8').replace(/\0.*$/s, '');
      const key = raw.typeflag === 'L' ? 'path' : 'linkpath';
      if (!local.has(key)) local.set(key, name);
      continue;
    }
    const { known, ...entry } = resolveEntry(raw, new Map([...global, ...local]));
    local = new Map();
    const bodySize = entry.type === 'file' || !known ? entry.size : raw.size;
    let consumed = false;
    const content = (async function* () {
      consumed = true;
      yield* src.pieces(bodySize);
      await src.skip(padded(bodySize) - bodySize);
    })();
    yield { entry, known, content };
    if (!consumed) await src.skip(padded(bodySize));
  }
  await src.drain();
}

/** Every member of a zstd-compressed tar stream (members of unknown types are left out). */
export async function listTar(input: Readable): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for await (const m of members(input)) if (m.known) out.push(m.entry);
  return out;
}

/** Path components of a member name; throws UNSAFE_PATH for '..'. Leading '/' and '.' components are dropped. */
function safeParts(name: string, what: string): string[] {
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  if (parts.includes('..'))
    throw new SafeholdError(
      'UNSAFE_PATH',
      `refusing to extract ${what} ${JSON.stringify(name)}: it would escape the target directory`,
    );
  if (parts.some((c) => c.includes('\0')))
    throw new SafeholdError('CORRUPT', `tar: member name with a NUL byte: ${JSON.stringify(name)}`);
  return parts;
}

const toTime = (ns: bigint): number => Number(ns / 1000n) / 1e6;

class Extractor {
  readonly result: ExtractResult = { files: 0, bytes: 0 };
  private readonly root: string;
  private readonly opts: ExtractOptions;
  private readonly owner: boolean;
  /** Relative paths known to be real directories (not symlinks) in this run. */
  private readonly dirs = new Set<string>(['']);
  private readonly dirMeta: { abs: string; entry: TarEntry }[] = [];

  constructor(root: string, opts: ExtractOptions) {
    this.root = root;
    this.opts = opts;
    this.owner = opts.owner ?? process.getuid?.() === 0;
  }

  /** Makes sure every parent of `parts` is a real directory inside the root, creating missing ones. */
  private async parents(parts: string[], name: string): Promise<void> {
    for (let i = 1; i < parts.length; i++) {
      const rel = parts.slice(0, i).join('/');
      if (this.dirs.has(rel)) continue;
      const abs = path.join(this.root, rel);
      let st: fs.Stats | undefined;
      try {
        st = await fsp.lstat(abs);
      } catch (e) {
        if (sysCode(e) !== 'ENOENT') throw fromSystemError(e, `extracting ${name}`);
      }
      if (st === undefined) await fsp.mkdir(abs, { mode: 0o755 });
      else if (st.isSymbolicLink())
        throw new SafeholdError(
          'UNSAFE_PATH',
          `refusing to extract ${JSON.stringify(name)}: its parent ${rel} is a symlink (it could lead outside the target directory)`,
        );
      else if (!st.isDirectory())
        throw new SafeholdError('IO', `cannot extract ${JSON.stringify(name)}: ${rel} is not a directory`);
      this.dirs.add(rel);
    }
  }

  /** Removes what is at `abs` so a non-directory can take its place (an empty directory included). */
  private async clear(abs: string, rel: string): Promise<void> {
    let st: fs.Stats;
    try {
      st = await fsp.lstat(abs);
    } catch (e) {
      if (sysCode(e) === 'ENOENT') return;
      throw e;
    }
    if (st.isDirectory()) {
      await fsp.rmdir(abs);
      for (const d of this.dirs) if (d === rel || d.startsWith(`${rel}/`)) this.dirs.delete(d);
      // Its attributes must not be applied to what takes its place (a symlink could lead outside).
      const gone = (m: { abs: string }) => m.abs === abs || m.abs.startsWith(`${abs}/`);
      for (let i = this.dirMeta.length - 1; i >= 0; i--) if (gone(this.dirMeta[i]!)) this.dirMeta.splice(i, 1);
    } else await fsp.unlink(abs);
  }

  async extract(m: Member): Promise<void> {
    const e = m.entry;
    const parts = safeParts(e.path, 'member');
    if (parts.length === 0) {
      if (e.type === 'dir') this.dirMeta.push({ abs: this.root, entry: e });
      return;
    }
    const rel = parts.join('/');
    if (!m.known || e.type === 'chardev' || e.type === 'blockdev') {
      this.opts.onWarning?.(
        e.path,
        m.known ? `${e.type} members are not extracted` : 'member of an unknown type left out',
      );
      return;
    }
    await this.parents(parts, e.path);
    const abs = path.join(this.root, rel);
    try {
      await this.create(m, abs, rel);
    } catch (err) {
      throw fromSystemError(err, `extracting ${e.path}`);
    }
  }

  private async create(m: Member, abs: string, rel: string): Promise<void> {
    const e = m.entry;
    switch (e.type) {
      case 'dir': {
        const st = await fsp.lstat(abs).catch(() => undefined);
        if (!st?.isDirectory()) {
          if (st) await this.clear(abs, rel);
          await fsp.mkdir(abs, { mode: 0o700 });
        }
        this.dirs.add(rel);
        this.dirMeta.push({ abs, entry: e });
        return;
      }
      case 'file':
        await this.clear(abs, rel);
        await this.file(m, abs);
        break;
      case 'symlink':
        await this.clear(abs, rel);
        await fsp.symlink(e.linkpath ?? '', abs);
        if (this.owner) await fsp.lchown(abs, e.uid, e.gid);
        await fsp.lutimes(abs, toTime(e.mtimeNs), toTime(e.mtimeNs));
        break;
      case 'hardlink': {
        const targetParts = safeParts(e.linkpath ?? '', 'hard link target');
        if (targetParts.length === 0)
          throw new SafeholdError('CORRUPT', `tar: hard link ${JSON.stringify(e.path)} has no target`);
        await this.parents(targetParts, e.linkpath ?? '');
        await this.clear(abs, rel);
        await fsp.link(path.join(this.root, ...targetParts), abs);
        break;
      }
      case 'fifo':
        await this.clear(abs, rel);
        await promisify(execFile)('mkfifo', ['-m', '600', abs]);
        await this.meta(abs, e);
        break;
      default:
        throw new SafeholdError('INTERNAL', `unhandled tar member type ${e.type}`);
    }
    this.result.files++;
  }

  private async file(m: Member, abs: string): Promise<void> {
    const e = m.entry;
    const fh = await fsp.open(
      abs,
      fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW,
      0o600,
    );
    try {
      for await (const piece of m.content) {
        let off = 0;
        while (off < piece.length) off += (await fh.write(piece, off, piece.length - off)).bytesWritten;
      }
      if (this.owner) await fh.chown(e.uid, e.gid);
      await fh.chmod(e.mode);
      await fh.utimes(toTime(e.mtimeNs), toTime(e.mtimeNs));
    } finally {
      await fh.close();
    }
    this.result.bytes += e.size;
  }

  /** Owner, mode and times of a directory or fifo, never through a symlink. */
  private async meta(abs: string, e: TarEntry): Promise<void> {
    const type = e.type === 'dir' ? 'dir' : 'fifo';
    applyMeta(abs, { type, mode: e.mode, uid: e.uid, gid: e.gid, mtime: toTime(e.mtimeNs) }, this.owner);
  }

  /** Directory modes and mtimes last, deepest first: writing into a directory changes its mtime. */
  async finish(): Promise<void> {
    for (const { abs, entry } of this.dirMeta.reverse()) {
      try {
        await this.meta(abs, entry);
      } catch (err) {
        throw fromSystemError(err, `setting the attributes of ${entry.path}`);
      }
    }
  }
}

/**
 * Extracts a zstd-compressed tar stream under `targetDir` (created when
 * missing). Throws CORRUPT for a damaged archive and UNSAFE_PATH for a member
 * that would land outside `targetDir`; members extracted before the failure
 * stay (under `targetDir` only).
 */
export async function extractTar(
  input: Readable,
  targetDir: string,
  opts: ExtractOptions = {},
): Promise<ExtractResult> {
  let root: string;
  try {
    await fsp.mkdir(targetDir, { recursive: true });
    root = await fsp.realpath(targetDir);
  } catch (e) {
    throw fromSystemError(e, `creating ${targetDir}`);
  }
  const x = new Extractor(root, opts);
  const it = members(input, opts.plain);
  try {
    for await (const m of it) await x.extract(m);
  } finally {
    if (!input.destroyed) input.destroy();
  }
  await x.finish();
  return x.result;
}
