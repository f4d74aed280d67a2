// The POSIX pax tar format (ustar headers plus pax extended headers) as used by
// directory destinations: encoding one entry's header blocks for the tar
// writer, decoding header blocks and pax records for the tar reader. Values
// that do not fit a ustar field (long or non-ASCII names, sizes ≥ 8 GiB,
// sub-second mtimes, large ids, long user names) go into a pax 'x' header;
// numeric fields that overflow also carry GNU base-256 so older readers cope.
// See docs/generations.md, "Directory destinations: file format".

import { SafeholdError } from '../../core/errors.ts';

export const BLOCK = 512;

export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo' | 'chardev' | 'blockdev';

/** One archive member, as written and as read back. */
export interface TarEntry {
  /** Member name without a leading '/' and without a trailing '/' for directories. */
  path: string;
  type: TarEntryType;
  /** Bytes of content that follow the header (0 except for files). */
  size: number;
  /** Permission bits including setuid/setgid/sticky (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Modification time in nanoseconds since the epoch. */
  mtimeNs: bigint;
  /** Symlink target, or the earlier member a hard link points at. */
  linkpath?: string;
  devmajor?: number;
  devminor?: number;
}

const TYPEFLAG: Record<TarEntryType, string> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  chardev: '3',
  blockdev: '4',
  dir: '5',
  fifo: '6',
};
const NS_PER_S = 1_000_000_000n;

/** Field offsets and lengths of a ustar header. */
const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const;

type Field = keyof typeof F;

// biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII without NUL is exactly what a ustar field holds
const isAscii = (s: string): boolean => /^[\x01-\x7f]*$/.test(s);

/**
 * Writes an octal number (NUL-terminated) or, when it does not fit, GNU
 * base-256, into the header block at `base`.
 */
