// Tests of the FastCDC chunker: size bounds, losslessness, determinism, keyed
// boundaries, streaming == whole-buffer chunking, and (fast-check) boundary
// resynchronisation after insertions and deletions, and the mean chunk size.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  Chunker,
  DEFAULT_CHUNKER_PARAMS,
  chunkBuffer,
  computeMasks,
  gearTable,
  validateChunkerParams,
} from './chunker.ts';
import type { ChunkerParams } from './chunker.ts';

const SMALL: ChunkerParams = { minSize: 64, avgSize: 256, maxSize: 2048 };
/** Resynchronisation bound: chunks starting this far after an edit must be unchanged. */
const RESYNC_BOUND = 8 * SMALL.maxSize;

function seedOf(label: string): Uint8Array {
  return createHash('sha256').update(label).digest();
}

/** `len` pseudo-random bytes determined by `seed` (AES-256-CTR keystream). */
function pseudoRandom(seed: number | string, len: number): Uint8Array {
  const key = createHash('sha256').update(`data:${seed}`).digest();
  const c = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return new Uint8Array(Buffer.concat([c.update(Buffer.alloc(len)), c.final()]));
}

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

function lengths(chunks: Uint8Array[]): number[] {
  return chunks.map((c) => c.length);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

function assertSizes(chunks: Uint8Array[], p: ChunkerParams): void {
  chunks.forEach((c, i) => {
    assert.ok(c.length <= p.maxSize, `chunk ${i} has ${c.length} > maxSize bytes`);
    assert.ok(c.length > 0, `chunk ${i} is empty`);
    if (i < chunks.length - 1) assert.ok(c.length >= p.minSize, `chunk ${i} has ${c.length} < minSize bytes`);
  });
}

function streamChunks(data: Uint8Array, splits: number[], p: ChunkerParams, gear: Uint32Array): Uint8Array[] {
  const c = new Chunker(p, gear);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const s of [...splits, data.length]) {
    out.push(...c.push(data.subarray(prev, s)));
    prev = s;
  }
  const last = c.finish();
  if (last) out.push(last);
  return out;
}

/** Offset in the first input where the longest common suffix of chunk lists starts. */
function commonSuffixStart(ca: Uint8Array[], cb: Uint8Array[], lenA: number): number {
  let ia = ca.length;
  let ib = cb.length;
  let start = lenA;
  while (ia > 0 && ib > 0 && sameBytes(ca[ia - 1]!, cb[ib - 1]!)) {
    ia--;
    ib--;
    start -= ca[ia]!.length;
  }
  return start;
}

/** Number of leading chunks of `ca` (those ending at or before `pos`) that `cb` must share. */
function assertPrefixKept(ca: Uint8Array[], cb: Uint8Array[], pos: number): void {
  let end = 0;
  for (let i = 0; i < ca.length; i++) {
    end += ca[i]!.length;
    if (end > pos) break;
    assert.ok(i < cb.length && sameBytes(ca[i]!, cb[i]!), `chunk ${i} before the edit changed`);
  }
}

/**
 * Edit check used by the property tests: chunks of `a` ending before the edit
 * are kept, and those starting RESYNC_BOUND bytes after its end (in `a`) are
 * the tail of the chunks of `b`.
 */
function resyncError(
  ca: Uint8Array[],
  cb: Uint8Array[],
  lenA: number,
  editStart: number,
  editEndA: number,
): string | null {
  try {
    assertPrefixKept(ca, cb, editStart);
  } catch (e) {
    return (e as Error).message;
  }
  const s = commonSuffixStart(ca, cb, lenA);
  if (s > editEndA + RESYNC_BOUND) {
    return `common suffix starts at ${s}, more than ${RESYNC_BOUND} bytes after the edit ending at ${editEndA}`;
  }
  return null;
}

