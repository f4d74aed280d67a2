// How blob contents are compressed before they are sealed. Two profiles:
//
//   'default'  zstd level 3 (file contents, trees).
//   'dump'     database dumps and other text streams: zstd level 3 first (with
//              its settings for small inputs, also on 1 MiB groups); a
//              chunk that this shrinks at least 3× is compressed again with
//              zstd's optimal parser (btopt, minMatch 4, targetLength 32) and
//              the smaller result is kept. On such text the optimal parser is
//              fast (60–80 MB/s on pgbench dumps) and stores 8–17 % less; on
//              data that compresses less it would cost 5–10× the CPU for 1–5 %,
//              so those chunks keep level 3 (bench/README.md, "Databases").
//
// Both store a blob raw (rawLength 0) when compression saves under 2 %, and
// both are read the same way: readers only ever see zstd frames.
// compressBlobAsync runs zstd on libuv's thread pool, so a stream's chunks
// compress in parallel while the main thread chunks and hashes the next ones.

import zlib from 'node:zlib';
import { promisify } from 'node:util';

export type BlobCompression = 'default' | 'dump';

export interface CompressedBlob {
  /** What is sealed: the zstd frame, or the plaintext itself when rawLength is 0. */
  stored: Uint8Array;
  /** Plaintext length when stored compressed; 0 when stored raw. */
  rawLength: number;
}

const C = zlib.constants;
const LEVEL_3 = { params: { [C.ZSTD_c_compressionLevel]: 3 } };
/**
 * Level 3 as zstd sets it for inputs up to 128 KiB, for inputs of any size:
 * on 1 MiB dump groups of rows with hashes or text it stores 3–4 % less than
 * level 3's own large-input settings, and runs faster (bench/README.md).
 */
const LEVEL_3_SMALL = {
  params: {
    [C.ZSTD_c_compressionLevel]: 3,
    [C.ZSTD_c_windowLog]: 17,
    [C.ZSTD_c_chainLog]: 15,
    [C.ZSTD_c_hashLog]: 16,
    [C.ZSTD_c_searchLog]: 2,
  },
};
const OPTIMAL = {
  params: {
    [C.ZSTD_c_compressionLevel]: 6,
    [C.ZSTD_c_strategy]: C.ZSTD_btopt,
    [C.ZSTD_c_minMatch]: 4,
    [C.ZSTD_c_targetLength]: 32,
  },
};
/** A chunk shrunk at least this much by level 3 is worth the optimal parser. */
const OPTIMAL_FROM_RATIO = 3;
/** Below this, zstd's frame header costs more than it can save. */
const MIN_COMPRESS = 64;

const zstdAsync = promisify(zlib.zstdCompress) as (data: Uint8Array, opts: zlib.ZstdOptions) => Promise<Buffer>;

/** Compresses one blob's plaintext with the profile (on the calling thread). */
export function compressBlob(data: Uint8Array, profile: BlobCompression = 'default'): CompressedBlob {
  if (data.length < MIN_COMPRESS) return raw(data);
  let c = zlib.zstdCompressSync(data, profile === 'dump' ? LEVEL_3_SMALL : LEVEL_3);
  if (profile === 'dump' && c.length * OPTIMAL_FROM_RATIO <= data.length) {
    const o = zlib.zstdCompressSync(data, OPTIMAL);
    if (o.length < c.length) c = o;
  }
  return choose(data, c);
}

/** compressBlob on libuv's thread pool; the caller must not modify `data` until it resolves. */
export async function compressBlobAsync(
  data: Uint8Array,
  profile: BlobCompression = 'default',
): Promise<CompressedBlob> {
  if (data.length < MIN_COMPRESS) return raw(data);
  // The pledged size makes the frame (and zstd's parameter choice) the same as compressBlob's.
  let c = await zstdAsync(data, { ...(profile === 'dump' ? LEVEL_3_SMALL : LEVEL_3), pledgedSrcSize: data.length });
  if (profile === 'dump' && c.length * OPTIMAL_FROM_RATIO <= data.length) {
    const o = await zstdAsync(data, { ...OPTIMAL, pledgedSrcSize: data.length });
    if (o.length < c.length) c = o;
  }
  return choose(data, c);
}

function raw(data: Uint8Array): CompressedBlob {
  return { stored: data, rawLength: 0 };
}

/** Keeps the compressed form only if it saves at least 2 %. */
function choose(data: Uint8Array, c: Buffer): CompressedBlob {
  return c.length < data.length * 0.98 ? { stored: c, rawLength: data.length } : raw(data);
}
