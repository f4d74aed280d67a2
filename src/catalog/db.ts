// Shared helpers of the catalog's stores: SQLite errors as SafeholdErrors,
// and whether a recorded process is still alive on this host.

import { SafeholdError, isSafeholdError, sysCode } from '../core/errors.ts';

/** Whether a process of this pid exists on this host (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return sysCode(e) !== 'ESRCH';
  }
}

export function dbError(e: unknown, what: string): SafeholdError {
  if (isSafeholdError(e)) return e;
  const msg = e instanceof Error ? e.message : String(e);
  // SQLITE_BUSY (5) / SQLITE_LOCKED (6): another writer held the database past the busy timeout.
  const errcode = typeof e === 'object' && e !== null && 'errcode' in e ? Number((e as { errcode: unknown }).errcode) & 0xff : undefined;
  const busy = errcode === 5 || errcode === 6;
  return new SafeholdError('IO', `catalog: ${what}: ${msg}`, { cause: e, retryable: busy });
}

