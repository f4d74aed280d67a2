// Tests of pack files: PackBuilder/parsePack round trips (fast-check), and
// that every flipped byte (blob, header or trailing length) and every
// truncation is detected with code CORRUPT.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fc from 'fast-check';
import { PackBuilder, headerLength, openBlob, parseHeader, parsePack, sealBlob } from './pack.ts';
import type { BlobType, PackEntry } from './pack.ts';
import { OVERHEAD } from './crypto.ts';
import { isSafeholdError } from '../core/errors.ts';

const isCorrupt = (e: unknown): boolean => isSafeholdError(e, 'CORRUPT');

interface Blob {
  type: BlobType;
  id: string;
  data: Buffer;
  rawLength: number;
}

/** Builds a pack of the given blobs (sealed with their ids as aad). */
function build(key: Buffer, blobs: Blob[]): { bytes: Buffer; entries: PackEntry[] } {
  const b = new PackBuilder();
  for (const x of blobs) b.add(x.type, x.id, sealBlob(key, x.id, x.data), x.rawLength);
  return { bytes: b.finish(key), entries: b.entries };
}

const blobArb: fc.Arbitrary<Blob> = fc.record({
  type: fc.constantFrom<BlobType>('data', 'tree'),
  id: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((a) => Buffer.from(a).toString('hex')),
  data: fc.uint8Array({ maxLength: 600 }).map((a) => Buffer.from(a)),
  rawLength: fc.nat({ max: 1 << 20 }),
});

/** Throws CORRUPT if anything in the pack does not verify: the header or any blob. */
function verifyAll(key: Buffer, pack: Buffer): PackEntry[] {
  const entries = parsePack(key, pack, 'pack test');
  for (const e of entries) openBlob(key, e.id, pack.subarray(e.offset, e.offset + e.length));
  return entries;
}

describe('PackBuilder / parsePack', () => {
  it('round-trips entries and blobs', () => {
    const key = crypto.randomBytes(32);
    fc.assert(
      fc.property(fc.array(blobArb, { maxLength: 12 }), (blobs) => {
        const { bytes, entries } = build(key, blobs);
        const parsed = parsePack(key, bytes, 'pack test');
        assert.deepEqual(parsed, entries);
        assert.equal(parsed.length, blobs.length);
        let offset = 0;
        parsed.forEach((e, i) => {
          const x = blobs[i]!;
          assert.equal(e.type, x.type);
          assert.equal(e.id, x.id);
          assert.equal(e.offset, offset);
          assert.equal(e.length, x.data.length + OVERHEAD);
          assert.equal(e.rawLength, x.rawLength);
          assert.deepEqual(openBlob(key, e.id, bytes.subarray(e.offset, e.offset + e.length)), x.data);
          offset += e.length;
        });
        // Trailer: the header's sealed length, then exactly 4 bytes.
        const hl = headerLength(bytes.subarray(bytes.length - 4));
        assert.equal(offset + hl + 4, bytes.length);
        assert.deepEqual(parseHeader(key, bytes.subarray(offset, offset + hl), bytes.length, 'pack test'), entries);
      }),
      { numRuns: 100 },
    );
  });

  it('builds an empty pack that parses to no entries', () => {
    const key = crypto.randomBytes(32);
    const { bytes } = build(key, []);
    assert.equal(bytes.length, OVERHEAD + 4);
    assert.deepEqual(parsePack(key, bytes, 'pack test'), []);
  });

  it('tracks size and count while adding', () => {
    const b = new PackBuilder();
    assert.equal(b.count, 0);
    const e1 = b.add('data', 'aa'.repeat(32), Buffer.alloc(100), 0);
    const e2 = b.add('tree', 'bb'.repeat(32), Buffer.alloc(50), 70);
    assert.equal(b.count, 2);
    assert.equal(b.size, 150);
    assert.deepEqual(e1, { type: 'data', id: 'aa'.repeat(32), offset: 0, length: 100, rawLength: 0 });
    assert.deepEqual(e2, { type: 'tree', id: 'bb'.repeat(32), offset: 100, length: 50, rawLength: 70 });
  });

  it('grows a too small buffer, and a reused buffer builds the next pack correctly', () => {
    const key = crypto.randomBytes(32);
    const blobs: Blob[] = Array.from({ length: 5 }, (_, i) => ({
      type: 'data',
      id: crypto.randomBytes(32).toString('hex'),
      data: crypto.randomBytes(3000 + i),
      rawLength: 0,
    }));
    const first = new PackBuilder(Buffer.alloc(16));
    for (const x of blobs) first.add(x.type, x.id, sealBlob(key, x.id, x.data), x.rawLength);
    const bytes1 = Buffer.from(first.finish(key));
    assert.deepEqual(parsePack(key, bytes1, 'pack test'), first.entries);
    // The next pack reuses the buffer: it holds different, fewer blobs.
    const second = new PackBuilder(first.buffer);
    second.add('tree', blobs[0]!.id, sealBlob(key, blobs[0]!.id, Buffer.from('{}')), 0);
    const bytes2 = second.finish(key);
    const parsed = verifyAll(key, bytes2);
    assert.equal(parsed.length, 1);
    assert.equal(parsed[0]!.type, 'tree');
    assert.equal(openBlob(key, parsed[0]!.id, bytes2.subarray(0, parsed[0]!.length)).toString(), '{}');
    assert.deepEqual(parsePack(key, bytes1, 'pack test'), first.entries, 'the copy of the first pack is intact');
  });

  it('cannot be parsed with another key', () => {
    const blobs = [{ type: 'data' as const, id: '11'.repeat(32), data: Buffer.from('hello'), rawLength: 0 }];
    const { bytes } = build(crypto.randomBytes(32), blobs);
    assert.throws(() => parsePack(crypto.randomBytes(32), bytes, 'pack test'), isCorrupt);
  });

  it('binds each blob to its id: a blob opened under another id fails', () => {
    const key = crypto.randomBytes(32);
    const sealed = sealBlob(key, '22'.repeat(32), Buffer.from('content'));
    assert.equal(openBlob(key, '22'.repeat(32), sealed).toString(), 'content');
    assert.throws(
      () => openBlob(key, '23'.repeat(32), sealed),
      (e: unknown) => isCorrupt(e) && /blob 232323232323/.test((e as Error).message),
    );
  });
});

