// Runs the shared backend conformance suite on MemoryBackend.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryBackend } from './memory-backend.ts';
import { backendConformanceSuite } from './conformance.ts';

backendConformanceSuite('MemoryBackend', async () => ({ backend: new MemoryBackend(), cleanup: async () => {} }));

describe('MemoryBackend', () => {
  it('names its location memory:', () => {
    assert.equal(new MemoryBackend().location, 'memory:');
  });

  it('copies on save before the promise settles', async () => {
    const b = new MemoryBackend();
    const data = Buffer.from('abc');
    const saving = b.save({ type: 'data', name: 'ab01' }, data);
    data.fill(0);
    await saving;
    assert.equal((await b.load({ type: 'data', name: 'ab01' })).toString(), 'abc');
  });
});
