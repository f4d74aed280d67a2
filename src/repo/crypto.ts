// Cryptography of the repository: the master key, authenticated encryption
// (AES-256-GCM with a random 96-bit nonce), keyed blob ids (HMAC-SHA256, so a
// stored id reveals nothing about content to someone without the key), and
// the password-based key derivation (scrypt) that wraps the master key.

import crypto from 'node:crypto';
import { SafeholdError } from '../core/errors.ts';
import { formatBytes } from '../core/format.ts';

export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const OVERHEAD = NONCE_BYTES + TAG_BYTES;

export interface MasterKey {
  /** AES-256-GCM key for every stored object. */
  encrypt: Buffer;
  /** HMAC-SHA256 key for blob ids. */
  mac: Buffer;
  /** Seed of the content-defined chunker's gear table. */
  chunkerSeed: Buffer;
}

export function newMasterKey(): MasterKey {
  return { encrypt: crypto.randomBytes(32), mac: crypto.randomBytes(32), chunkerSeed: crypto.randomBytes(32) };
}

export function masterKeyToJson(k: MasterKey): string {
  return JSON.stringify({
    encrypt: k.encrypt.toString('base64'),
    mac: k.mac.toString('base64'),
    chunkerSeed: k.chunkerSeed.toString('base64'),
  });
}

export function masterKeyFromJson(s: string): MasterKey {
  const o = JSON.parse(s) as Record<string, string>;
  const k = {
    encrypt: Buffer.from(o.encrypt ?? '', 'base64'),
    mac: Buffer.from(o.mac ?? '', 'base64'),
    chunkerSeed: Buffer.from(o.chunkerSeed ?? '', 'base64'),
  };
  if (k.encrypt.length !== 32 || k.mac.length !== 32 || k.chunkerSeed.length !== 32)
    throw new SafeholdError('CORRUPT', 'master key has the wrong shape');
  return k;
}

// Importing a raw key costs more than sealing a small blob: keys are turned
// into KeyObjects once (cached by buffer identity; master keys live long).
const keyObjects = new WeakMap<Buffer, crypto.KeyObject>();

function keyObject(key: Buffer): crypto.KeyObject {
  let k = keyObjects.get(key);
  if (!k) keyObjects.set(key, (k = crypto.createSecretKey(key)));
  return k;
}

// Random nonces come from a pool refilled from the CSPRNG, 4 KiB at a time,
// instead of one system call for every blob.
const noncePool = Buffer.allocUnsafeSlow(4096);
let noncePos = noncePool.length;

function nextNonce(): Buffer {
  if (noncePos + NONCE_BYTES > noncePool.length) {
    crypto.randomFillSync(noncePool);
    noncePos = 0;
  }
  const n = Buffer.from(noncePool.subarray(noncePos, noncePos + NONCE_BYTES));
  noncePos += NONCE_BYTES;
  return n;
}

/** Encrypts and authenticates: returns nonce || ciphertext || tag. `aad` binds the ciphertext to its context. */
export function seal(key: Buffer, plaintext: Uint8Array, aad?: Uint8Array): Buffer {
  const nonce = nextNonce();
  const c = crypto.createCipheriv('aes-256-gcm', keyObject(key), nonce);
  if (aad) c.setAAD(aad);
  // Own (unpooled) memory, so the result can be transferred to another thread.
  const out = Buffer.allocUnsafeSlow(plaintext.length + OVERHEAD);
  nonce.copy(out, 0);
  let n = NONCE_BYTES + c.update(plaintext).copy(out, NONCE_BYTES);
  n += c.final().copy(out, n);
  c.getAuthTag().copy(out, n);
  return out;
}

