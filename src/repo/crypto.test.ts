// Tests of the repository's cryptography: seal/open round trips, binding of
// the associated data, detection of any changed byte (fast-check), keyed blob
// ids, SHA-256 file ids, master key (de)serialisation and key derivation.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fc from 'fast-check';
import {
  NONCE_BYTES,
  OVERHEAD,
  TAG_BYTES,
  blobId,
  deriveKey,
  fileId,
  masterKeyFromJson,
  masterKeyToJson,
  newMasterKey,
  open,
  seal,
} from './crypto.ts';
import { isSafeholdError } from '../core/errors.ts';

const key = (): Buffer => crypto.randomBytes(32);
const isCorrupt = (e: unknown): boolean => isSafeholdError(e, 'CORRUPT');

describe('seal / open', () => {
  it('round-trips any plaintext, with and without aad', () => {
    const k = key();
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 4096 }),
        fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 }), { nil: undefined }),
        (plain, aad) => {
          const sealed = seal(k, plain, aad);
          assert.equal(sealed.length, plain.length + OVERHEAD);
          assert.deepEqual(new Uint8Array(open(k, sealed, aad)), plain);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('uses a fresh nonce each time (same plaintext seals differently)', () => {
    const k = key();
    const p = Buffer.from('the same plaintext');
    const a = seal(k, p);
    const b = seal(k, p);
    assert.notDeepEqual(a.subarray(0, NONCE_BYTES), b.subarray(0, NONCE_BYTES));
    assert.notDeepEqual(a, b);
    assert.deepEqual(open(k, a), p);
    assert.deepEqual(open(k, b), p);
  });

  it('does not contain the plaintext', () => {
    const k = key();
    const p = Buffer.from('a secret that must not appear in the ciphertext '.repeat(4));
    const sealed = seal(k, p);
    assert.equal(sealed.indexOf(p.subarray(0, 16)), -1);
  });

  it('opens a sealed buffer that is a view into a larger buffer', () => {
    const k = key();
    const sealed = seal(k, Buffer.from('inner'), Buffer.from('aad'));
    const big = Buffer.concat([Buffer.from('prefix'), sealed, Buffer.from('suffix')]);
    const view = big.subarray(6, 6 + sealed.length);
    assert.equal(open(k, view, Buffer.from('aad')).toString(), 'inner');
  });

  it('binds the aad: a different, missing or extra aad fails with CORRUPT', () => {
    const k = key();
    const sealed = seal(k, Buffer.from('payload'), Buffer.from('index'));
    assert.throws(() => open(k, sealed, Buffer.from('snapshots')), isCorrupt);
    assert.throws(() => open(k, sealed), isCorrupt);
    const plain = seal(k, Buffer.from('payload'));
    assert.throws(() => open(k, plain, Buffer.from('index')), isCorrupt);
    assert.equal(open(k, sealed, Buffer.from('index')).toString(), 'payload');
  });

  it('fails with CORRUPT under the wrong key', () => {
    const sealed = seal(key(), Buffer.from('payload'));
    assert.throws(() => open(key(), sealed), isCorrupt);
  });

  it('detects any single changed bit (nonce, ciphertext or tag)', () => {
    const k = key();
    const aad = Buffer.from('label');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), fc.nat(), fc.integer({ min: 0, max: 7 }), (plain, pos, bit) => {
        const sealed = seal(k, plain, aad);
        const i = pos % sealed.length;
        sealed[i]! ^= 1 << bit;
        assert.throws(() => open(k, sealed, aad), isCorrupt);
      }),
      { numRuns: 300 },
    );
  });

  it('detects truncation and extension', () => {
    const k = key();
    const sealed = seal(k, crypto.randomBytes(100));
    for (const n of [0, 1, NONCE_BYTES, OVERHEAD - 1, OVERHEAD, sealed.length - 1]) {
      assert.throws(() => open(k, sealed.subarray(0, n)), isCorrupt, `truncated to ${n}`);
    }
    assert.throws(() => open(k, Buffer.concat([sealed, Buffer.from([0])])), isCorrupt);
  });

  it('names the object in the error message', () => {
    const sealed = seal(key(), Buffer.from('x'));
    assert.throws(
      () => open(key(), sealed, undefined, 'snapshot abc'),
      (e: unknown) => isCorrupt(e) && /^snapshot abc: /.test((e as Error).message),
    );
    assert.throws(
      () => open(key(), Buffer.alloc(TAG_BYTES), undefined, 'index 123'),
      (e: unknown) => isCorrupt(e) && /index 123: .*too short/.test((e as Error).message),
    );
  });
});

