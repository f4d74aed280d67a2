// Key files: each wraps the one master key under a key derived from a
// password (scrypt, parameters stored in the file). Changing the password
// writes a new key file and then removes the old one; no data is rewritten.
// Key files are plain JSON anyone with write access can add, so unlocking
// checks each one (shape, scrypt parameters within KDF_BOUNDS) and skips,
// and reports, those that do not pass instead of failing the whole open.

import crypto from 'node:crypto';
import os from 'node:os';
import type { Backend, FileInfo } from './backend/backend.ts';
import { createFile } from './backend/backend.ts';
import {
  DEFAULT_KDF,
  OVERHEAD,
  deriveKey,
  fileId,
  kdfProblem,
  masterKeyFromJson,
  masterKeyToJson,
  open,
  seal,
} from './crypto.ts';
import type { KdfParams, MasterKey } from './crypto.ts';
import { SafeholdError, isSafeholdError } from '../core/errors.ts';
import { formatBytes } from '../core/format.ts';

const KEY_AAD = Buffer.from('safehold-key-v1');

export interface KeyFile {
  version: 1;
  created: string;
  hostname: string;
  username: string;
  kdf: 'scrypt';
  N: number;
  r: number;
  p: number;
  salt: string;
  data: string;
}

export interface UnlockedKey {
  /** Name of the key file that matched. */
  name: string;
  master: MasterKey;
  /** Key files skipped before this one opened (malformed or out of bounds): worth a warning. */
  skipped: SkippedKey[];
}

/** Writes a key file wrapping `master` under `password`; refuses parameters a reader would skip. */
export async function writeKeyFile(
  backend: Backend,
  master: MasterKey,
  password: string,
  kdf: KdfParams = DEFAULT_KDF,
  now = Date.now(),
): Promise<string> {
  const problem = kdfProblem(kdf);
  if (problem) throw new SafeholdError('INTERNAL', `scrypt parameters out of bounds: ${problem}`);
  const salt = crypto.randomBytes(32);
  const wrapKey = await deriveKey(password, salt, kdf);
  const file: KeyFile = {
    version: 1,
    created: new Date(now).toISOString(),
    hostname: os.hostname(),
    username: safeUsername(),
    kdf: 'scrypt',
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    salt: salt.toString('base64'),
    data: seal(wrapKey, Buffer.from(masterKeyToJson(master)), KEY_AAD).toString('base64'),
  };
  const bytes = Buffer.from(JSON.stringify(file, null, 2));
  const name = fileId(bytes);
  await createFile(backend, { type: 'keys', name }, bytes);
  return name;
}

/** A key file unlock did not try, and why (shown to the user: a hostile or damaged key file). */
export interface SkippedKey {
  name: string;
  reason: string;
}

/** Largest key file read: Safehold writes about 400 bytes. */
const MAX_KEY_FILE = 64 * 1024;
const SALT_BYTES = { min: 16, max: 1024 };
/** Skipped key files named in an error message; the rest are counted. */
const LISTED_SKIPS = 5;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A key file that passed every check and is worth a key derivation. */
export interface Candidate {
  kdf: KdfParams;
  salt: Buffer;
  data: Buffer;
}

type Attempt = { master: MasterKey } | { skip: string } | 'wrong password';

/**
 * Tries the password against every key file. A key file that is malformed,
 * asks for scrypt parameters outside KDF_BOUNDS or whose derivation fails is
 * skipped (listed in `skipped`), and the others are still tried. None opens:
 * WRONG_PASSWORD, or CORRUPT when every key file was skipped; both messages
 * list the skipped files.
 */
export async function unlock(backend: Backend, password: string): Promise<UnlockedKey> {
  const files = await backend.list('keys');
  if (files.length === 0) throw new SafeholdError('CORRUPT', `repository at ${backend.location} has no key files`);
  // Every file is read and checked first (cheap, no key derivation), so every malformed one is reported.
  const skipped: SkippedKey[] = [];
  const candidates: { name: string; c: Candidate }[] = [];
  for (const f of files) {
    const c = await readKeyFile(backend, f);
    if (typeof c === 'string') skipped.push({ name: f.name, reason: c });
    else candidates.push({ name: f.name, c });
  }
  for (const { name, c } of candidates) {
    const attempt = await tryKey(c, password, name);
    if (attempt === 'wrong password') continue;
    if ('skip' in attempt) skipped.push({ name, reason: attempt.skip });
    else return { name, master: attempt.master, skipped };
  }
  throw noKeyOpened(backend.location, files.length, skipped);
}