/** Decrypts and verifies; any changed byte (or wrong aad/key) throws SafeholdError 'CORRUPT'. */
export function open(key: Buffer, sealed: Uint8Array, aad?: Uint8Array, what = 'object'): Buffer {
  if (sealed.length < OVERHEAD)
    throw new SafeholdError('CORRUPT', `${what}: ciphertext too short (${sealed.length} bytes)`);
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
  const d = crypto.createDecipheriv('aes-256-gcm', keyObject(key), buf.subarray(0, NONCE_BYTES));
  if (aad) d.setAAD(aad);
  d.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
  try {
    const a = d.update(buf.subarray(NONCE_BYTES, buf.length - TAG_BYTES));
    const b = d.final();
    return b.length === 0 ? a : Buffer.concat([a, b]);
  } catch (e) {
    throw new SafeholdError('CORRUPT', `${what}: authentication failed (data was changed or the key is wrong)`, {
      cause: e,
    });
  }
}

/** Keyed id of a blob's plaintext. */
export function blobId(macKey: Buffer, data: Uint8Array): Buffer {
  return crypto.createHmac('sha256', keyObject(macKey)).update(data).digest();
}

/** Id of a stored file: SHA-256 of its stored bytes, so check can verify files without the key. */
export function fileId(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

export interface KdfParams {
  N: number;
  r: number;
  p: number;
}

export const DEFAULT_KDF: KdfParams = { N: 1 << 15, r: 8, p: 1 };

/**
 * What scrypt parameters a key file may ask for (docs/repository-format.md §4).
 * A key file is plain JSON that anyone who can write to the repository can
 * add, so its parameters are not trusted: memory (128·N·r) and work (N·r·p)
 * are capped at 8 and 64 times the default's, and N below 2^10 is weaker
 * than anything Safehold writes.
 */
export const KDF_BOUNDS = {
  minN: 1 << 10,
  maxN: 1 << 20,
  maxR: 32,
  maxP: 16,
  maxMemory: 256 * 1024 * 1024,
  maxWork: 2 ** 24,
} as const;

/** Why scrypt parameters are outside KDF_BOUNDS (or not what scrypt accepts), or undefined when usable. */
export function kdfProblem(k: { N?: unknown; r?: unknown; p?: unknown }): string | undefined {
  const { N, r, p } = k;
  if (!Number.isSafeInteger(N) || !Number.isSafeInteger(r) || !Number.isSafeInteger(p))
    return 'N, r and p must be integers';
  const [n, rr, pp] = [N as number, r as number, p as number];
  const B = KDF_BOUNDS;
  if (n < B.minN || n > B.maxN || (n & (n - 1)) !== 0)
    return `N must be a power of two from 2^${Math.log2(B.minN)} to 2^${Math.log2(B.maxN)} (it is ${n})`;
  if (rr < 1 || rr > B.maxR) return `r must be from 1 to ${B.maxR} (it is ${rr})`;
  if (pp < 1 || pp > B.maxP) return `p must be from 1 to ${B.maxP} (it is ${pp})`;
  if (n >= 2 ** (16 * rr)) return `N must be below 2^(16·r) (N ${n}, r ${rr})`;
  if (128 * n * rr > B.maxMemory)
    return `scrypt would need ${formatBytes(128 * n * rr)} of memory, more than ${formatBytes(B.maxMemory)}`;
  if (n * rr * pp > B.maxWork) return `scrypt work N·r·p is ${n * rr * pp}, more than 2^${Math.log2(B.maxWork)}`;
  return undefined;
}

export function deriveKey(password: string, salt: Buffer, p: KdfParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const fail = (err: Error) =>
      reject(new SafeholdError('INTERNAL', `key derivation failed: ${err.message}`, { cause: err }));
    try {
      // Invalid parameters (e.g. N not a power of two) throw synchronously rather than calling back.
      crypto.scrypt(
        password.normalize('NFC'),
        salt,
        32,
        { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + (64 << 20) },
        (err, key) => (err ? fail(err) : resolve(key)),
      );
    } catch (err) {
      fail(err as Error);
    }
  });
}