describe('ids', () => {
  it('blobId is HMAC-SHA256 under the mac key', () => {
    const mac = key();
    const data = Buffer.from('some blob');
    const id = blobId(mac, data);
    assert.equal(id.length, 32);
    assert.deepEqual(id, crypto.createHmac('sha256', mac).update(data).digest());
    assert.notDeepEqual(id, crypto.createHash('sha256').update(data).digest(), 'not a plain hash');
  });

  it('blobId is keyed: a different mac key gives a different id, the same key the same id', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 256 }), (data) => {
        const k1 = key();
        const k2 = key();
        assert.deepEqual(blobId(k1, data), blobId(Buffer.from(k1), data));
        assert.notDeepEqual(blobId(k1, data), blobId(k2, data));
      }),
      { numRuns: 100 },
    );
  });

  it('blobId differs for different data', () => {
    const mac = key();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
        fc.pre(!Buffer.from(a).equals(Buffer.from(b)));
        assert.notDeepEqual(blobId(mac, a), blobId(mac, b));
      }),
      { numRuns: 100 },
    );
  });

  it('fileId is the hex SHA-256 of the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024 }), (data) => {
        const id = fileId(data);
        assert.match(id, /^[0-9a-f]{64}$/);
        assert.equal(id, crypto.createHash('sha256').update(data).digest('hex'));
      }),
      { numRuns: 100 },
    );
    assert.equal(fileId(new Uint8Array(0)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});

describe('master key', () => {
  it('serialises and parses back, with three distinct 32-byte keys', () => {
    const k = newMasterKey();
    assert.equal(k.encrypt.length, 32);
    assert.notDeepEqual(k.encrypt, k.mac);
    assert.notDeepEqual(k.mac, k.chunkerSeed);
    const back = masterKeyFromJson(masterKeyToJson(k));
    assert.deepEqual(back, k);
    assert.notDeepEqual(newMasterKey().encrypt, k.encrypt);
  });

  it('rejects a master key of the wrong shape with CORRUPT', () => {
    const k = JSON.parse(masterKeyToJson(newMasterKey())) as Record<string, string>;
    assert.throws(
      () => masterKeyFromJson(JSON.stringify({ ...k, mac: Buffer.alloc(16).toString('base64') })),
      isCorrupt,
    );
    assert.throws(() => masterKeyFromJson(JSON.stringify({ encrypt: k.encrypt })), isCorrupt);
  });
});

describe('deriveKey', () => {
  const cheap = { N: 1024, r: 8, p: 1 };

  it('is deterministic for a password and salt, and differs with either', async () => {
    const salt = crypto.randomBytes(32);
    const a = await deriveKey('correct horse', salt, cheap);
    assert.equal(a.length, 32);
    assert.deepEqual(await deriveKey('correct horse', salt, cheap), a);
    assert.notDeepEqual(await deriveKey('correct horsf', salt, cheap), a);
    assert.notDeepEqual(await deriveKey('correct horse', crypto.randomBytes(32), cheap), a);
    assert.notDeepEqual(await deriveKey('correct horse', salt, { N: 2048, r: 8, p: 1 }), a);
  });

  it('normalises the password to NFC', async () => {
    const salt = crypto.randomBytes(32);
    const composed = 'caf\u00e9';
    const decomposed = 'cafe\u0301';
    assert.deepEqual(await deriveKey(composed, salt, cheap), await deriveKey(decomposed, salt, cheap));
  });

  it('rejects invalid parameters', async () => {
    await assert.rejects(deriveKey('pw', crypto.randomBytes(32), { N: 1000, r: 8, p: 1 }), (e: unknown) =>
      isSafeholdError(e, 'INTERNAL'),
    );
  });
});
