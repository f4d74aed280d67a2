// Content-defined chunking (FastCDC, Xia et al. 2016/2020) with a keyed gear
// hash, used to split file contents into deduplicable blobs.
//
// Parameters (DEFAULT_CHUNKER_PARAMS): minSize 512 KiB, avgSize 1 MiB (must be
// a power of two), maxSize 8 MiB. For a chunk starting at offset s:
//   - the first minSize bytes are skipped, not hashed (cut-point skipping);
//   - from s+minSize the gear hash h = ((h << 1) + gear[byte]) mod 2^32 is
//     rolled from h = 0; bit k of h depends only on the last k+1 bytes, so the
//     hash is a 32-byte sliding window with no removal step;
//   - while the chunk is shorter than avgSize, a cut is made after the byte
//     for which (h & maskS) === 0, with maskS of log2(avgSize)+2 bits (strict);
//   - from avgSize on, the looser maskL of log2(avgSize)-2 bits is used
//     (normalized chunking, level 2): sizes concentrate around avgSize;
//   - at maxSize the chunk is cut unconditionally.
// Mask bits are spread evenly over the top min(32, 2n) bits of the word (n =
// number of bits), starting at bit 31, e.g. for the defaults (log2 avg = 20)
// maskS has 22 bits (0xedb6edb6) and maskL 18 (0xd5aad5aa); with avg 256,
// maskS has 10 bits (0xaaaaa000) and maskL 6 (0xaaa00000) - see computeMasks.
// The gear table is derived from a secret per-repository seed (HMAC-SHA256),
// so chunk boundaries, and hence chunk sizes, do not reveal content that
// could be matched across repositories.

import { createHmac } from 'node:crypto';

export interface ChunkerParams {
  minSize: number;
  avgSize: number;
  maxSize: number;
}

export const DEFAULT_CHUNKER_PARAMS: ChunkerParams = {
  minSize: 512 * 1024,
  avgSize: 1024 * 1024,
  maxSize: 8 * 1024 * 1024,
};

/** The two cut masks, as signed 32-bit integers (for `(h & mask) === 0`). */
export interface ChunkerMasks {
  /** log2(avgSize)+2 bits: used while the chunk is shorter than avgSize. */
  maskS: number;
  /** log2(avgSize)-2 bits: used from avgSize up to maxSize. */
  maskL: number;
}

const MIN_AVG_SIZE = 64;
const MAX_AVG_SIZE = 1 << 28;
const MAX_MAX_SIZE = 1 << 30;
const MIN_SEED_BYTES = 16;

/** Throws a plain Error naming the problem unless `p` are usable parameters. */
export function validateChunkerParams(p: ChunkerParams): void {
  const { minSize, avgSize, maxSize } = p;
  for (const [name, v] of [
    ['minSize', minSize],
    ['avgSize', avgSize],
    ['maxSize', maxSize],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new Error(`chunker: ${name} must be a positive integer, got ${String(v)}`);
    }
  }
  if ((avgSize & (avgSize - 1)) !== 0 || avgSize < MIN_AVG_SIZE || avgSize > MAX_AVG_SIZE) {
    throw new Error(
      `chunker: avgSize must be a power of two between ${MIN_AVG_SIZE} and ${MAX_AVG_SIZE}, got ${avgSize}`,
    );
  }
  if (!(minSize <= avgSize && avgSize <= maxSize)) {
    throw new Error(
      `chunker: sizes must satisfy minSize <= avgSize <= maxSize, got ${minSize} / ${avgSize} / ${maxSize}`,
    );
  }
  if (maxSize > MAX_MAX_SIZE) {
    throw new Error(`chunker: maxSize must be at most ${MAX_MAX_SIZE}, got ${maxSize}`);
  }
}

/** `bits` mask bits spread evenly over the top min(32, 2*bits) bits, from bit 31 down. */
function spreadMask(bits: number): number {
  const span = Math.min(32, 2 * bits);
  let m = 0;
  for (let i = 0; i < bits; i++) m |= 1 << (31 - Math.floor((i * span) / bits));
  return m | 0;
}

