// Key files: each wraps the one master key under a key derived from a
// password (scrypt, parameters stored in the file). Changing the password
// writes a new key file and then removes the old one; no data is rewritten.

import crypto from 'node:crypto';
import os from 'node:os';
import type { Backend } from './backend/backend.ts';
import { DEFAULT_KDF, deriveKey, fileId, masterKeyFromJson, masterKeyToJson, open, seal } from './crypto.ts';
import type { KdfParams, MasterKey } from './crypto.ts';
import { SafeholdError, isSafeholdError } from '../core/errors.ts';

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
}

export async function writeKeyFile(backend: Backend, master: MasterKey, password: string, kdf: KdfParams = DEFAULT_KDF, now = Date.now()): Promise<string> {
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
  await backend.save({ type: 'keys', name }, bytes);
  return name;
}

/** Tries the password against every key file; WRONG_PASSWORD if none opens. */
export async function unlock(backend: Backend, password: string): Promise<UnlockedKey> {
  const files = await backend.list('keys');
  if (files.length === 0) throw new SafeholdError('CORRUPT', `repository at ${backend.location} has no key files`);
  for (const f of files) {
    const raw = await backend.load({ type: 'keys', name: f.name });
    let kf: KeyFile;
    try {
      kf = JSON.parse(raw.toString('utf8')) as KeyFile;
    } catch {
      continue;
    }
    if (kf.kdf !== 'scrypt' || !Number.isInteger(kf.N) || !Number.isInteger(kf.r) || !Number.isInteger(kf.p)) continue;
    const wrapKey = await deriveKey(password, Buffer.from(kf.salt, 'base64'), { N: kf.N, r: kf.r, p: kf.p });
    try {
      const plain = open(wrapKey, Buffer.from(kf.data, 'base64'), KEY_AAD, `key ${f.name}`);
      return { name: f.name, master: masterKeyFromJson(plain.toString('utf8')) };
    } catch (e) {
      if (isSafeholdError(e, 'CORRUPT')) continue;
      throw e;
    }
  }
  throw new SafeholdError('WRONG_PASSWORD', 'wrong password or no key found for it');
}

function safeUsername(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}
