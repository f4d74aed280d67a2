// Tests for finding the data runs of a buffer (the rest is left as holes).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HOLE_BLOCK, dataRuns } from './zero.ts';

describe('dataRuns', () => {
  it('keeps a short buffer whole, even when it is all zeros', () => {
    assert.deepEqual(dataRuns(Buffer.alloc(100)), [[0, 100]]);
    assert.deepEqual(dataRuns(Buffer.alloc(0)), []);
  });

  it('skips whole zero blocks and keeps the data around them', () => {
    const b = Buffer.alloc(HOLE_BLOCK * 5);
    b[10] = 1; // block 0 has data
    b[HOLE_BLOCK * 3 + 7] = 2; // block 3 has data
    assert.deepEqual(dataRuns(b), [
      [0, HOLE_BLOCK],
      [HOLE_BLOCK * 3, HOLE_BLOCK * 4],
    ]);
  });

  it('merges adjacent data blocks into one run and keeps a short tail', () => {
    const b = Buffer.alloc(HOLE_BLOCK * 2 + 10, 7);
    assert.deepEqual(dataRuns(b), [[0, HOLE_BLOCK * 2 + 10]]);
    const z = Buffer.alloc(HOLE_BLOCK * 2 + 10);
    assert.deepEqual(dataRuns(z), [[HOLE_BLOCK * 2, HOLE_BLOCK * 2 + 10]]);
  });

  it('finds a single non-zero byte anywhere in a block', () => {
    for (const pos of [0, 1, 511, 512, 4095, HOLE_BLOCK - 1]) {
      const b = Buffer.alloc(HOLE_BLOCK);
      b[pos] = 9;
      assert.deepEqual(dataRuns(b), [[0, HOLE_BLOCK]], `byte at ${pos}`);
    }
  });
});
