// Repository locks: a shared lock for backup, restore and check, an exclusive
// one for operations that must run alone (key passwd now; prune later). A
// lock file names its holder
// (host, pid) and is refreshed by a heartbeat; a lock whose heartbeat is older
// than STALE_MS, or whose process is gone on this host, is stale and ignored
// (and removed by `unlock`).

import os from 'node:os';
import type { Repository } from './repository.ts';
import { SafeholdError, isSafeholdError } from '../core/errors.ts';
import { processAlive } from '../core/process.ts';
import { removeFiles } from './backend/backend.ts';

export interface LockFile {
  time: string;
  heartbeat: number;
  exclusive: boolean;
  hostname: string;
  pid: number;
  username: string;
}

export const STALE_MS = 30 * 60 * 1000;
export const REFRESH_MS = 5 * 60 * 1000;

export interface LockInfo extends LockFile {
  name: string;
  stale: boolean;
}

export class RepoLock {
  private name: string;
  private readonly repo: Repository;
  private readonly file: LockFile;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | null = null;
  private released = false;

  private constructor(repo: Repository, name: string, file: LockFile) {
    this.repo = repo;
    this.name = name;
    this.file = file;
  }

  /** Takes a lock; LOCKED if a conflicting live lock exists. */
  static async acquire(repo: Repository, exclusive: boolean): Promise<RepoLock> {
    const blocking = (l: LockInfo) => !l.stale && (exclusive || l.exclusive);
    const first = (await listLocks(repo)).find(blocking);
    if (first) throw lockedError(first);
    const file: LockFile = {
      time: new Date(repo.clock.now()).toISOString(),
      heartbeat: repo.clock.now(),
      exclusive,
      hostname: os.hostname(),
      pid: process.pid,
      username: os.userInfo().username,
    };
    const name = await repo.saveFile('locks', file, { create: true });
    const lock = new RepoLock(repo, name, file);
    // Another process may have locked between our check and our write: look again.
    // Our own file is not read back: it is the one just written (one GET fewer per lock).
    const other = (await listLocks(repo, name)).find((l) => l.name !== name && blocking(l));
    if (other) {
      await lock.release();
      throw lockedError(other);
    }
    lock.timer = setInterval(() => void lock.refresh().catch(() => {}), REFRESH_MS);
    lock.timer.unref();
    return lock;
  }

  /** Writes a lock file with a new heartbeat, then removes the previous one. */
  refresh(): Promise<void> {
    if (this.released) return Promise.resolve();
    this.refreshing ??= (async () => {
      const old = this.name;
      this.file.heartbeat = this.repo.clock.now();
      this.name = await this.repo.saveFile('locks', this.file, { create: true });
      // Same heartbeat, same bytes, same name: the file written is the one held.
      if (this.name !== old) await this.repo.backend.remove({ type: 'locks', name: old });
    })().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** Removes the lock; waits for a refresh under way, so its new file goes too. */
  async release(): Promise<void> {
    this.released = true;
    if (this.timer) clearInterval(this.timer);
    await this.refreshing?.catch(() => {});
    await this.repo.backend.remove({ type: 'locks', name: this.name });
  }
}

/** The repository's locks; `except` names one not to read (the caller's own). */
export async function listLocks(repo: Repository, except?: string): Promise<LockInfo[]> {
  const out: LockInfo[] = [];
  for (const f of await repo.backend.list('locks')) {
    if (f.name === except) continue;
    try {
      const l = await repo.loadFile<LockFile>('locks', f.name);
      out.push({ ...l, name: f.name, stale: isStale(l, repo.clock.now()) });
    } catch (e) {
      // Removed meanwhile (a refresh or release): not a lock any more.
      if (isSafeholdError(e, 'NOT_FOUND')) continue;
      // A damaged lock file holds nothing: it must not block the repository; unlock removes it.
      if (isSafeholdError(e, 'CORRUPT')) {
        out.push({
          time: '',
          heartbeat: 0,
          exclusive: false,
          hostname: '(damaged lock file)',
          pid: 0,
          username: '',
          name: f.name,
          stale: true,
        });
        continue;
      }
      throw e;
    }
  }
  return out;
}

export function isStale(l: LockFile, now: number): boolean {
  if (now - l.heartbeat > STALE_MS) return true;
  if (l.hostname === os.hostname() && l.pid !== process.pid && !processAlive(l.pid)) return true;
  return false;
}

/** Removes stale locks (or every lock with `all`); returns how many. */
export async function removeLocks(repo: Repository, all: boolean): Promise<number> {
  const gone = (await listLocks(repo)).filter((l) => all || l.stale);
  await removeFiles(
    repo.backend,
    gone.map((l) => ({ type: 'locks', name: l.name })),
  );
  return gone.length;
}

function lockedError(l: LockInfo): SafeholdError {
  return new SafeholdError(
    'LOCKED',
    `repository is locked ${l.exclusive ? 'exclusively ' : ''}by pid ${l.pid} on ${l.hostname} since ${l.time} (run 'safehold unlock' if that process is gone)`,
    { retryable: true, details: { holder: `${l.hostname}:${l.pid}`, since: l.time } },
  );
}