/** Fixed-size chunking, to show the checks reject a chunker that is not content-defined. */
function fixedChunks(data: Uint8Array, size: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

const gear = gearTable(seedOf('chunker test seed'));

test('validateChunkerParams accepts the defaults and rejects bad parameters', () => {
  validateChunkerParams(DEFAULT_CHUNKER_PARAMS);
  validateChunkerParams(SMALL);
  assert.throws(() => validateChunkerParams({ minSize: 64, avgSize: 300, maxSize: 2048 }), /power of two/);
  assert.throws(
    () => validateChunkerParams({ minSize: 512, avgSize: 256, maxSize: 2048 }),
    /minSize <= avgSize <= maxSize/,
  );
  assert.throws(
    () => validateChunkerParams({ minSize: 64, avgSize: 256, maxSize: 128 }),
    /minSize <= avgSize <= maxSize/,
  );
  assert.throws(
    () => validateChunkerParams({ minSize: 0, avgSize: 256, maxSize: 2048 }),
    /minSize must be a positive integer/,
  );
  assert.throws(() => validateChunkerParams({ minSize: 64.5, avgSize: 256, maxSize: 2048 }), /positive integer/);
  assert.throws(() => validateChunkerParams({ minSize: 8, avgSize: 16, maxSize: 32 }), /power of two between/);
  assert.throws(() => new Chunker({ minSize: 64, avgSize: 100, maxSize: 2048 }, gear), /power of two/);
  assert.throws(() => chunkBuffer(new Uint8Array(10), { minSize: 64, avgSize: 256, maxSize: 100 }, gear), Error);
});

test('masks have log2(avg)+2 and log2(avg)-2 bits, in the high part of the word', () => {
  const popcount = (x: number) => {
    let n = 0;
    for (let i = 0; i < 32; i++) n += (x >>> i) & 1;
    return n;
  };
  for (const [avg, bits] of [
    [256, 8],
    [4096, 12],
    [1 << 20, 20],
  ] as const) {
    const { maskS, maskL } = computeMasks(avg);
    assert.equal(popcount(maskS), bits + 2);
    assert.equal(popcount(maskL), bits - 2);
    assert.ok(maskS >>> 31 === 1 && maskL >>> 31 === 1, 'bit 31 is used');
  }
  assert.deepEqual(computeMasks(256), { maskS: 0xaaaaa000 | 0, maskL: 0xaaa00000 | 0 });
});

test('gearTable is deterministic per seed and differs between seeds', () => {
  const a = gearTable(seedOf('one'));
  assert.equal(a.length, 256);
  assert.deepEqual(gearTable(seedOf('one')), a);
  assert.notDeepEqual(gearTable(seedOf('two')), a);
  assert.ok(new Set(a).size > 250, 'entries look random');
  assert.throws(() => gearTable(new Uint8Array(8)), /at least 16 bytes/);
});

test('random data: sizes within [min, max], lossless, deterministic, mean near avg', () => {
  const data = pseudoRandom('unit', 200 * 1024);
  const chunks = chunkBuffer(data, SMALL, gear);
  assert.ok(chunks.length > 100);
  assertSizes(chunks, SMALL);
  assert.ok(sameBytes(concat(chunks), data));
  assert.deepEqual(lengths(chunkBuffer(data, SMALL, gearTable(seedOf('chunker test seed')))), lengths(chunks));
  // Not fixed-size: lengths vary.
  assert.ok(new Set(lengths(chunks)).size > 20);
});

test('normalized chunking: few chunks below avgSize (strict mask), few far above (loose mask)', () => {
  // Strict mask (10 bits) over the 192 bytes from min to avg cuts ~17% of
  // chunks there; the loose mask (6 bits) makes the excess over avg roughly
  // geometric with mean 64, so sizes above 2*avg have probability ~1.5%.
  const chunks = chunkBuffer(pseudoRandom('normalization', 1 << 20), SMALL, gear).slice(0, -1);
  const frac = (pred: (n: number) => boolean) => chunks.filter((c) => pred(c.length)).length / chunks.length;
  const below = frac((n) => n <= SMALL.avgSize);
  const farAbove = frac((n) => n > 2 * SMALL.avgSize);
  assert.ok(below > 0.08 && below < 0.3, `fraction of chunks <= avgSize: ${below}`);
  assert.ok(farAbove < 0.05, `fraction of chunks > 2 * avgSize: ${farAbove}`);
});

test('different seeds give different boundaries on the same data', () => {
  const data = pseudoRandom('seeds', 64 * 1024);
  const a = lengths(chunkBuffer(data, SMALL, gearTable(seedOf('repo A'))));
  const b = lengths(chunkBuffer(data, SMALL, gearTable(seedOf('repo B'))));
  assert.notDeepEqual(a, b);
  // Mostly different, not just one boundary: few cut offsets are shared.
  const cuts = (ls: number[]) => {
    let o = 0;
    return new Set(ls.map((l) => (o += l)));
  };
  const ca = cuts(a);
  const shared = [...cuts(b)].filter((x) => ca.has(x)).length;
  assert.ok(shared < ca.size / 2, `${shared} of ${ca.size} cut points shared`);
});

test('empty input gives no chunks; input up to minSize gives one chunk', () => {
  assert.deepEqual(chunkBuffer(new Uint8Array(0), SMALL, gear), []);
  const c = new Chunker(SMALL, gear);
  assert.deepEqual(c.push(new Uint8Array(0)), []);
  assert.equal(c.finish(), null);
  for (const n of [1, 10, SMALL.minSize - 1, SMALL.minSize]) {
    const data = pseudoRandom(`small ${n}`, n);
    const chunks = chunkBuffer(data, SMALL, gear);
    assert.equal(chunks.length, 1);
    assert.ok(sameBytes(chunks[0]!, data));
    assert.deepEqual(
      streamChunks(data, [n >> 1], SMALL, gear).map((x) => Array.from(x)),
      [Array.from(data)],
    );
  }
  const big = pseudoRandom('default small', 100 * 1024);
  assert.equal(chunkBuffer(big, DEFAULT_CHUNKER_PARAMS, gear).length, 1);
});

test('low-entropy data is cut at maxSize', () => {
  // Constant data makes the hash constant after 32 bytes; for most byte values
  // that value does not match the masks, so every chunk is cut at maxSize.
  let found = 0;
  for (let b = 0; b < 256; b++) {
    const data = new Uint8Array(10 * SMALL.maxSize + 5).fill(b);
    const chunks = chunkBuffer(data, SMALL, gear);
    assertSizes(chunks, SMALL);
    assert.ok(sameBytes(concat(chunks), data));
    // Periodic: all full chunks have the same length.
    assert.equal(new Set(lengths(chunks.slice(0, -1))).size, 1);
    if (chunks[0]!.length === SMALL.maxSize) {
      found++;
      assert.deepEqual(lengths(chunks), [...Array(10).fill(SMALL.maxSize), 5]);
    }
  }
  assert.ok(found > 128, `only ${found} byte values reach maxSize`);
});

test('default parameters: sizes within bounds, mean within a factor of 2 of 1 MiB', () => {
  const data = pseudoRandom('defaults', 48 * 1024 * 1024);
  const chunks = chunkBuffer(data, DEFAULT_CHUNKER_PARAMS, gear);
  assertSizes(chunks, DEFAULT_CHUNKER_PARAMS);
  const mean = (data.length - chunks.at(-1)!.length) / (chunks.length - 1);
  const avg = DEFAULT_CHUNKER_PARAMS.avgSize;
  assert.ok(mean >= avg / 2 && mean <= avg * 2, `mean chunk size ${mean}`);
  assert.deepEqual(
    lengths(streamChunks(data, [1, 1 << 20, 3 << 20, 20 << 20], DEFAULT_CHUNKER_PARAMS, gear)),
    lengths(chunks),
  );
});

test('streaming byte by byte equals chunkBuffer; chunks stay valid; chunker reusable after finish', () => {
  const data = pseudoRandom('bytewise', 8 * 1024);
  const expected = chunkBuffer(data, SMALL, gear);
  const c = new Chunker(SMALL, gear);
  const got: Uint8Array[] = [];
  for (let i = 0; i < data.length; i++) got.push(...c.push(data.slice(i, i + 1)));
  got.push(c.finish()!);
  assert.equal(got.length, expected.length);
  got.forEach((g, i) => assert.ok(sameBytes(g, expected[i]!), `chunk ${i}`));
  // Reuse: same result again, and a chunk within one push is a view of it.
  const again = c.push(data);
  const last = c.finish();
  assert.deepEqual(lengths([...again, ...(last ? [last] : [])]), lengths(expected));
  assert.equal(again[0]!.buffer, data.buffer);
  assert.ok(sameBytes(again[0]!, expected[0]!));
});

test('property: streaming with arbitrary push sizes equals chunkBuffer', () => {
  fc.assert(
    fc.property(
      fc.integer(),
      fc.integer({ min: 0, max: 20_000 }),
      fc.array(fc.integer({ min: 0, max: 20_000 }), { maxLength: 40 }),
      (seed, len, rawSplits) => {
        const data = pseudoRandom(seed, len);
        const splits = rawSplits.map((s) => Math.min(s, len)).sort((x, y) => x - y);
        const expected = chunkBuffer(data, SMALL, gear);
        const got = streamChunks(data, splits, SMALL, gear);
        assert.equal(got.length, expected.length);
        got.forEach((g, i) => assert.ok(sameBytes(g, expected[i]!), `chunk ${i} differs`));
      },
    ),
  );
});

test('resync check rejects fixed-size chunking (the property tests can fail)', () => {
  const a = pseudoRandom('fixed', 48 * 1024);
  const pos = 1000;
  const b = concat([a.subarray(0, pos), pseudoRandom('ins', 100), a.subarray(pos)]);
  assert.match(resyncError(fixedChunks(a, 256), fixedChunks(b, 256), a.length, pos, pos) ?? '', /common suffix/);
  const d = concat([a.subarray(0, pos), a.subarray(pos + 77)]);
  assert.match(resyncError(fixedChunks(a, 256), fixedChunks(d, 256), a.length, pos, pos + 77) ?? '', /common suffix/);
  assert.equal(resyncError(chunkBuffer(a, SMALL, gear), chunkBuffer(b, SMALL, gear), a.length, pos, pos), null);
});

// Inputs of 40-64 KiB; edits leave at least 20 KiB after them, so that at
// least 4 KiB of tail (several chunks) must be shared. Empirically the common
// suffix starts a median ~400 B and at most ~5 KiB after the edit (20000
// trials), far below RESYNC_BOUND = 16 KiB.
const editCase = fc
  .record({
    seed: fc.integer(),
    len: fc.integer({ min: 40 * 1024, max: 64 * 1024 }),
    frac: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ seed, len, frac }) => ({ data: pseudoRandom(seed, len), pos: Math.floor(frac * (len - 20 * 1024)) }));

