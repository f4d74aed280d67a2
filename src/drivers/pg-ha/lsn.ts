// WAL positions (LSNs) as PostgreSQL writes them ('0/3000060'): parsing,
// formatting and distances in bytes, as bigint so no position loses bits.

import { SafeholdError } from '../../core/errors.ts';

export function parseLsn(s: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(s.trim());
  if (!m) throw new SafeholdError('CORRUPT', `${JSON.stringify(s)} is not a WAL position (like 0/3000060)`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export function formatLsn(n: bigint): string {
  return `${(n >> 32n).toString(16).toUpperCase()}/${(n & 0xffffffffn).toString(16).toUpperCase()}`;
}

/** Bytes from `from` to `to` (0 when `to` is not after `from`). */
export function lsnBytes(from: string, to: string): number {
  const d = parseLsn(to) - parseLsn(from);
  return d > 0n ? Number(d) : 0;
}

/** Whether a ≥ b. */
export function lsnAtLeast(a: string, b: string): boolean {
  return parseLsn(a) >= parseLsn(b);
}
