// Forget and prune on a real repository in a temp directory: three backups of
// changing files (small chunks and packs, so that packs mix used and unused
// blobs), then forget and prune: space is freed, every kept snapshot
// restores byte for byte and check --read-data passes; nothing to do changes
// nothing; damage makes prune refuse before it removes anything; a prune
// stopped before any of its steps leaves a sound repository and the next
// prune finishes; blobs stored twice end up stored once.

import { after, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Repository } from '../../repo/repository.ts';
import { LocalBackend } from '../../repo/backend/local-backend.ts';
import { RepoLock } from '../../repo/lock.ts';
import { listSnapshots } from '../../repo/snapshot.ts';
import { indexFileFor } from '../../repo/index.ts';
import type { IndexFile } from '../../repo/index.ts';
import { PackBuilder } from '../../repo/pack.ts';
import { fileId } from '../../repo/crypto.ts';
import { backup } from '../backup/archiver.ts';
import { restore } from '../restore/restorer.ts';
import { check } from '../check/checker.ts';
import { forget } from './forget.ts';
import { prune } from './prune.ts';
import type { PruneStep } from './prune.ts';
import { compareFiles, flipByte, randomBytes, textBytes } from '../../../test/helpers/data.ts';
import { isSafeholdError } from '../../core/errors.ts';

const KDF = { N: 1024, r: 8, p: 1 };
const CHUNKER = { minSize: 8 * 1024, avgSize: 16 * 1024, maxSize: 64 * 1024 };
const PACK_SIZE = 128 * 1024;
const PASSWORD = 'prune test';

interface Fixture {
  /** This test's own directory (removed after it). */
  dir: string;
  /** The backed-up directory (shared by all tests: do not change it). */
  src: string;
  repoDir: string;
  repo: Repository;
  /** Snapshot ids, oldest first, and a copy of the source as each one saw it. */
  snaps: { id: string; tree: string; expected: string }[];
}

/** Three backups: the first of four files; then one file replaced, one changed in the middle, one added; then two removed and one added. */
async function buildBase(dir: string): Promise<Omit<Fixture, 'repo'>> {
  const src = path.join(dir, 'src');
  const repoDir = path.join(dir, 'repo');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  const repo = await Repository.init(new LocalBackend(repoDir), PASSWORD, {
    kdf: KDF,
    chunker: CHUNKER,
    packSize: PACK_SIZE,
  });
  const snaps: Fixture['snaps'] = [];
  const snapshot = async () => {
    const r = await backup(repo, { paths: [src] });
    const expected = path.join(dir, `expected-${snaps.length + 1}`);
    fs.cpSync(src, expected, { recursive: true });
    snaps.push({ id: r.id, tree: r.snapshot.tree, expected });
  };
  const w = (rel: string, data: Buffer) => fs.writeFileSync(path.join(src, rel), data);
  w('a.bin', randomBytes('a1', 300_000));
  w('b.bin', randomBytes('b1', 200_000));
  w('c.txt', textBytes('c1', 50_000));
  w('sub/d.bin', randomBytes('d1', 150_000));
  await snapshot();
  w('b.bin', randomBytes('b2', 220_000));
  const a = fs.readFileSync(path.join(src, 'a.bin'));
  randomBytes('a2', 40_000).copy(a, 120_000);
  w('a.bin', a);
  w('e.bin', randomBytes('e2', 100_000));
  await snapshot();
  fs.rmSync(path.join(src, 'c.txt'));
  fs.rmSync(path.join(src, 'sub', 'd.bin'));
  w('f.bin', randomBytes('f3', 90_000));
  await snapshot();
  await repo.close();
  return { dir, src, repoDir, snaps };
}

const baseDir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-prune-'));
let base: Promise<Omit<Fixture, 'repo'>> | undefined;
after(() => fs.rmSync(baseDir, { recursive: true, force: true }));

