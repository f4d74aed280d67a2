// Tests of repository locks: shared locks coexist, exclusive and shared
// conflict both ways (LOCKED, naming the holder), heartbeats older than 30
// minutes are stale (ManualClock), locks of dead processes on this host are
// stale, refresh renews a heartbeat, and removeLocks removes stale or all.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Repository } from './repository.ts';
import { RepoLock, STALE_MS, isStale, listLocks, removeLocks } from './lock.ts';
import type { LockFile } from './lock.ts';
import { MemoryBackend } from './backend/memory-backend.ts';
import { ManualClock } from '../core/clock.ts';
import { isSafeholdError } from '../core/errors.ts';

const KDF = { N: 1024, r: 8, p: 1 };

/** Two handles on one repository (as two processes would have), sharing a manual clock. */
async function twoHandles(): Promise<{ a: Repository; b: Repository; clock: ManualClock }> {
  const clock = new ManualClock();
  const backend = new MemoryBackend();
  const a = await Repository.init(backend, 'pw', { kdf: KDF, clock });
  const b = await Repository.open(backend, 'pw', clock);
  return { a, b, clock };
}

function lockedBy(pid: number, host: string, exclusive: boolean) {
  return (e: unknown): boolean => {
    assert.ok(isSafeholdError(e, 'LOCKED'), `expected LOCKED, got ${String(e)}`);
    assert.ok(e.message.includes(`pid ${pid} on ${host}`), e.message);
    assert.equal(e.message.includes('exclusively'), exclusive, e.message);
    assert.equal(e.retryable, true);
    assert.equal(e.details?.holder, `${host}:${pid}`);
    return true;
  };
}

function forged(clock: ManualClock, over: Partial<LockFile>): LockFile {
  return {
    time: new Date(clock.now()).toISOString(),
    heartbeat: clock.now(),
    exclusive: false,
    hostname: os.hostname(),
    pid: process.pid,
    username: 'test',
    ...over,
  };
}

