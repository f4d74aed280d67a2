// API tokens: `shk_<id>_<secret>` with a 16-hex-digit id and 32 random bytes
// of secret (base64url). Only SHA-256 of the secret is stored: the secret is
// 256 random bits, so no guessing or dictionary attack can invert a fast
// hash, and a memory-hard hash would only slow every API request down.
// Checking compares hashes in constant time.

import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Catalog } from '../../catalog/catalog.ts';
import type { TokenInfo } from '../../catalog/auth-tokens.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { Role } from './types.ts';

export const TOKEN_PREFIX = 'shk_';
const TOKEN_RE = /^shk_([0-9a-f]{16})_([A-Za-z0-9_-]{43,})$/;

export function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** Constant-time equality of two hex digests (false when lengths differ). */
export function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Splits a presented token into id and secret; undefined when it is not of our form. */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = TOKEN_RE.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** Creates and stores a token; returns the token text (to be shown once) and what is stored about it. */
export function createToken(
  catalog: Catalog,
  opts: { role: Role; name?: string; createdBy: string },
): { token: string; info: TokenInfo } {
  const name = opts.name ?? `${opts.role} token`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (name.length === 0 || name.length > 100 || /[\x00-\x1f\x7f]/.test(name)) {
    throw new SafeholdError('USAGE', 'a token name must be 1 to 100 printable characters');
  }
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  const info = catalog.tokens().add({ id, name, role: opts.role, hash: sha256Hex(secret), createdBy: opts.createdBy });
  return { token: `${TOKEN_PREFIX}${id}_${secret}`, info };
}

const DUMMY_HASH = sha256Hex('no such token');

/** The live (not revoked) token this text names, when its secret matches; undefined otherwise. */
export function checkToken(catalog: Catalog, token: string): TokenInfo | undefined {
  const parsed = parseToken(token);
  if (!parsed) return undefined;
  const rec = catalog.tokens().get(parsed.id);
  // Compare even for an unknown id, so the time taken does not tell ids apart.
  const match = sameHex(sha256Hex(parsed.secret), rec?.hash ?? DUMMY_HASH);
  if (!rec || !match || rec.revokedAt !== null) return undefined;
  const { hash: _hash, ...info } = rec;
  return info;
}