function putNumber(h: Buffer, base: number, field: Field, value: number | bigint): void {
  const [off, len] = F[field];
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < 8 ** (len - 1)) {
    h.write(value.toString(8).padStart(len - 1, '0'), base + off, len - 1, 'latin1');
    h[base + off + len - 1] = 0;
    return;
  }
  const v0 = BigInt(value);
  const max = 8n ** BigInt(len - 1);
  if (v0 >= 0n && v0 < max) {
    h.write(v0.toString(8).padStart(len - 1, '0'), base + off, len - 1, 'latin1');
    h[base + off + len - 1] = 0;
    return;
  }
  let v = v0 < 0n ? (1n << BigInt(8 * len)) + v0 : v0; // two's complement for negatives
  for (let i = len - 1; i >= 1; i--) {
    h[base + off + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  h[base + off] = v0 < 0n ? 0xff : 0x80;
}

/** Writes an ASCII string (every caller passes one), cut to the field's length. */
function putString(h: Buffer, base: number, field: Field, s: string): void {
  const [off, len] = F[field];
  if (s) h.write(s, base + off, len, 'latin1');
}

/** One pax record: "<len> <key>=<value>\n", where len counts the whole record. */
export function paxRecord(key: string, value: string): Buffer {
  return Buffer.from(paxRecordText(key, value), 'utf8');
}

function paxRecordText(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return `${len}${body}`;
}

/** Seconds with up to nine fraction digits, trailing zeros dropped: 1700000000.5 */
export function formatPaxTime(ns: bigint): string {
  const neg = ns < 0n;
  const abs = neg ? -ns : ns;
  const sec = abs / NS_PER_S;
  const frac = (abs % NS_PER_S).toString().padStart(9, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${sec}${frac ? `.${frac}` : ''}`;
}

export function parsePaxTime(s: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(s.trim());
  if (!m) throw new SafeholdError('CORRUPT', `tar: bad pax time ${JSON.stringify(s)}`);
  const ns = BigInt(m[2]!) * NS_PER_S + BigInt((m[3] ?? '').slice(0, 9).padEnd(9, '0'));
  return m[1] ? -ns : ns;
}

/** Splits an ASCII name into ustar prefix and name, or undefined when it cannot be. */
function splitUstar(name: string): { prefix: string; name: string } | undefined {
  if (!isAscii(name)) return undefined;
  if (name.length <= 100) return { prefix: '', name };
  for (let i = name.indexOf('/'); i >= 0; i = name.indexOf('/', i + 1)) {
    if (i <= 155 && name.length - i - 1 <= 100 && i > 0 && i < name.length - 1)
      return { prefix: name.slice(0, i), name: name.slice(i + 1) };
  }
  return undefined;
}

/** Writes a bare ustar header block (checksum filled in) at `base` of `h`, whose 512 bytes must be zero. */
function ustarBlock(
  h: Buffer,
  base: number,
  e: TarEntry,
  name: { prefix: string; name: string },
  linkname: string,
  typeflag: string,
): void {
  putString(h, base, 'name', name.name);
  putString(h, base, 'prefix', name.prefix);
  putNumber(h, base, 'mode', e.mode & 0o7777);
  putNumber(h, base, 'uid', e.uid);
  putNumber(h, base, 'gid', e.gid);
  putNumber(h, base, 'size', e.size);
  const sec = e.mtimeNs >= 0n ? e.mtimeNs / NS_PER_S : -((-e.mtimeNs + NS_PER_S - 1n) / NS_PER_S);
  putNumber(h, base, 'mtime', sec <= BigInt(Number.MAX_SAFE_INTEGER) && sec >= 0n ? Number(sec) : sec);
  h[base + F.typeflag[0]] = typeflag.charCodeAt(0);
  putString(h, base, 'linkname', linkname);
  h.write('ustar\0', base + F.magic[0], 6, 'latin1');
  h.write('00', base + F.version[0], 2, 'latin1');
  putString(h, base, 'uname', isAscii(e.uname) && e.uname.length < 32 ? e.uname : '');
  putString(h, base, 'gname', isAscii(e.gname) && e.gname.length < 32 ? e.gname : '');
  if (e.type === 'chardev' || e.type === 'blockdev') {
    putNumber(h, base, 'devmajor', e.devmajor ?? 0);
    putNumber(h, base, 'devminor', e.devminor ?? 0);
  }
  h.fill(0x20, base + F.chksum[0], base + F.chksum[0] + 8);
  let sum = 0;
  for (let i = base; i < base + BLOCK; i++) sum += h[i]!;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, base + F.chksum[0], 8, 'latin1');
}

/** The last `max` bytes' worth of a name, as ASCII (a fallback for readers without pax). */
function fallbackName(name: string, max: number): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_');
  return ascii.length <= max ? ascii : ascii.slice(ascii.length - max);
}

/** The header blocks of one entry: an optional pax 'x' header with its records, then the ustar header. */
export function encodeHeader(e: TarEntry): Buffer {
  const stored = e.type === 'dir' ? `${e.path}/` : e.path;
  let records = '';
  let name = splitUstar(stored);
  if (!name) {
    records += paxRecordText('path', stored);
    name = { prefix: '', name: fallbackName(stored, 100) };
  }
  let linkname = e.linkpath ?? '';
  if (linkname && (!isAscii(linkname) || linkname.length > 100)) {
    records += paxRecordText('linkpath', linkname);
    linkname = fallbackName(linkname, 100);
  }
  if (e.size >= 8 ** 11) records += paxRecordText('size', String(e.size));
  if (e.mtimeNs % NS_PER_S !== 0n || e.mtimeNs < 0n || e.mtimeNs >= 8n ** 11n * NS_PER_S)
    records += paxRecordText('mtime', formatPaxTime(e.mtimeNs));
  if (e.uid >= 8 ** 7) records += paxRecordText('uid', String(e.uid));
  if (e.gid >= 8 ** 7) records += paxRecordText('gid', String(e.gid));
  if (!isAscii(e.uname) || e.uname.length >= 32) records += paxRecordText('uname', e.uname);
  if (!isAscii(e.gname) || e.gname.length >= 32) records += paxRecordText('gname', e.gname);
  if (records === '') {
    const h = Buffer.allocUnsafe(BLOCK).fill(0);
    ustarBlock(h, 0, e, name, linkname, TYPEFLAG[e.type]);
    return h;
  }
  const bodyLen = Buffer.byteLength(records);
  const bodyBlocks = Math.ceil(bodyLen / BLOCK) * BLOCK;
  const h = Buffer.allocUnsafe(2 * BLOCK + bodyBlocks).fill(0);
  h.write(records, BLOCK, bodyLen, 'utf8');
  const base = stored.replace(/\/$/, '').split('/').pop() ?? '';
  const paxEntry: TarEntry = {
    path: '',
    type: 'file',
    size: bodyLen,
    mode: 0o644,
    uid: e.uid < 8 ** 7 ? e.uid : 0,
    gid: e.gid < 8 ** 7 ? e.gid : 0,
    uname: '',
    gname: '',
    mtimeNs: e.mtimeNs >= 0n ? e.mtimeNs : 0n,
  };
  ustarBlock(h, 0, paxEntry, { prefix: '', name: fallbackName(`PaxHeaders/${base}`, 100) }, '', 'x');
  ustarBlock(h, BLOCK + bodyBlocks, e, name, linkname, TYPEFLAG[e.type]);
  return h;
}

/** Reads a numeric field: octal text or GNU base-256. */
function getNumber(h: Buffer, field: Field): bigint {
  const [off, len] = F[field];
  const first = h[off]!;
  if (first & 0x80) {
    let v = BigInt(first & 0x7f);
    for (let i = 1; i < len; i++) v = (v << 8n) | BigInt(h[off + i]!);
    if (first === 0xff) v -= 1n << BigInt(8 * len - 1); // negative (two's complement)
    return v;
  }
  const text = h
    .toString('ascii', off, off + len)
    .replace(/[\0 ]+$/, '')
    .replace(/^[\0 ]+/, '');
  if (text === '') return 0n;
  if (!/^[0-7]+$/.test(text))
    throw new SafeholdError('CORRUPT', `tar: bad ${field} field ${JSON.stringify(text)} in header`);
  return BigInt(`0o${text}`);
}

function getString(h: Buffer, field: Field): string {
  const [off, len] = F[field];
  const end = h.indexOf(0, off);
  return h.toString('utf8', off, end < 0 || end > off + len ? off + len : end);
}

/** A raw decoded header block: typeflag and fields before pax overrides. */
export interface RawHeader {
  typeflag: string;
  path: string;
  linkpath: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtimeNs: bigint;
  devmajor: number;
  devminor: number;
}

export function isZeroBlock(b: Buffer): boolean {
  for (let i = 0; i < BLOCK; i++) if (b[i] !== 0) return false;
  return true;
}

/** Decodes and verifies one header block; throws CORRUPT on a bad checksum or field. */
export function decodeHeader(h: Buffer, offset: number): RawHeader {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= F.chksum[0] && i < F.chksum[0] + 8 ? 0x20 : h[i]!;
  const stored = Number(getNumber(h, 'chksum'));
  if (stored !== sum)
    throw new SafeholdError(
      'CORRUPT',
      `tar: header checksum mismatch at byte ${offset} of the archive (stored ${stored}, computed ${sum})`,
    );
  const magic = h.toString('ascii', F.magic[0], F.magic[0] + 5);
  const prefix = magic === 'ustar' ? getString(h, 'prefix') : '';
  const name = getString(h, 'name');
  const size = getNumber(h, 'size');
  if (size < 0n || size > BigInt(Number.MAX_SAFE_INTEGER))
    throw new SafeholdError('CORRUPT', `tar: bad size ${size} at byte ${offset}`);
  return {
    typeflag: String.fromCharCode(h[F.typeflag[0]]!) || '0',
    path: prefix ? `${prefix}/${name}` : name,
    linkpath: getString(h, 'linkname'),
    size: Number(size),
    mode: Number(getNumber(h, 'mode') & 0o7777n),
    uid: Number(getNumber(h, 'uid')),
    gid: Number(getNumber(h, 'gid')),
    uname: getString(h, 'uname'),
    gname: getString(h, 'gname'),
    mtimeNs: getNumber(h, 'mtime') * NS_PER_S,
    devmajor: Number(getNumber(h, 'devmajor')),
    devminor: Number(getNumber(h, 'devminor')),
  };
}

/** Parses the body of a pax 'x' or 'g' header into key → value. */
export function parsePaxRecords(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let pos = 0;
  while (pos < body.length) {
    if (body[pos] === 0) break; // padding
    const space = body.indexOf(0x20, pos);
    const len = space > pos ? Number(body.toString('ascii', pos, space)) : NaN;
    if (!Number.isInteger(len) || len <= 0 || pos + len > body.length || body[pos + len - 1] !== 0x0a) {
      throw new SafeholdError('CORRUPT', 'tar: malformed pax extended header record');
    }
    const rec = body.toString('utf8', space + 1, pos + len - 1);
    const eq = rec.indexOf('=');
    if (eq <= 0) throw new SafeholdError('CORRUPT', 'tar: malformed pax extended header record');
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    pos += len;
  }
  return out;
}

const TYPE_BY_FLAG: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'chardev',
  '4': 'blockdev',
  '5': 'dir',
  '6': 'fifo',
};

/** Applies pax overrides (global and local, merged by the caller) to a raw header; `known` is false for type flags we do not know. */
export function resolveEntry(raw: RawHeader, pax: Map<string, string>): TarEntry & { known: boolean } {
  const num = (key: string, fallback: number): number => {
    const v = pax.get(key);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0)
      throw new SafeholdError('CORRUPT', `tar: bad pax ${key} ${JSON.stringify(v)}`);
    return n;
  };
  let type = TYPE_BY_FLAG[raw.typeflag];
  let p = pax.get('path') ?? raw.path;
  if (type === 'file' && p.endsWith('/')) type = 'dir'; // old-style directory
  p = p.replace(/\/+$/, '');
  const entry: TarEntry & { known: boolean } = {
    known: type !== undefined,
    path: p,
    type: type ?? 'file',
    size: num('size', raw.size),
    mode: raw.mode,
    uid: num('uid', raw.uid),
    gid: num('gid', raw.gid),
    uname: pax.get('uname') ?? raw.uname,
    gname: pax.get('gname') ?? raw.gname,
    mtimeNs: pax.has('mtime') ? parsePaxTime(pax.get('mtime')!) : raw.mtimeNs,
  };
  const link = pax.get('linkpath') ?? raw.linkpath;
  if (type === 'symlink' || type === 'hardlink') entry.linkpath = link;
  if (type === 'chardev' || type === 'blockdev') {
    entry.devmajor = raw.devmajor;
    entry.devminor = raw.devminor;
  }
  return entry;
}
