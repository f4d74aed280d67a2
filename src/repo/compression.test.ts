// Tests of the blob compression profiles: what each stores, that the thread
// pool variant gives the same bytes, and that every result decompresses back.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import zlib from 'node:zlib';
import { compressBlob, compressBlobAsync } from './compression.ts';

/** pgbench-like rows: an increasing id, small numbers, 84 blanks (compresses ~100×). */
function rows(from: number, n: number): Buffer {
  let s = '';
  for (let i = from; i < from + n; i++)
    s += `${i}\t${1 + Math.floor(i / 100000)}\t${(i * 7919) % 13 === 0 ? i % 5000 : 0}\t${' '.repeat(84)}\n`;
  return Buffer.from(s);
}

const back = (c: { stored: Uint8Array; rawLength: number }) =>
  c.rawLength > 0 ? zlib.zstdDecompressSync(c.stored) : Buffer.from(c.stored);

describe('blob compression profiles', () => {
  it("'dump' stores highly compressible rows at least 5 % smaller than 'default', and both read back", () => {
    const data = rows(1, 700);
    const d = compressBlob(data, 'default');
    const p = compressBlob(data, 'dump');
    assert.equal(d.rawLength, data.length);
    assert.equal(p.rawLength, data.length);
    assert.ok(p.stored.length <= d.stored.length * 0.95, `dump ${p.stored.length} vs default ${d.stored.length}`);
    assert.deepEqual(back(d), data);
    assert.deepEqual(back(p), data);
  });

  it("'dump' keeps level 3 for data that compresses less than 3× (same bytes as 'default')", () => {
    const data = Buffer.from(crypto.randomBytes(30_000).toString('base64')); // ~1.3× compressible
    assert.deepEqual(Buffer.from(compressBlob(data, 'dump').stored), Buffer.from(compressBlob(data, 'default').stored));
  });

  it('stores random data and tiny blobs raw (rawLength 0)', async () => {
    for (const data of [crypto.randomBytes(50_000), Buffer.from('tiny')]) {
      for (const profile of ['default', 'dump'] as const) {
        const c = compressBlob(data, profile);
        assert.equal(c.rawLength, 0);
        assert.deepEqual(Buffer.from(c.stored), data);
        assert.equal((await compressBlobAsync(data, profile)).rawLength, 0);
      }
    }
  });

  it('the thread pool variant gives the same bytes as the synchronous one', async () => {
    const inputs = [rows(5000, 300), rows(1, 2000), Buffer.from('abc'.repeat(40_000))];
    for (const data of inputs) {
      for (const profile of ['default', 'dump'] as const) {
        const a = await compressBlobAsync(data, profile);
        const s = compressBlob(data, profile);
        assert.equal(a.rawLength, s.rawLength);
        assert.deepEqual(Buffer.from(a.stored), Buffer.from(s.stored));
      }
    }
  });
});
