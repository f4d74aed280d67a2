// Facts about processes for tests that check what was stopped: whether a
// process still runs, counting a zombie (exited, not yet reaped) as gone.

import fs from 'node:fs';

/** Whether a process exists and has not finished (a zombie counts as finished). */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
