// How the repository's small files (config, index, snapshots, locks) are
// encoded: JSON, zstd-compressed, then sealed with the master key and an
// associated-data label naming the kind of file. (Trees are blobs in packs,
// sealed with their id as associated data: see pack.ts.)

import zlib from 'node:zlib';
import { open, seal } from './crypto.ts';
import { SafeholdError } from '../core/errors.ts';

const ZSTD_LEVEL = 3;

export function compress(data: Uint8Array, level = ZSTD_LEVEL): Buffer {
  return zlib.zstdCompressSync(data, { params: { [zlib.constants.ZSTD_c_compressionLevel]: level } });
}

export function decompress(data: Uint8Array, expectedLength: number, what: string): Buffer {
  let out: Buffer;
  try {
    out = zlib.zstdDecompressSync(data);
  } catch (e) {
    throw new SafeholdError('CORRUPT', `${what}: cannot decompress`, { cause: e });
  }
  if (expectedLength >= 0 && out.length !== expectedLength) {
    throw new SafeholdError('CORRUPT', `${what}: decompressed to ${out.length} bytes, expected ${expectedLength}`);
  }
  return out;
}

export function encodeObject(key: Buffer, label: string, value: unknown): Buffer {
  return seal(key, compress(Buffer.from(JSON.stringify(value))), Buffer.from(label));
}

export function decodeObject<T>(key: Buffer, label: string, stored: Uint8Array, what: string): T {
  const plain = decompress(open(key, stored, Buffer.from(label), what), -1, what);
  try {
    return JSON.parse(plain.toString('utf8')) as T;
  } catch (e) {
    throw new SafeholdError('CORRUPT', `${what}: not valid JSON`, { cause: e });
  }
}