describe('pack damage', () => {
  const key = crypto.randomBytes(32);

  it('detects a flipped byte anywhere: blob, header or trailing length', () => {
    fc.assert(
      fc.property(
        fc.array(blobArb, { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (blobs, pos, mask) => {
          const { bytes } = build(key, blobs);
          verifyAll(key, bytes);
          const i = pos % bytes.length;
          const bad = Buffer.from(bytes);
          bad[i]! ^= mask;
          assert.throws(() => verifyAll(key, bad), isCorrupt, `flipped byte ${i} of ${bytes.length}`);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('detects a flipped byte in the header region with parsePack alone', () => {
    fc.assert(
      fc.property(fc.array(blobArb, { minLength: 1, maxLength: 6 }), fc.nat(), (blobs, pos) => {
        const { bytes, entries } = build(key, blobs);
        const blobsEnd = entries.reduce((n, e) => n + e.length, 0);
        const i = blobsEnd + (pos % (bytes.length - blobsEnd));
        const bad = Buffer.from(bytes);
        bad[i]! ^= 0x40;
        assert.throws(() => parsePack(key, bad, 'pack test'), isCorrupt);
      }),
      { numRuns: 200 },
    );
  });

  it('detects a flipped byte inside a blob when that blob is opened, and only that blob', () => {
    const blobs: Blob[] = [0, 1, 2].map((n) => ({
      type: 'data',
      id: crypto.randomBytes(32).toString('hex'),
      data: crypto.randomBytes(200 + n),
      rawLength: 0,
    }));
    const { bytes, entries } = build(key, blobs);
    const victim = entries[1]!;
    const bad = Buffer.from(bytes);
    bad[victim.offset + Math.floor(victim.length / 2)]! ^= 1;
    // The header still parses: the damage is in a blob.
    assert.deepEqual(parsePack(key, bad, 'pack test'), entries);
    for (const e of entries) {
      const open = () => openBlob(key, e.id, bad.subarray(e.offset, e.offset + e.length));
      if (e === victim) assert.throws(open, isCorrupt);
      else assert.doesNotThrow(open);
    }
  });

  it('detects every truncation', () => {
    fc.assert(
      fc.property(fc.array(blobArb, { maxLength: 6 }), fc.nat(), (blobs, cut) => {
        const { bytes } = build(key, blobs);
        const len = cut % bytes.length;
        assert.throws(
          () => parsePack(key, bytes.subarray(0, len), 'pack test'),
          isCorrupt,
          `truncated to ${len} of ${bytes.length}`,
        );
      }),
      { numRuns: 300 },
    );
  });

  it('detects extra bytes before the header (blobs and header no longer add up)', () => {
    const { bytes, entries } = build(key, [
      { type: 'data', id: '33'.repeat(32), data: Buffer.from('abc'), rawLength: 0 },
    ]);
    const end = entries[0]!.length;
    const grown = Buffer.concat([bytes.subarray(0, end), Buffer.from('junk'), bytes.subarray(end)]);
    assert.throws(
      () => parsePack(key, grown, 'pack test'),
      (e: unknown) => isCorrupt(e) && /add up to/.test((e as Error).message),
    );
  });

  it('reports a header length larger than the file', () => {
    const bad = Buffer.from([1, 2, 3, 0xff, 0xff, 0, 0]);
    assert.throws(
      () => parsePack(key, bad, 'pack abc'),
      (e: unknown) => isCorrupt(e) && /^pack abc: header length/.test((e as Error).message),
    );
    assert.throws(
      () => parsePack(key, Buffer.from([1, 2]), 'pack abc'),
      (e: unknown) => isCorrupt(e) && /too short/.test((e as Error).message),
    );
  });
});
