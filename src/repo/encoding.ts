// How the repository's small files (config, index, snapshots, locks) are
// encoded: JSON, zstd-compressed, then sealed with the master key and an
// associated-data label naming the kind of file. (Trees are blobs in packs,
// sealed with their id as associated data: see pack.ts.)
// Every decompression here is capped, because a few KiB of zstd can declare
// and inflate to gigabytes: a blob at its declared rawLength, a small file at
// the limit of its kind (SMALL_FILE_LIMITS, which writers respect too).

import zlib from 'node:zlib';
import { open, seal } from './crypto.ts';
import { SafeholdError, sysCode } from '../core/errors.ts';
import { formatBytes } from '../core/format.ts';

const ZSTD_LEVEL = 3;
const MiB = 1024 * 1024;

/**
 * Most bytes a small file of each kind may decompress to (docs/repository-
 * format.md §5). An index entry takes ~140 bytes of JSON (a group member
 * ~180), so 256 MiB is ~1.9 million blobs, about 2 TiB of unique data at
 * 1 MiB chunks, in one index file (prune merges all of them into one).
 */
export const SMALL_FILE_LIMITS: Readonly<Record<string, number>> = {
  config: 1 * MiB,
  locks: 1 * MiB,
  snapshots: 16 * MiB,
  index: 256 * MiB,
};
/** For a label not in SMALL_FILE_LIMITS. */
const DEFAULT_SMALL_FILE_LIMIT = 16 * MiB;
/** Largest blob plaintext the format can describe: rawLength is a u32 in pack headers. */
export const MAX_BLOB_LENGTH = 2 ** 32 - 1;

const ZSTD_MAGIC = 0xfd2fb528;

export function compress(data: Uint8Array, level = ZSTD_LEVEL): Buffer {
  return zlib.zstdCompressSync(data, { params: { [zlib.constants.ZSTD_c_compressionLevel]: level } });
}

/** Decompresses a blob that must be exactly `expectedLength` bytes; never inflates more than that. */
export function decompress(data: Uint8Array, expectedLength: number, what: string): Buffer {
  if (!Number.isSafeInteger(expectedLength) || expectedLength < 1 || expectedLength > MAX_BLOB_LENGTH) {
    throw new SafeholdError('CORRUPT', `${what}: declared length ${String(expectedLength)} is impossible`);
  }
  const out = decompressAtMost(data, expectedLength, what, 'its declared length');
  if (out.length !== expectedLength) {
    throw new SafeholdError('CORRUPT', `${what}: decompressed to ${out.length} bytes, expected ${expectedLength}`);
  }
  return out;
}

/**
 * Decompresses at most `max` bytes: CORRUPT at once when the frame declares
 * more, and as soon as the output passes `max` when it does not say.
 */
export function decompressAtMost(data: Uint8Array, max: number, what: string, limitName = 'the limit'): Buffer {
  const tooLarge = `${what}: decompresses to more than ${limitName} (${formatBytes(max)})`;
  const declared = frameContentSize(data);
  if (declared !== undefined && declared > max) throw new SafeholdError('CORRUPT', tooLarge);
  try {
    return zlib.zstdDecompressSync(data, { maxOutputLength: max });
  } catch (e) {
    if (sysCode(e) === 'ERR_BUFFER_TOO_LARGE') throw new SafeholdError('CORRUPT', tooLarge, { cause: e });
    throw new SafeholdError('CORRUPT', `${what}: cannot decompress`, { cause: e });
  }
}

/**
 * The content size a zstd frame's header declares (RFC 8878 §3.1.1.1), or
 * undefined when it has none or `data` does not start with a zstd frame.
 */
export function frameContentSize(data: Uint8Array): number | undefined {
  if (data.length < 5) return undefined;
  const b = Buffer.from(data.buffer, data.byteOffset, data.length);
  if (b.readUInt32LE(0) !== ZSTD_MAGIC) return undefined;
  const fhd = b[4]!;
  const fcsFlag = fhd >> 6;
  const singleSegment = (fhd >> 5) & 1;
  const fcsBytes = fcsFlag === 0 ? singleSegment : [1, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return undefined;
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][fhd & 3]!;
  if (b.length < at + fcsBytes) return undefined;
  if (fcsBytes === 8) return Number(b.readBigUInt64LE(at));
  const v = b.readUIntLE(at, fcsBytes);
  return fcsBytes === 2 ? v + 256 : v;
}

/** Most bytes a small file with this label may decompress to. */
export function smallFileLimit(label: string): number {
  return SMALL_FILE_LIMITS[label] ?? DEFAULT_SMALL_FILE_LIMIT;
}

/** Seals a value; refuses one larger than readers accept (nothing written is unreadable). */
export function encodeObject(key: Buffer, label: string, value: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(value));
  const limit = smallFileLimit(label);
  if (json.length > limit) {
    throw new SafeholdError(
      'INTERNAL',
      `${label} file would be ${formatBytes(json.length)}, more than the ${formatBytes(limit)} a reader accepts; nothing was written`,
    );
  }
  return seal(key, compress(json), Buffer.from(label));
}

export function decodeObject<T>(key: Buffer, label: string, stored: Uint8Array, what: string): T {
  const plain = decompressAtMost(
    open(key, stored, Buffer.from(label), what),
    smallFileLimit(label),
    what,
    `the ${label} file limit`,
  );
  try {
    return JSON.parse(plain.toString('utf8')) as T;
  } catch (e) {
    throw new SafeholdError('CORRUPT', `${what}: not valid JSON`, { cause: e });
  }
}
