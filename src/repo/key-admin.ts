// Managing a repository's key files (safehold key list|add|remove): listing
// them with what each says of itself, adding one for a new password (the
// same master key, nothing re-encrypted), and removing one, never the key
// the repository was opened with (the password in use would stop working
// mid-command) and never the last usable key. A key file's host, user and
// time are plain JSON: informative, not authenticated.

import type { Repository } from './repository.ts';
import { readKeyFile, writeKeyFile } from './keys.ts';
import type { KdfParams } from './crypto.ts';
import { SafeholdError } from '../core/errors.ts';

export interface KeyInfo {
  /** The key file's name (its id). */
  id: string;
  /** The key this repository was opened with. */
  current: boolean;
  created: string | null;
  hostname: string | null;
  username: string | null;
  /** Why unlocking skips this file (malformed, parameters out of bounds), or null. */
  problem: string | null;
}

/** Every key file, the one in use first, then by creation time. */
export async function listKeys(repo: Repository): Promise<KeyInfo[]> {
  const files = await repo.backend.list('keys');
  const keys: KeyInfo[] = [];
  for (const f of files) {
    const checked = await readKeyFile(repo.backend, f);
    const meta = typeof checked === 'string' ? {} : await keyMeta(repo, f.name);
    keys.push({
      id: f.name,
      current: f.name === repo.keyName,
      created: text(meta.created),
      hostname: text(meta.hostname),
      username: text(meta.username),
      problem: typeof checked === 'string' ? checked : null,
    });
  }
  return keys.sort(
    (a, b) =>
      Number(b.current) - Number(a.current) ||
      (a.created ?? '').localeCompare(b.created ?? '') ||
      a.id.localeCompare(b.id),
  );
}

/** Adds a key file wrapping the repository's master key under `password`; returns its id. */
export function addKey(repo: Repository, password: string, kdf?: KdfParams): Promise<string> {
  return writeKeyFile(repo.backend, repo.key, password, kdf, repo.clock.now());
}

/**
 * Removes the key file named by `ref` (its id or a unique prefix). Refused
 * (FORBIDDEN) for the key in use and for the last key without a problem.
 */
export async function removeKey(repo: Repository, ref: string): Promise<string> {
  if (!/^[0-9a-f]{1,64}$/.test(ref)) throw new SafeholdError('NOT_FOUND', `'${ref}' is not a key id (hex digits)`);
  const keys = await listKeys(repo);
  const hits = keys.filter((k) => k.id.startsWith(ref));
  if (hits.length === 0) throw new SafeholdError('NOT_FOUND', `no key with id ${ref}`);
  if (hits.length > 1)
    throw new SafeholdError(
      'AMBIGUOUS',
      `key id prefix ${ref} is ambiguous: it matches ${hits.map((k) => k.id.slice(0, 8)).join(', ')}`,
    );
  const key = hits[0]!;
  if (key.current)
    throw new SafeholdError(
      'FORBIDDEN',
      `refusing to remove key ${key.id.slice(0, 8)}: it is the key in use; open the repository with another key's password to remove it`,
    );
  if (!keys.some((k) => k.id !== key.id && k.problem === null))
    throw new SafeholdError(
      'FORBIDDEN',
      `refusing to remove key ${key.id.slice(0, 8)}: it is the last usable key, and without it no password opens the repository`,
    );
  await repo.backend.remove({ type: 'keys', name: key.id });
  return key.id;
}

async function keyMeta(repo: Repository, name: string): Promise<Record<string, unknown>> {
  try {
    const v: unknown = JSON.parse((await repo.backend.load({ type: 'keys', name })).toString('utf8'));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** A printable short string from a key file's plain field, or null. */
function text(v: unknown): string | null {
  return typeof v === 'string' ? v.replace(/[^\x20-\x7e]/g, '?').slice(0, 100) : null;
}