/** A copy of the three-backup repository for one test (built once per file). */
async function fixture(t: TestContext): Promise<Fixture> {
  const b = await (base ??= buildBase(baseDir));
  const dir = fs.mkdtempSync(path.join(baseDir, 'test-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const repoDir = path.join(dir, 'repo');
  fs.cpSync(b.repoDir, repoDir, { recursive: true });
  return { ...b, dir, repoDir, repo: await Repository.open(new LocalBackend(repoDir), PASSWORD) };
}

/** Every file of the repository except locks and temp files: relative path → size. */
function repoFiles(repoDir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of fs.readdirSync(repoDir, { recursive: true, withFileTypes: true }) as fs.Dirent[]) {
    const rel = path.relative(repoDir, path.join(e.parentPath, e.name));
    if (e.isFile() && !rel.startsWith('locks') && !rel.startsWith('tmp'))
      out[rel] = fs.statSync(path.join(repoDir, rel)).size;
  }
  return out;
}

function packBytes(repoDir: string): number {
  return Object.entries(repoFiles(repoDir))
    .filter(([p]) => p.startsWith('data'))
    .reduce((n, [, s]) => n + s, 0);
}

async function withExclusive<T>(repo: Repository, fn: () => Promise<T>): Promise<T> {
  const lock = await RepoLock.acquire(repo, true);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

/** check --read-data on a fresh handle; fails on any error; returns the warnings. */
async function assertSound(repoDir: string): Promise<string[]> {
  const repo = await Repository.open(new LocalBackend(repoDir), PASSWORD);
  const res = await check(repo, { readData: true });
  assert.deepEqual(res.errors, [], 'check --read-data finds no error');
  assert.equal(res.ok, true);
  return res.warnings.map((w) => `${w.object}: ${w.message}`);
}

/** Restores each snapshot on a fresh handle and compares it with the source it was taken from. */
async function assertRestores(f: Fixture, snaps: Fixture['snaps']): Promise<void> {
  const repo = await Repository.open(new LocalBackend(f.repoDir), PASSWORD);
  for (const s of snaps) {
    const target = fs.mkdtempSync(path.join(f.dir, 'restore-'));
    const r = await restore(repo, s.tree, { target });
    assert.deepEqual(r.errors, []);
    assert.deepEqual(
      compareFiles(s.expected, path.join(target, f.src)),
      [],
      `snapshot ${s.id.slice(0, 8)} restores byte for byte`,
    );
    fs.rmSync(target, { recursive: true, force: true });
  }
}

describe('prune', () => {
  it('after forget, frees space; kept snapshots restore byte-identically and check --read-data passes', async (t) => {
    const f = await fixture(t);
    const before = packBytes(f.repoDir);
    const stats = await withExclusive(f.repo, async () => {
      assert.deepEqual(await forget(f.repo, [f.snaps[0]!.id]), [f.snaps[0]!.id]);
      return prune(f.repo, { maxUnusedFraction: 0 });
    });
    assert.deepEqual((await listSnapshots(f.repo)).map((s) => s.id).sort(), [f.snaps[1]!.id, f.snaps[2]!.id].sort());
    const after = packBytes(f.repoDir);
    assert.ok(after < before, `pack bytes ${before} → ${after}`);
    assert.equal(stats.bytes.before, before);
    assert.equal(stats.bytes.after, after, 'the stats say what is on disk');
    assert.equal(stats.bytes.removed, before - after);
    assert.equal(stats.bytes.unusedAfter, 0, 'with 0 % allowed, no unused blob is left');
    assert.ok(stats.blobs.removed > 0 && stats.packs.repacked + stats.packs.deleted > 0);
    assert.equal(stats.snapshots, 2);
    assert.equal(stats.indexFiles.after, 1);
    assert.equal(Object.keys(repoFiles(f.repoDir)).filter((p) => p.startsWith('index')).length, 1, 'one index file');
    assert.deepEqual(await assertSound(f.repoDir), [], 'no warnings either');
    await assertRestores(f, f.snaps.slice(1));
  });

  it('with nothing to do changes nothing', async (t) => {
    const f = await fixture(t);
    const files = repoFiles(f.repoDir);
    const stats = await withExclusive(f.repo, () => prune(f.repo, { maxUnusedFraction: 0 }));
    assert.deepEqual(repoFiles(f.repoDir), files);
    assert.equal(stats.blobs.unused, 0);
    assert.deepEqual([stats.packs.deleted, stats.packs.repacked, stats.packs.written], [0, 0, 0]);
    assert.equal(stats.packs.kept, stats.packs.before);
    assert.deepEqual([stats.bytes.removed, stats.indexFiles.after], [0, 3]);
  });

  it('a dry run changes nothing and predicts the real run', async (t) => {
    const f = await fixture(t);
    await withExclusive(f.repo, () => forget(f.repo, [f.snaps[0]!.id]));
    const files = repoFiles(f.repoDir);
    const dry = await withExclusive(f.repo, () => prune(f.repo, { dryRun: true, maxUnusedFraction: 0 }));
    assert.deepEqual(repoFiles(f.repoDir), files);
    const real = await withExclusive(f.repo, () => prune(f.repo, { maxUnusedFraction: 0 }));
    assert.deepEqual({ ...dry, dryRun: false }, real);
  });

  it('keeps partly used packs while the unused share stays under the limit', async (t) => {
    const f = await fixture(t);
    await withExclusive(f.repo, () => forget(f.repo, [f.snaps[0]!.id]));
    const lax = await withExclusive(f.repo, () => prune(f.repo, { dryRun: true, maxUnusedFraction: 1 }));
    assert.equal(lax.packs.repacked, 0);
    const strict = await withExclusive(f.repo, () => prune(f.repo, { dryRun: true, maxUnusedFraction: 0 }));
    assert.ok(strict.packs.repacked > 0, 'the fixture has partly used packs');
    assert.ok(lax.bytes.unusedAfter > 0 && lax.bytes.unusedAfter / lax.bytes.after > 0.05);
    const mid = await withExclusive(f.repo, () => prune(f.repo, { dryRun: true, maxUnusedFraction: 0.05 }));
    const used = mid.bytes.after - mid.bytes.unusedAfter;
    assert.ok(mid.bytes.unusedAfter <= (0.05 / 0.95) * used + 1, 'at most 5 % of what stays is unused');
  });

  it('needs the exclusive lock', async (t) => {
    const f = await fixture(t);
    await assert.rejects(prune(f.repo), (e) => isSafeholdError(e, 'INTERNAL') && /exclusive/.test(e.message));
    const shared = await RepoLock.acquire(f.repo, false);
    await assert.rejects(forget(f.repo, [f.snaps[0]!.id]), (e) => isSafeholdError(e, 'INTERNAL'));
    await shared.release();
  });
});

describe('prune refuses a damaged repository and removes nothing', () => {
  const damaged = async (t: TestContext, damage: (f: Fixture) => Promise<void> | void) => {
    const f = await fixture(t);
    await withExclusive(f.repo, () => forget(f.repo, [f.snaps[0]!.id]));
    await damage(f);
    const files = repoFiles(f.repoDir);
    await withExclusive(f.repo, () =>
      assert.rejects(prune(f.repo, { maxUnusedFraction: 0 }), (e) => {
        assert.ok(isSafeholdError(e, 'CORRUPT'), String(e));
        assert.match(e.message, /damaged, prune removed nothing/);
        return true;
      }),
    );
    assert.deepEqual(repoFiles(f.repoDir), files, 'nothing removed or added');
  };
  const entryOf = async (f: Fixture, type: 'tree' | 'data', id: string) => {
    const repo = await Repository.open(new LocalBackend(f.repoDir), PASSWORD);
    await repo.loadIndex();
    return repo.lookup(type, id);
  };

  it('a damaged tree', async (t) => {
    await damaged(t, async (f) => {
      const e = await entryOf(f, 'tree', f.snaps[2]!.tree);
      flipByte(path.join(f.repoDir, 'data', e.pack.slice(0, 2), e.pack), e.offset + 20);
    });
  });

  it('a missing pack that holds used data', async (t) => {
    await damaged(t, async (f) => {
      const repo = await Repository.open(new LocalBackend(f.repoDir), PASSWORD);
      await repo.loadIndex();
      const [, e] = [...repo.index.entries()].find(([, x]) => x.type === 'data')!;
      fs.rmSync(path.join(f.repoDir, 'data', e.pack.slice(0, 2), e.pack));
    });
  });

  it('an unreadable snapshot file', async (t) => {
    await damaged(t, (f) => flipByte(path.join(f.repoDir, 'snapshots', f.snaps[1]!.id), 30));
  });
});

describe('prune interrupted before each step', () => {
  const steps: PruneStep[] = ['repack', 'write-index', 'delete-index', 'delete-packs', 'delete-packs-half'];
  for (const stop of steps) {
    it(`stopped before ${stop}: check --read-data passes, the next prune finishes, snapshots restore`, async (t) => {
      const f = await fixture(t);
      await withExclusive(f.repo, () => forget(f.repo, [f.snaps[0]!.id]));
      const plan = await withExclusive(f.repo, () => prune(f.repo, { dryRun: true, maxUnusedFraction: 0 }));
      assert.ok(plan.packs.repacked > 0 && plan.packs.deleted + plan.packs.repacked >= 2, 'every step has work to do');
      const reached: PruneStep[] = [];
      await withExclusive(f.repo, () =>
        assert.rejects(
          prune(f.repo, {
            maxUnusedFraction: 0,
            beforeStep: (s) => {
              reached.push(s);
              if (s === stop) throw new Error(`stopped before ${s}`);
            },
          }),
          /stopped before/,
        ),
      );
      assert.equal(reached.at(-1), stop);
      for (const w of await assertSound(f.repoDir)) assert.match(w, /^pack [0-9a-f]{12}: not in any index/);
      await assertRestores(f, f.snaps.slice(1));
      const again = await withExclusive(f.repo, () => prune(f.repo, { maxUnusedFraction: 0 }));
      assert.equal(again.bytes.unusedAfter, 0);
      assert.deepEqual(await assertSound(f.repoDir), [], 'after the second prune: no leftovers');
      assert.ok(packBytes(f.repoDir) <= plan.bytes.after, 'as small as an uninterrupted prune makes it');
      await assertRestores(f, f.snaps.slice(1));
    });
  }
});

describe('prune and blobs stored twice', () => {
  it('keeps one copy of a blob two concurrent backups both stored, and indexes it once', async (t) => {
    const f = await fixture(t);
    // Two handles that loaded the index before either stored the new file: both store its blobs.
    const one = await Repository.open(new LocalBackend(f.repoDir), PASSWORD);
    const two = await Repository.open(new LocalBackend(f.repoDir), PASSWORD);
    await one.loadIndex();
    await two.loadIndex();
    const other = path.join(f.dir, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'twice.bin'), randomBytes('twice', 400_000));
    const b1 = await backup(one, { paths: [other] });
    await backup(two, { paths: [other] });
    const stats = await withExclusive(f.repo, () => prune(f.repo, { maxUnusedFraction: 0 }));
    assert.ok(stats.blobs.duplicates >= 6, `${stats.blobs.duplicates} duplicates found`);
    const repo = await Repository.open(new LocalBackend(f.repoDir), PASSWORD);
    const keys: string[] = [];
    for (const name of fs.readdirSync(path.join(f.repoDir, 'index'))) {
      for (const p of (await repo.loadFile<IndexFile>('index', name)).packs)
        for (const b of p.blobs) keys.push(`${b.type}:${b.id}`);
    }
    assert.equal(new Set(keys).size, keys.length, 'every blob is indexed once');
    assert.deepEqual(await assertSound(f.repoDir), []);
    await assertRestores(f, f.snaps);
    const target = path.join(f.dir, 'restored-twice');
    await restore(repo, b1.snapshot.tree, { target });
    assert.deepEqual(compareFiles(other, path.join(target, other)), []);
  });
});

describe('check and packs indexed twice', () => {
  it('tolerates a second copy of a pack, and reports either copy missing', async (t) => {
    const f = await fixture(t);
    await f.repo.loadIndex();
    const [pack, blobs] = [...f.repo.index.byPack()].sort(([a], [b]) => (a < b ? -1 : 1))[0]!;
    const bytes = await f.repo.backend.load({ type: 'data', name: pack });
    const builder = new PackBuilder();
    for (const e of blobs.sort((x, y) => x.offset - y.offset))
      builder.add(e.type, e.id, bytes.subarray(e.offset, e.offset + e.length), e.rawLength);
    const copy = builder.finish(f.repo.key.encrypt);
    const copyId = fileId(copy);
    await f.repo.backend.save({ type: 'data', name: copyId }, copy);
    await f.repo.saveFile('index', indexFileFor([{ id: copyId, entries: builder.entries }]));
    assert.deepEqual(await assertSound(f.repoDir), [], 'every blob twice: not an error, not a warning');
    for (const gone of [copyId, pack]) {
      const saved = await f.repo.backend.load({ type: 'data', name: gone });
      await f.repo.backend.remove({ type: 'data', name: gone });
      const res = await check(await Repository.open(new LocalBackend(f.repoDir), PASSWORD));
      // The missing copy is named; when the in-memory index happened to pick that copy (index files load in
      // parallel), the trees it holds are reported unreadable as well, which is what reading would meet.
      assert.equal(
        res.errors[0]?.object,
        `pack ${gone.slice(0, 12)}`,
        'whichever copy the index kept, the missing one is named',
      );
      for (const e of res.errors.slice(1)) assert.match(e.object, /^tree [0-9a-f]{12}$/);
      assert.match(res.errors[0]!.message, new RegExp(`^missing: the index names it for ${blobs.length} blobs`));
      await f.repo.backend.save({ type: 'data', name: gone }, saved);
    }
  });
});