/** The strict and loose masks for a (validated) power-of-two avgSize. */
export function computeMasks(avgSize: number): ChunkerMasks {
  const bits = Math.round(Math.log2(avgSize));
  return { maskS: spreadMask(bits + 2), maskL: spreadMask(bits - 2) };
}

/**
 * The 256-entry gear table for a repository: entry i is the big-endian
 * uint32 at offset 4*i of HMAC-SHA256(seed, "safehold/chunker/gear/v1" ||
 * uint32be(j)) for j = 0..31 concatenated. Same seed, same table.
 */
export function gearTable(seed: Uint8Array): Uint32Array {
  if (seed.length < MIN_SEED_BYTES) {
    throw new Error(`chunker: gear seed must be at least ${MIN_SEED_BYTES} bytes, got ${seed.length}`);
  }
  const label = Buffer.from('safehold/chunker/gear/v1', 'utf8');
  const table = new Uint32Array(256);
  const ctr = Buffer.alloc(4);
  for (let block = 0; block < 32; block++) {
    ctr.writeUInt32BE(block, 0);
    const d = createHmac('sha256', seed).update(label).update(ctr).digest();
    for (let k = 0; k < 8; k++) table[block * 8 + k] = d.readUInt32BE(4 * k);
  }
  return table;
}

/** Rolling state of a chunk in progress: bytes consumed so far and the hash. */
export interface CutState {
  len: number;
  h: number;
}

/**
 * The core loop. Continues the chunk described by `st` over buf[start, end)
 * (buf[start] is byte number st.len of the chunk) and returns the index in
 * buf just past the chunk's last byte, or -1 if the chunk does not end
 * before `end`. On a cut `st` is reset for the next chunk; otherwise it is
 * updated so that scanning can resume on the next buffer. `gear` is the
 * table viewed as an Int32Array (see toInt32Gear).
 */
export function scanCut(
  buf: Uint8Array,
  start: number,
  end: number,
  st: CutState,
  minSize: number,
  avgSize: number,
  maxSize: number,
  gear: Int32Array,
  maskS: number,
  maskL: number,
): number {
  let len = st.len;
  let i = start;
  if (len < minSize) {
    const skip = Math.min(minSize - len, end - i);
    i += skip;
    len += skip;
    if (len < minSize) {
      st.len = len;
      return -1;
    }
  }
  let h = st.h;
  // Strict region: chunk offsets [len, avgSize).
  if (len < avgSize) {
    const base = i;
    const stop = Math.min(end, i + (avgSize - len));
    for (; i < stop; i++) {
      h = ((h << 1) + gear[buf[i]]) | 0;
      if ((h & maskS) === 0) {
        st.len = 0;
        st.h = 0;
        return i + 1;
      }
    }
    len += i - base;
  }
  // Loose region: chunk offsets [len, maxSize).
  if (len < maxSize) {
    const base = i;
    const stop = Math.min(end, i + (maxSize - len));
    for (; i < stop; i++) {
      h = ((h << 1) + gear[buf[i]]) | 0;
      if ((h & maskL) === 0) {
        st.len = 0;
        st.h = 0;
        return i + 1;
      }
    }
    len += i - base;
  }
  if (len >= maxSize) {
    st.len = 0;
    st.h = 0;
    return i;
  }
  st.len = len;
  st.h = h;
  return -1;
}

/** The gear table as signed 32-bit values (same buffer), for int32 arithmetic. */
export function toInt32Gear(gear: Uint32Array): Int32Array {
  if (gear.length !== 256) throw new Error(`chunker: gear table must have 256 entries, got ${gear.length}`);
  return new Int32Array(gear.buffer, gear.byteOffset, 256);
}

/**
 * End (exclusive) of the chunk starting at buf[start] when buf[start, end) is
 * all the remaining data: a content-defined cut, the maxSize cut, or `end`.
 * Returns `start` only if start === end.
 */
