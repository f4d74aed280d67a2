// Backups and restores on faulty storage (kopia's "faulty storage"): a local
// repository seen through the fault-injection wrapper and the retry layer the
// backend factory puts around remote backends. Transient faults at every
// point — failed and hung uploads, an upload whose answer was lost, resets
// and truncated bodies on download, failed lists — are retried: the backup
// succeeds and restores byte for byte. A permanent fault, or transient ones
// outlasting the attempts, fail the backup cleanly with a clear error, the
// lock is gone, and `check --read-data` accepts the repository afterwards.

import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { FaultyBackend } from '../src/repo/backend/faulty-backend.ts';
import type { Fault } from '../src/repo/backend/faulty-backend.ts';
import { RetryingBackend } from '../src/repo/backend/retrying-backend.ts';
import type { RetryEvent } from '../src/repo/backend/retrying-backend.ts';
import { RepoLock, listLocks } from '../src/repo/lock.ts';
import { listSnapshots } from '../src/repo/snapshot.ts';
import { backup } from '../src/engine/backup/archiver.ts';
import { restore } from '../src/engine/restore/restorer.ts';
import { check } from '../src/engine/check/checker.ts';
import { isSafeholdError } from '../src/core/errors.ts';
import { compareFiles, makeDataset } from './helpers/data.ts';

const PW = 'faulty storage';
const KDF = { N: 1024, r: 8, p: 1 };
const PACK_SIZE = 512 * 1024;

interface Rig {
  dir: string;
  repoDir: string;
  src: string;
}

function rig(t: TestContext): Rig {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-faulty-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const src = path.join(dir, 'src');
  makeDataset(src, {
    seed: 14,
    small: 300,
    smallMax: 8 * 1024,
    medium: 6,
    mediumMin: 100 * 1024,
    mediumMax: 400 * 1024,
    large: [3 * 1024 * 1024],
    textShare: 0.3,
  });
  return { dir, repoDir: path.join(dir, 'repo'), src };
}

/** The local repository behind faults and retries (short delays and timeouts: the test runs in seconds). */
function faulty(r: Rig, faults: Fault[], maxAttempts = 6) {
  const faults$ = new FaultyBackend(new LocalBackend(r.repoDir), faults);
  const retries: RetryEvent[] = [];
  const backend = new RetryingBackend(faults$, {
    maxAttempts,
    baseDelayMs: 2,
    maxDelayMs: 20,
    timeoutMs: 1000,
    onRetry: (e) => retries.push(e),
  });
  return { faults: faults$, backend, retries };
}

/** A backup as the CLI runs it: under a shared lock, released whatever happens. */
async function lockedBackup(repo: Repository, src: string) {
  const lock = await RepoLock.acquire(repo, false);
  try {
    return await backup(repo, { paths: [src] });
  } finally {
    await lock.release();
  }
}

/** check --read-data through a clean handle: no errors (unindexed packs are only warnings). */
async function assertSound(r: Rig): Promise<void> {
  const repo = await Repository.open(new LocalBackend(r.repoDir), PW);
  const res = await check(repo, { readData: true });
  assert.deepEqual(res.errors, [], 'check --read-data finds no error');
  assert.equal(res.ok, true);
  for (const w of res.warnings) assert.match(w.message, /not in any index/);
  assert.deepEqual(await listLocks(repo), [], 'no lock left behind');
  await repo.close();
}