test('property: boundaries resynchronise after an insertion', () => {
  fc.assert(
    fc.property(editCase, fc.uint8Array({ minLength: 1, maxLength: 600 }), ({ data, pos }, ins) => {
      const edited = concat([data.subarray(0, pos), ins, data.subarray(pos)]);
      const ca = chunkBuffer(data, SMALL, gear);
      const cb = chunkBuffer(edited, SMALL, gear);
      assert.equal(resyncError(ca, cb, data.length, pos, pos), null);
    }),
  );
});

test('property: boundaries resynchronise after a deletion', () => {
  fc.assert(
    fc.property(editCase, fc.integer({ min: 1, max: 600 }), ({ data, pos }, del) => {
      const edited = concat([data.subarray(0, pos), data.subarray(pos + del)]);
      const ca = chunkBuffer(data, SMALL, gear);
      const cb = chunkBuffer(edited, SMALL, gear);
      assert.equal(resyncError(ca, cb, data.length, pos, pos + del), null);
    }),
  );
});

test('property: mean chunk size on random data is within a factor of 2 of avgSize', () => {
  fc.assert(
    fc.property(fc.integer(), fc.integer({ min: 32 * 1024, max: 64 * 1024 }), fc.integer(), (seed, len, gearSeed) => {
      const g = gearTable(seedOf(`gear ${gearSeed}`));
      const data = pseudoRandom(seed, len);
      const chunks = chunkBuffer(data, SMALL, g);
      assertSizes(chunks, SMALL);
      const mean = (len - chunks.at(-1)!.length) / (chunks.length - 1);
      assert.ok(mean >= SMALL.avgSize / 2 && mean <= SMALL.avgSize * 2, `mean chunk size ${mean}`);
    }),
  );
});