export function findCut(
  buf: Uint8Array,
  start: number,
  end: number,
  params: ChunkerParams,
  gear: Int32Array,
  masks: ChunkerMasks,
): number {
  const st: CutState = { len: 0, h: 0 };
  const cut = scanCut(
    buf,
    start,
    end,
    st,
    params.minSize,
    params.avgSize,
    params.maxSize,
    gear,
    masks.maskS,
    masks.maskL,
  );
  return cut < 0 ? end : cut;
}

/**
 * Splits `data` into chunks, returned as views (subarrays) of `data`. Empty
 * input gives no chunks; input of at most minSize bytes gives one chunk.
 */
export function chunkBuffer(data: Uint8Array, params: ChunkerParams, gear: Uint32Array): Uint8Array[] {
  validateChunkerParams(params);
  const g = toInt32Gear(gear);
  const masks = computeMasks(params.avgSize);
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < data.length) {
    const cut = findCut(data, pos, data.length, params, g, masks);
    out.push(data.subarray(pos, cut));
    pos = cut;
  }
  return out;
}

/**
 * Streaming chunker: push() the bytes of one stream in any pieces, then
 * finish(). The chunks are exactly those chunkBuffer() gives for the
 * concatenation of all pushed bytes.
 *
 * Ownership: push() takes over `data`. A chunk that lies within one pushed
 * buffer is returned as a view (subarray) of it, without copying; a chunk
 * spanning several pushes is copied once into a fresh Buffer. The chunker
 * never writes to or reuses any buffer, so returned chunks stay valid after
 * later pushes - provided the caller does not modify a buffer after pushing
 * it (pass fresh buffers, e.g. those a Node stream emits; do not recycle one
 * read buffer).
 *
 * finish() returns the last chunk (null if there is none) and resets the
 * chunker, which can then be used for the next stream.
 */
export class Chunker {
  readonly params: ChunkerParams;
  readonly #gear: Int32Array;
  readonly #masks: ChunkerMasks;
  readonly #st: CutState = { len: 0, h: 0 };
  #pending: Uint8Array[] = [];
  #pendingLen = 0;

  constructor(params: ChunkerParams, gear: Uint32Array) {
    validateChunkerParams(params);
    this.params = { minSize: params.minSize, avgSize: params.avgSize, maxSize: params.maxSize };
    this.#gear = toInt32Gear(gear);
    this.#masks = computeMasks(params.avgSize);
  }

  /** Feeds bytes; returns the chunks completed by them (possibly none). */
  push(data: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    const { minSize, avgSize, maxSize } = this.params;
    const { maskS, maskL } = this.#masks;
    const n = data.length;
    let pos = 0;
    while (pos < n) {
      const cut = scanCut(data, pos, n, this.#st, minSize, avgSize, maxSize, this.#gear, maskS, maskL);
      if (cut < 0) {
        this.#pending.push(data.subarray(pos));
        this.#pendingLen += n - pos;
        break;
      }
      out.push(this.#take(data.subarray(pos, cut)));
      pos = cut;
    }
    return out;
  }

  /** Returns the final (partial) chunk, or null if no bytes are pending; resets. */
  finish(): Uint8Array | null {
    const last = this.#pendingLen > 0 ? this.#take(new Uint8Array(0)) : null;
    this.#st.len = 0;
    this.#st.h = 0;
    return last;
  }

  /** The pending pieces followed by `tail`, as one array; clears pending. */
  #take(tail: Uint8Array): Uint8Array {
    const pieces = this.#pending;
    if (pieces.length === 0) return tail;
    let chunk: Uint8Array;
    if (pieces.length === 1 && tail.length === 0) {
      chunk = pieces[0]!;
    } else {
      // Every byte is overwritten below, so skip the zero-fill.
      chunk = Buffer.allocUnsafe(this.#pendingLen + tail.length);
      let off = 0;
      for (const p of pieces) {
        chunk.set(p, off);
        off += p.length;
      }
      chunk.set(tail, off);
    }
    this.#pending = [];
    this.#pendingLen = 0;
    return chunk;
  }
}
