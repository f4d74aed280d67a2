// Host key pinning against an OpenSSH known_hosts file, for the SFTP backend:
// plain and hashed (`|1|salt|hash`) host names, `[host]:port` for ports other
// than 22, comma-separated patterns with `*`/`?` wildcards and `!` negation,
// and `@revoked` lines. Certificate authorities (`@cert-authority`) are not
// trusted here. Fingerprints are shown like OpenSSH's (`SHA256:base64`).

import { createHash, createHmac } from 'node:crypto';

export type HostKeyVerdict =
  /** A line for this host holds this very key. */
  | { kind: 'match' }
  /** No line names this host. */
  | { kind: 'unknown' }
  /** The host is known, but with other keys (of these types). */
  | { kind: 'changed'; knownTypes: string[] }
  /** The key is marked @revoked. */
  | { kind: 'revoked' };

interface KnownHostLine {
  marker: '' | '@revoked' | '@cert-authority';
  hosts: string;
  keyType: string;
  key: Buffer;
}

/** The name OpenSSH looks up: `host`, or `[host]:port` for another port. */
export function knownHostsName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Checks the key `blob` a server presented against known_hosts `text`. */
export function checkHostKey(text: string, host: string, port: number, blob: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const knownTypes: string[] = [];
  let matched = false;
  for (const line of parseKnownHosts(text)) {
    if (line.marker === '@cert-authority' || !hostMatches(line.hosts, name)) continue;
    const same = line.key.equals(blob);
    if (line.marker === '@revoked') {
      if (same) return { kind: 'revoked' };
      continue;
    }
    if (same) matched = true;
    else knownTypes.push(line.keyType);
  }
  if (matched) return { kind: 'match' };
  return knownTypes.length > 0 ? { kind: 'changed', knownTypes: [...new Set(knownTypes)] } : { kind: 'unknown' };
}

/** Key types known_hosts holds for the host (so the client can ask the server for one of them). */
export function knownKeyTypes(text: string, host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  const out = new Set<string>();
  for (const line of parseKnownHosts(text)) {
    if (line.marker === '' && hostMatches(line.hosts, name)) out.add(line.keyType);
  }
  return [...out];
}

/** OpenSSH's fingerprint of a public key blob: `SHA256:` and unpadded base64. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type named at the start of a public key blob (e.g. `ssh-ed25519`). */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  return len > 0 && 4 + len <= blob.length ? blob.subarray(4, 4 + len).toString('latin1') : 'unknown';
}

function parseKnownHosts(text: string): KnownHostLine[] {
  const out: KnownHostLine[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostLine['marker'] = '';
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostLine['marker'];
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64) continue;
    const key = Buffer.from(b64, 'base64');
    // The blob repeats the type; a line whose blob disagrees is malformed and ignored.
    if (keyTypeOf(key) !== keyType) continue;
    out.push({ marker, hosts, keyType, key });
  }
  return out;
}

/** Whether a comma-separated pattern list (or one hashed name) matches `name`; a matching `!` pattern wins. */
function hostMatches(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) return hashedMatches(patterns, name);
  let hit = false;
  for (const p of patterns.split(',')) {
    if (p.startsWith('!')) {
      if (globMatches(p.slice(1), name)) return false;
    } else if (globMatches(p, name)) hit = true;
  }
  return hit;
}

function hashedMatches(entry: string, name: string): boolean {
  const [, , salt, hash] = entry.split('|');
  if (!salt || !hash) return false;
  const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return mac.equals(Buffer.from(hash, 'base64'));
}

function globMatches(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === name.toLowerCase();
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(name);
}