describe('faulty storage', () => {
  it('transient faults everywhere are retried: init, backup and restore succeed byte for byte', async (t) => {
    const r = rig(t);
    const w = faulty(r, [
      { op: 'saveNew', type: 'keys', nth: 1, kind: 'transient' },
      { op: 'saveNew', type: 'config', nth: 1, kind: 'transient', afterWrite: true },
      { op: 'saveNew', type: 'locks', nth: 1, kind: 'timeout' },
      { op: 'list', type: 'index', nth: 1, kind: 'transient', times: 2 },
      { op: 'save', type: 'data', nth: 2, kind: 'transient', times: 3 },
      { op: 'save', type: 'data', nth: 5, kind: 'timeout' },
      { op: 'save', type: 'data', nth: 7, kind: 'transient', afterWrite: true },
      { op: 'save', type: 'index', nth: 1, kind: 'transient', afterWrite: true },
      { op: 'save', type: 'snapshots', nth: 1, kind: 'transient' },
      { op: 'remove', type: 'locks', nth: 1, kind: 'transient' },
    ]);
    const repo = await Repository.init(w.backend, PW, { kdf: KDF, packSize: PACK_SIZE });
    const { snapshot, errors } = await lockedBackup(repo, r.src);
    assert.deepEqual(errors, []);
    await repo.close();
    assert.equal(w.faults.injected.length, 13, JSON.stringify(w.faults.injected));
    assert.equal(w.retries.length, 13, JSON.stringify(w.retries.map((e) => [e.op, e.what, e.error.message])));
    assert.ok(w.faults.calls('save', 'data') >= 10, 'many packs written');

    const rd = faulty(r, [
      { op: 'load', type: 'keys', nth: 1, kind: 'transient' },
      { op: 'load', type: 'index', nth: 1, kind: 'truncate' },
      { op: 'list', type: 'snapshots', nth: 1, kind: 'transient' },
      { op: 'load', type: 'snapshots', nth: 1, kind: 'reset' },
      { op: 'load', type: 'data', nth: 2, kind: 'truncate', times: 2 },
      { op: 'load', type: 'data', nth: 6, kind: 'reset' },
      { op: 'load', type: 'data', nth: 9, kind: 'timeout' },
      { op: 'load', type: 'data', nth: 12, kind: 'transient', times: 4 },
    ]);
    const reader = await Repository.open(rd.backend, PW);
    const [snap] = await listSnapshots(reader);
    assert.equal(snap?.tree, snapshot.tree);
    await reader.loadIndex();
    const target = path.join(r.dir, 'restored');
    const res = await restore(reader, snapshot.tree, { target });
    assert.deepEqual(res.errors, []);
    assert.deepEqual(compareFiles(r.src, path.join(target, r.src)), [], 'restores byte for byte');
    await reader.close();
    assert.equal(rd.faults.injected.length, 12, JSON.stringify(rd.faults.injected));
    assert.ok(
      rd.retries.some((e) => /short read/.test(e.error.message)),
      'truncated bodies were caught',
    );
    await assertSound(r);
  });

  it('a permanent fault fails the backup cleanly, and check accepts the repository', async (t) => {
    const r = rig(t);
    await (await Repository.init(new LocalBackend(r.repoDir), PW, { kdf: KDF, packSize: PACK_SIZE })).close();
    const w = faulty(r, [{ op: 'save', type: 'data', nth: 4, kind: 'permanent' }]);
    const repo = await Repository.open(w.backend, PW);
    await assert.rejects(lockedBackup(repo, r.src), (e: unknown) => {
      assert.ok(isSafeholdError(e, 'IO'), String(e));
      assert.match(e.message, /save data\/[0-9a-f]{12} at .*: injected permanent fault/);
      return true;
    });
    await repo.close();
    assert.equal(w.retries.length, 0, 'a permanent fault is not retried');
    assert.deepEqual(await new LocalBackend(r.repoDir).list('snapshots'), [], 'no snapshot written');
    await assertSound(r);
  });

  it('transient faults outlasting the attempts fail with the count and the last cause', async (t) => {
    const r = rig(t);
    await (await Repository.init(new LocalBackend(r.repoDir), PW, { kdf: KDF, packSize: PACK_SIZE })).close();
    const w = faulty(r, [{ op: 'save', type: 'index', nth: 1, kind: 'transient', times: 10 }], 3);
    const repo = await Repository.open(w.backend, PW);
    await assert.rejects(lockedBackup(repo, r.src), (e: unknown) => {
      assert.ok(isSafeholdError(e, 'IO'), String(e));
      assert.match(e.message, /save index\/[0-9a-f]{12} at .* failed after 3 attempts; last error: .*transient fault/);
      return true;
    });
    await repo.close();
    assert.equal(w.retries.length, 2);
    await assertSound(r);
    // The next backup, without faults, succeeds and restores.
    const again = await Repository.open(new LocalBackend(r.repoDir), PW);
    const { snapshot } = await lockedBackup(again, r.src);
    const target = path.join(r.dir, 'restored');
    assert.deepEqual((await restore(again, snapshot.tree, { target })).errors, []);
    assert.deepEqual(compareFiles(r.src, path.join(target, r.src)), []);
    await again.close();
  });
});
