// Tests of the scrypt password hashes: form, parameters kept, salts differ,
// verification, tampering, cost actually applied.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkNewPassword, hashPassword, verifyPassword } from './password-hash.ts';
import { isSafeholdError } from '../../core/errors.ts';

test('hashPassword: scrypt with N=2^15, r=8, p=1, a 16-byte salt and a 32-byte key; verify accepts only the password', async () => {
  const h = await hashPassword('correct horse');
  const parts = h.split('$');
  assert.deepEqual(parts.slice(0, 4), ['scrypt', '15', '8', '1']);
  assert.equal(Buffer.from(parts[4]!, 'base64url').length, 16);
  assert.equal(Buffer.from(parts[5]!, 'base64url').length, 32);
  assert.ok(!h.includes('correct horse'));
  assert.equal(await verifyPassword('correct horse', h), true);
  assert.equal(await verifyPassword('correct horsE', h), false);
  assert.equal(await verifyPassword('', h), false);
  const again = await hashPassword('correct horse');
  assert.notEqual(again, h, 'a fresh salt each time');
  assert.equal(await verifyPassword('correct horse', again), true);
});

test('verifyPassword uses the parameters stored in the hash, and rejects malformed ones', async () => {
  const cheap = await hashPassword('pw-123456', { log2N: 10, r: 4, p: 1 });
  assert.match(cheap, /^scrypt\$10\$4\$1\$/);
  assert.equal(await verifyPassword('pw-123456', cheap), true);
  const tampered = cheap.replace(/^scrypt\$10\$4/, 'scrypt$11$4');
  assert.equal(await verifyPassword('pw-123456', tampered), false, 'other parameters give another key');
  for (const bad of ['', 'plain', 'scrypt$15$8$1$salt', 'bcrypt$15$8$1$a$b', 'scrypt$40$8$1$a$b']) {
    await assert.rejects(verifyPassword('x', bad), (e) => isSafeholdError(e, 'CORRUPT'), bad);
  }
});

test('checkNewPassword wants at least 8 characters', () => {
  assert.throws(
    () => checkNewPassword('1234567'),
    (e) => isSafeholdError(e, 'USAGE'),
  );
  checkNewPassword('12345678');
});