/** The key file's checked contents, or why it is skipped. */
export async function readKeyFile(backend: Backend, f: FileInfo): Promise<Candidate | string> {
  const tooLarge = `larger than ${formatBytes(MAX_KEY_FILE)}`;
  if (f.size > MAX_KEY_FILE) return tooLarge;
  let raw: Buffer;
  try {
    raw = await backend.load({ type: 'keys', name: f.name });
  } catch (e) {
    if (isSafeholdError(e, 'NOT_FOUND')) return 'removed while the repository was being opened';
    throw e;
  }
  return raw.length > MAX_KEY_FILE ? tooLarge : parseKeyFile(raw);
}

/** Checks a key file's JSON: kdf, scrypt parameters within KDF_BOUNDS, salt and data. */
function parseKeyFile(raw: Buffer): Candidate | string {
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (o.kdf !== 'scrypt') return 'kdf is not "scrypt"';
  const problem = kdfProblem(o);
  if (problem) return `scrypt parameters out of bounds: ${problem}`;
  const salt = base64(o.salt);
  if (!salt || salt.length < SALT_BYTES.min || salt.length > SALT_BYTES.max)
    return `salt is not base64 of ${SALT_BYTES.min} to ${SALT_BYTES.max} bytes`;
  const data = base64(o.data);
  if (!data || data.length <= OVERHEAD) return 'data is not base64 of a sealed master key';
  return { kdf: { N: o.N as number, r: o.r as number, p: o.p as number }, salt, data };
}

function base64(v: unknown): Buffer | undefined {
  return typeof v === 'string' && v.length % 4 === 0 && BASE64.test(v) ? Buffer.from(v, 'base64') : undefined;
}

/** Derives the wrapping key and opens the master key with it. */
async function tryKey(c: Candidate, password: string, name: string): Promise<Attempt> {
  let wrapKey: Buffer;
  try {
    wrapKey = await deriveKey(password, c.salt, c.kdf);
  } catch (e) {
    return { skip: e instanceof Error ? e.message : String(e) };
  }
  let plain: Buffer;
  try {
    plain = open(wrapKey, c.data, KEY_AAD, `key ${name}`);
  } catch (e) {
    if (isSafeholdError(e, 'CORRUPT')) return 'wrong password';
    throw e;
  }
  try {
    return { master: masterKeyFromJson(plain.toString('utf8')) };
  } catch {
    return { skip: 'the password opens it, but the master key inside is malformed' };
  }
}

function noKeyOpened(location: string, total: number, skipped: SkippedKey[]): SafeholdError {
  const details = { skippedKeys: skipped };
  if (skipped.length === total) {
    return new SafeholdError('CORRUPT', `no usable key file in ${location}: ${describeSkipped(skipped)}`, { details });
  }
  const also = skipped.length > 0 ? `; ${describeSkipped(skipped)}` : '';
  return new SafeholdError('WRONG_PASSWORD', `wrong password or no key found for it${also}`, { details });
}

/** "2 key files skipped: 0123456789ab (not JSON), …" (names shortened and made printable). */
export function describeSkipped(skipped: readonly SkippedKey[]): string {
  const listed = skipped
    .slice(0, LISTED_SKIPS)
    .map((s) => `${s.name.slice(0, 12).replace(/[^\x20-\x7e]/g, '?')} (${s.reason})`);
  const more = skipped.length > LISTED_SKIPS ? `, and ${skipped.length - LISTED_SKIPS} more` : '';
  return `${skipped.length} key file${skipped.length === 1 ? '' : 's'} skipped: ${listed.join(', ')}${more}`;
}

function safeUsername(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}