/** Pid of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  const pid = child.pid!;
  await once(child, 'exit');
  return pid;
}

describe('repository locks', () => {
  it('shared locks coexist', async () => {
    const { a, b } = await twoHandles();
    const l1 = await RepoLock.acquire(a, false);
    const l2 = await RepoLock.acquire(b, false);
    const l3 = await RepoLock.acquire(a, false);
    assert.equal((await listLocks(a)).length, 3);
    await l1.release();
    await l2.release();
    await l3.release();
    assert.deepEqual(await listLocks(a), []);
  });

  it('an exclusive lock blocks shared and exclusive locks, naming its holder', async () => {
    const { a, b } = await twoHandles();
    const ex = await RepoLock.acquire(a, true);
    await assert.rejects(RepoLock.acquire(b, false), lockedBy(process.pid, os.hostname(), true));
    await assert.rejects(RepoLock.acquire(b, true), lockedBy(process.pid, os.hostname(), true));
    assert.equal((await listLocks(a)).length, 1, 'a refused lock leaves no file behind');
    await ex.release();
    const shared = await RepoLock.acquire(b, false);
    await shared.release();
  });

  it('a shared lock blocks an exclusive one, naming its holder', async () => {
    const { a, b } = await twoHandles();
    const shared = await RepoLock.acquire(a, false);
    await assert.rejects(RepoLock.acquire(b, true), lockedBy(process.pid, os.hostname(), false));
    assert.equal((await listLocks(a)).length, 1);
    await shared.release();
    const ex = await RepoLock.acquire(b, true);
    await ex.release();
  });

  it('names a holder on another host by its pid and host name', async () => {
    const { a, clock } = await twoHandles();
    await a.saveFile('locks', forged(clock, { hostname: 'far-away-host', pid: 424242, exclusive: true }));
    await assert.rejects(RepoLock.acquire(a, false), lockedBy(424242, 'far-away-host', true));
    // A live lock on another host is never judged by its pid.
    assert.equal((await listLocks(a))[0]!.stale, false);
  });

  it('a heartbeat older than 30 minutes is stale and ignored by acquire', async () => {
    const { a, b, clock } = await twoHandles();
    const ex = await RepoLock.acquire(a, true);
    await clock.advance(STALE_MS);
    assert.equal((await listLocks(b))[0]!.stale, false, 'exactly 30 minutes old is not yet stale');
    await assert.rejects(RepoLock.acquire(b, false), (e: unknown) => isSafeholdError(e, 'LOCKED'));
    await clock.advance(1);
    assert.equal((await listLocks(b))[0]!.stale, true);
    const shared = await RepoLock.acquire(b, false);
    const ex2 = await RepoLock.acquire(b, true).catch((e: unknown) => e);
    assert.ok(isSafeholdError(ex2, 'LOCKED'), 'the live shared lock still blocks an exclusive one');
    await shared.release();
    const ex3 = await RepoLock.acquire(b, true);
    await ex3.release();
    await ex.release();
  });

  it('refresh renews the heartbeat so a long-running holder does not go stale', async () => {
    const { a, b, clock } = await twoHandles();
    const ex = await RepoLock.acquire(a, true);
    await clock.advance(STALE_MS - 1000);
    await ex.refresh();
    await clock.advance(STALE_MS - 1000);
    const locks = await listLocks(b);
    assert.equal(locks.length, 1, 'refresh replaces the lock file');
    assert.equal(locks[0]!.stale, false);
    await assert.rejects(RepoLock.acquire(b, false), (e: unknown) => isSafeholdError(e, 'LOCKED'));
    await ex.release();
    assert.deepEqual(await listLocks(b), []);
  });

  it('removeLocks removes only stale locks, or all of them', async () => {
    const { a, b, clock } = await twoHandles();
    await a.saveFile('locks', forged(clock, { exclusive: true, hostname: 'other-host', pid: 1 }));
    await clock.advance(STALE_MS + 1);
    const live = await RepoLock.acquire(b, false);
    await a.saveFile('locks', forged(clock, { hostname: 'other-host', pid: 2 }));
    assert.deepEqual((await listLocks(a)).map((l) => l.stale).sort(), [false, false, true]);
    assert.equal(await removeLocks(a, false), 1);
    const left = await listLocks(a);
    assert.equal(left.length, 2);
    assert.ok(left.every((l) => !l.stale));
    assert.equal(await removeLocks(a, true), 2);
    assert.deepEqual(await listLocks(a), []);
    await live.release();
  });

  it("a lock of a dead process on this host is stale; a live process's is not", async () => {
    const { a, b, clock } = await twoHandles();
    const dead = await deadPid();
    await a.saveFile('locks', forged(clock, { pid: dead, exclusive: true }));
    const sleeper = spawn('sleep', ['30']);
    try {
      await once(sleeper, 'spawn');
      await a.saveFile('locks', forged(clock, { pid: sleeper.pid!, exclusive: false }));
      const locks = await listLocks(b);
      assert.equal(locks.find((l) => l.pid === dead)!.stale, true);
      assert.equal(locks.find((l) => l.pid === sleeper.pid)!.stale, false);
      // The dead exclusive lock is ignored; the live shared one blocks exclusive.
      const shared = await RepoLock.acquire(b, false);
      await shared.release();
      await assert.rejects(RepoLock.acquire(b, true), lockedBy(sleeper.pid!, os.hostname(), false));
      assert.equal(await removeLocks(b, false), 1);
      assert.deepEqual(
        (await listLocks(b)).map((l) => l.pid),
        [sleeper.pid],
      );
    } finally {
      sleeper.kill('SIGKILL');
    }
    await once(sleeper, 'exit');
    // Once the sleeper is gone its lock is stale too.
    assert.equal((await listLocks(b))[0]!.stale, true);
    const ex = await RepoLock.acquire(b, true);
    await ex.release();
  });

  it('isStale: own pid is never judged dead; other hosts only by heartbeat', () => {
    const now = Date.UTC(2026, 0, 1);
    const l = forged(new ManualClock(now), {});
    assert.equal(isStale(l, now), false);
    assert.equal(isStale(l, now + STALE_MS + 1), true);
    assert.equal(isStale({ ...l, hostname: 'elsewhere', pid: 999_999_999 }, now), false);
  });
});

describe('repository locks: damage and races', () => {
  it('a damaged lock file blocks nothing and unlock removes it', async () => {
    const { a } = await twoHandles();
    await a.backend.save({ type: 'locks', name: 'deadbeef' }, Buffer.from('junk'));
    const listed = await listLocks(a);
    assert.equal(listed.length, 1);
    assert.equal(listed[0]!.stale, true);
    const ex = await RepoLock.acquire(a, true);
    await ex.release();
    assert.equal(await removeLocks(a, false), 1);
    assert.deepEqual(await a.backend.list('locks'), []);
  });

  it('release during a heartbeat refresh leaves no lock file behind', async () => {
    const { a } = await twoHandles();
    const lock = await RepoLock.acquire(a, false);
    const refreshing = lock.refresh();
    await lock.release();
    await refreshing;
    assert.deepEqual(await a.backend.list('locks'), []);
    await lock.refresh();
    assert.deepEqual(await a.backend.list('locks'), [], 'a released lock is not refreshed back to life');
  });
});

describe('repository locks and inits: created, never written over', () => {
  it('a refresh within the same millisecond keeps the lock file', async () => {
    const { a } = await twoHandles();
    const lock = await RepoLock.acquire(a, false);
    await lock.refresh();
    assert.equal((await a.backend.list('locks')).length, 1, 'same heartbeat, same name: the file stays');
    await lock.release();
    assert.deepEqual(await a.backend.list('locks'), []);
  });

  it('lock files are created with saveNew, and a backend without saveNew still locks', async () => {
    const { a, clock } = await twoHandles();
    const backend = a.backend as MemoryBackend;
    let created = 0;
    const saveNew = backend.saveNew.bind(backend);
    backend.saveNew = (h, data) => {
      if (h.type === 'locks') created++;
      return saveNew(h, data);
    };
    const lock = await RepoLock.acquire(a, false);
    await clock.advance(1000);
    await lock.refresh();
    assert.equal(created, 2);
    await lock.release();
    const plain = new MemoryBackend() as Partial<MemoryBackend>;
    delete (plain as { saveNew?: unknown }).saveNew;
    Object.defineProperty(plain, 'saveNew', { value: undefined });
    const repo = await Repository.init(plain as MemoryBackend, 'pw', { kdf: KDF });
    const l2 = await RepoLock.acquire(repo, true);
    assert.equal((await listLocks(repo)).length, 1);
    await l2.release();
  });

  it('of two inits racing on one location exactly one wins, and its password opens the repository', async () => {
    for (let round = 0; round < 10; round++) {
      const backend = new MemoryBackend();
      const results = await Promise.allSettled([
        Repository.init(backend, 'pw-a', { kdf: KDF }),
        Repository.init(backend, 'pw-b', { kdf: KDF }),
      ]);
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      assert.equal(won.length, 1, `round ${round}: one init succeeds`);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.ok(isSafeholdError(lost.reason, 'REPO_EXISTS'), String(lost.reason));
      const repo = await Repository.open(backend, won[0] === 0 ? 'pw-a' : 'pw-b');
      assert.equal(repo.config.id, (results[won[0]!] as PromiseFulfilledResult<Repository>).value.config.id);
    }
  });
});
