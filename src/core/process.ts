// Facts about processes on this host.

import { sysCode } from './errors.ts';

/** Whether a process of this pid exists on this host (EPERM: it exists, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return sysCode(e) !== 'ESRCH';
  }
}
