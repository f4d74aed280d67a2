// Password hashes for console users: scrypt from node:crypto (memory-hard;
// N = 2^15, r = 8, p = 1 → 32 MiB and ~0.1 s per hash), a random 16-byte
// salt, the parameters kept in the string so they can be raised later:
//   scrypt$<log2 N>$<r>$<p>$<salt base64url>$<hash base64url>
// Verification recomputes with the stored parameters and compares in
// constant time.

import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';
import { SafeholdError } from '../../core/errors.ts';

export interface ScryptParams {
  log2N: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { log2N: 15, r: 8, p: 1 };

const KEY_LEN = 32;
const SALT_LEN = 16;
/** Shortest password `user add` and `user passwd` accept. */
export const MIN_PASSWORD_LENGTH = 8;

function derive(password: string, salt: Buffer, prm: ScryptParams): Promise<Buffer> {
  const N = 2 ** prm.log2N;
  // scrypt needs 128·N·r bytes (plus a little); Node's default cap is 32 MiB.
  const opts: ScryptOptions = { N, r: prm.r, p: prm.p, maxmem: 256 * N * prm.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LEN, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hashes a password with a fresh salt. */
export async function hashPassword(password: string, prm: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(SALT_LEN);
  const key = await derive(password, salt, prm);
  return ['scrypt', prm.log2N, prm.r, prm.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` matches `stored` (constant-time comparison). Throws 'CORRUPT' for a malformed hash string. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const { prm, salt, key } = parseHash(stored);
  const got = await derive(password, salt, prm);
  return got.length === key.length && timingSafeEqual(got, key);
}

function parseHash(stored: string): { prm: ScryptParams; salt: Buffer; key: Buffer } {
  const parts = stored.split('$');
  const [kind, n, r, p, salt, key] = parts;
  const prm = { log2N: Number(n), r: Number(r), p: Number(p) };
  const ok =
    parts.length === 6 &&
    kind === 'scrypt' &&
    Number.isInteger(prm.log2N) &&
    prm.log2N >= 10 &&
    prm.log2N <= 20 &&
    Number.isInteger(prm.r) &&
    prm.r >= 1 &&
    prm.r <= 32 &&
    Number.isInteger(prm.p) &&
    prm.p >= 1 &&
    prm.p <= 16 &&
    !!salt &&
    !!key;
  if (!ok) throw new SafeholdError('CORRUPT', 'stored password hash is not in the scrypt$N$r$p$salt$hash form');
  return { prm, salt: Buffer.from(salt, 'base64url'), key: Buffer.from(key, 'base64url') };
}

/** Throws 'USAGE' for a password too short to keep. */
export function checkNewPassword(password: string): void {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new SafeholdError('USAGE', `a user password needs at least ${MIN_PASSWORD_LENGTH} characters`);
  }
}
