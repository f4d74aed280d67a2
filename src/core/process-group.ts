// Process groups: every program Safehold starts runs detached, as the leader
// of a process group of its own, so stopping it reaches whatever it started
// too (a shell's children, pg_dump's workers). One way to stop a group:
// SIGTERM, then SIGKILL after a grace period, then a bounded wait until no
// live process is left in it (`GroupStop`).

import fs from 'node:fs';
import { sysCode } from './errors.ts';

/** Time between SIGTERM and SIGKILL unless a caller says otherwise (real ms). */
export const DEFAULT_GRACE_MS = 5000;
/** After SIGKILL, how long to wait for the group to disappear before giving up (a process in D state may linger). */
export const KILL_WAIT_MS = 2000;

/** Sends `sig` to every process of group `pgid`; a group already gone is not an error. */
export function signalGroup(pgid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pgid, sig);
  } catch {
    /* the group is gone */
  }
}

/**
 * Whether no live process is left in process group `pgid`. Zombies do not
 * count: orphans wait for init to reap them, which some inits do lazily.
 */
export function processGroupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (e) {
    return sysCode(e) === 'ESRCH';
  }
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return false;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'latin1');
    } catch {
      continue;
    }
    // 'pid (comm) state ppid pgrp ...'; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return false;
  }
  return true;
}

/**
 * Stopping one process group: SIGTERM at once, SIGKILL after `graceMs`
 * (then `onKill` runs). `over()` says when the caller may stop waiting: the
 * group is gone, or SIGKILL was sent more than KILL_WAIT_MS ago.
 */
export class GroupStop {
  private readonly pgid: number;
  private readonly timer: NodeJS.Timeout;
  private killedAt: number | null = null;

  constructor(pgid: number, graceMs: number, onKill: () => void) {
    this.pgid = pgid;
    signalGroup(pgid, 'SIGTERM');
    this.timer = setTimeout(() => {
      this.killedAt = Date.now();
      signalGroup(pgid, 'SIGKILL');
      onKill();
    }, graceMs);
  }

  over(): boolean {
    if (processGroupGone(this.pgid)) return true;
    return this.killedAt !== null && Date.now() - this.killedAt >= KILL_WAIT_MS;
  }

  /** Cancels a SIGKILL not sent yet (the run is over). */
  dispose(): void {
    clearTimeout(this.timer);
  }
}
