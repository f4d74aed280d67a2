// Copying snapshots between repositories: re-identified blobs restore to the
// same bytes (hard link, symlink, empty and multi-chunk files included), a
// second copy is skipped, a new snapshot costs only its new data, a damaged
// destination fails verification without leaving the snapshot behind, the
// same-key paths (pass-through and re-seal), and a repository initialised
// with the source's chunker parameters deduplicates against the copy.

import { before, after, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Repository } from '../../repo/repository.ts';
import type { InitOptions } from '../../repo/repository.ts';
import { LocalBackend } from '../../repo/backend/local-backend.ts';
import { listSnapshots } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { writeKeyFile } from '../../repo/keys.ts';
import { encodeObject } from '../../repo/encoding.ts';
import { newMasterKey } from '../../repo/crypto.ts';
import { backup } from '../backup/archiver.ts';
import { restore } from '../restore/restorer.ts';
import { check } from '../check/checker.ts';
import { listTree } from '../walk/tree-walk.ts';
import { copySnapshots } from './copy.ts';
import type { CopyProgress } from './copy-progress.ts';
import { compareTrees } from '../../../test/helpers/cli.ts';
import { isSafeholdError } from '../../core/errors.ts';

const KDF = { N: 1024, r: 8, p: 1 };
const CHUNKER = { minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 256 * 1024 };
const SMALL: InitOptions = { kdf: KDF, chunker: CHUNKER, packSize: 512 * 1024 };
const BIG = 1024 * 1024;

function makeFiles(src: string): void {
  fs.mkdirSync(path.join(src, 'sub', 'deeper'), { recursive: true });
  fs.writeFileSync(path.join(src, 'big.bin'), crypto.randomBytes(BIG));
  fs.writeFileSync(path.join(src, 'small.txt'), 'version one\n');
  fs.writeFileSync(path.join(src, 'empty.txt'), '');
  fs.symlinkSync('small.txt', path.join(src, 'link'));
  fs.writeFileSync(path.join(src, 'hard1'), crypto.randomBytes(5000));
  fs.linkSync(path.join(src, 'hard1'), path.join(src, 'hard2'));
  fs.writeFileSync(path.join(src, 'sub', 'deeper', 'deep.txt'), 'deep\n'.repeat(1000));
}

const repoAt = (dir: string, opts: InitOptions = SMALL) => Repository.init(new LocalBackend(dir), 'pw', opts);
const names = (dir: string) => fs.readdirSync(dir, { recursive: true }).map(String).sort();

/** A temp dir (removed after the test) with the sample files in src/ and a repository a/. */
async function fixture(t: TestContext): Promise<{ dir: string; src: string; a: Repository }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-copy-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const src = path.join(dir, 'src');
  makeFiles(src);
  return { dir, src, a: await repoAt(path.join(dir, 'a')) };
}

async function restoreTo(repo: Repository, tree: string, target: string, src: string): Promise<string> {
  await restore(repo, tree, { target });
  return path.join(target, src);
}

describe('copy between repositories with different keys', () => {
  let dir: string;
  let src: string;
  let a: Repository;
  let b: Repository;
  let v1: SnapshotWithId;
  let v2: SnapshotWithId;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-copy-'));
    src = path.join(dir, 'src');
    makeFiles(src);
    a = await repoAt(path.join(dir, 'a'));
    b = await repoAt(path.join(dir, 'b'));
    await backup(a, { paths: [src], tags: ['daily'] });
    fs.writeFileSync(path.join(src, 'small.txt'), 'version two, longer\n');
    await backup(a, { paths: [src], parent: (await listSnapshots(a))[0]! });
    [v1, v2] = await listSnapshots(a);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('re-identifies every blob; each copy restores to the same bytes as its source and is recorded as a copy', async () => {
    const seen: CopyProgress[] = [];
    const r = await copySnapshots(a, b, {
      snapshots: [v1!, v2!],
      onProgress: (p) => {
        if (seen.at(-1)?.phase !== p.phase) seen.push({ ...p });
      },
    });
    assert.equal(r.mode, 'reidentify');
    assert.deepEqual(
      r.snapshots.map((s) => [s.source, s.verified, s.skipped]),
      [
        [v1!.id, true, undefined],
        [v2!.id, true, undefined],
      ],
    );
    assert.ok(
      seen.some((p) => p.phase === 'verify'),
      'progress reports the verification',
    );
    assert.ok(r.snapshots[0]!.blobsRead >= BIG / CHUNKER.maxSize, 'the first copy reads the data');
    assert.ok(r.snapshots[0]!.bytesCopied > BIG, 'and stores it');

    const copies = await listSnapshots(b);
    assert.equal(copies.length, 2);
    for (const [i, c] of copies.entries()) {
      const s = [v1!, v2!][i]!;
      assert.equal(c.id, r.snapshots[i]!.copied);
      assert.equal(c.original, s.id);
      assert.equal(c.originalRepo, a.config.id);
      assert.equal(c.parent, undefined, 'a parent would name a snapshot of the source');
      assert.deepEqual([c.time, c.paths, c.tags, c.hostname, c.kind], [s.time, s.paths, s.tags, s.hostname, s.kind]);
      assert.notEqual(c.tree, s.tree, 'tree ids are keyed per repository');
      assert.equal(c.tree, r.snapshots[i]!.tree);
    }
    // The newest copy against the live files; the older one against a restore from the source.
    const fromB2 = await restoreTo(b, copies[1]!.tree, path.join(dir, 'rb2'), src);
    assert.deepEqual(compareTrees(src, fromB2), []);
    assert.equal(
      fs.statSync(path.join(fromB2, 'hard1')).ino,
      fs.statSync(path.join(fromB2, 'hard2')).ino,
      'hard link kept',
    );
    assert.equal(fs.readlinkSync(path.join(fromB2, 'link')), 'small.txt');
    const fromA1 = await restoreTo(a, v1!.tree, path.join(dir, 'ra1'), src);
    const fromB1 = await restoreTo(b, copies[0]!.tree, path.join(dir, 'rb1'), src);
    assert.deepEqual(compareTrees(fromA1, fromB1), []);
    assert.equal(fs.readFileSync(path.join(fromB1, 'small.txt'), 'utf8'), 'version one\n');
    const bigBlobs = (await listTree(b, copies[1]!.tree)).find((e) => e.path.endsWith('/big.bin'))!.node.content!;
    assert.ok(bigBlobs.length >= 4, `the large file has several chunks (${bigBlobs.length})`);
    const ok = await check(b, { readData: true });
    assert.deepEqual(ok.errors, []);
  });

  it('skips snapshots already copied and writes nothing', async () => {
    const before = {
      data: names(path.join(dir, 'b', 'data')),
      index: names(path.join(dir, 'b', 'index')),
      snaps: names(path.join(dir, 'b', 'snapshots')),
    };
    const r = await copySnapshots(a, b, { snapshots: await listSnapshots(a) });
    assert.deepEqual(
      r.snapshots.map((s) => [s.copied, s.skipped, s.blobsCopied]),
      [
        [null, 'already copied', 0],
        [null, 'already copied', 0],
      ],
    );
    assert.deepEqual(
      {
        data: names(path.join(dir, 'b', 'data')),
        index: names(path.join(dir, 'b', 'index')),
        snaps: names(path.join(dir, 'b', 'snapshots')),
      },
      before,
    );
  });

  it('copies a new snapshot reading and storing only its new data', async () => {
    const fresh = crypto.randomBytes(10_000);
    fs.writeFileSync(path.join(src, 'new.bin'), fresh);
    const v3 = await backup(a, { paths: [src], parent: v2! });
    const r = await copySnapshots(a, b, { snapshots: await listSnapshots(a) });
    assert.deepEqual(
      r.snapshots.map((s) => s.skipped ?? 'copied'),
      ['already copied', 'already copied', 'copied'],
    );
    const c = r.snapshots[2]!;
    assert.equal(c.source, v3.id);
    assert.equal(c.blobsRead, 1, 'only the new file is read from the source');
    assert.ok(
      c.bytesCopied >= fresh.length && c.bytesCopied < fresh.length + 8192,
      `bytes copied ${c.bytesCopied}: the new file and a few trees`,
    );
    const restored = await restoreTo(b, c.tree!, path.join(dir, 'rb3'), src);
    assert.deepEqual(compareTrees(src, restored), []);
  });

  it('fails verification on a damaged destination blob, and does not leave the snapshot there', async () => {
    const copies = await listSnapshots(b);
    const big = (await listTree(b, copies.at(-1)!.tree)).find((e) => e.path.endsWith('/big.bin'))!.node.content![0]!;
    const e = b.index.get('data', big)!;
    const pack = path.join(dir, 'b', 'data', e.pack.slice(0, 2), e.pack);
    const bytes = fs.readFileSync(pack);
    bytes[e.offset + 40]! ^= 0x01;
    fs.writeFileSync(pack, bytes);
    fs.writeFileSync(path.join(src, 'another.txt'), 'one more\n');
    const v4 = await backup(a, { paths: [src], parent: (await listSnapshots(a)).at(-1)! });
    await assert.rejects(copySnapshots(a, b, { snapshots: [{ ...v4.snapshot, id: v4.id }] }), (err: unknown) => {
      assert.ok(isSafeholdError(err, 'CORRUPT'), String(err));
      assert.match(err.message, new RegExp(`copy of snapshot ${v4.id.slice(0, 8)} failed verification`));
      assert.match(err.message, /authentication failed/);
      return true;
    });
    const after = await listSnapshots(b);
    assert.deepEqual(
      after.map((s) => s.id),
      copies.map((s) => s.id),
      'the failed copy was removed',
    );
    const noVerify = await copySnapshots(a, b, { snapshots: [{ ...v4.snapshot, id: v4.id }], verify: false });
    assert.equal(noVerify.snapshots[0]!.verified, false, 'without verification the damage is not seen');
  });
});

describe('copy between repositories sharing keys', () => {
  it('passes sealed blobs through to a clone (same ids), and skips what the clone already holds', async (t) => {
    const { dir, src, a } = await fixture(t);
    fs.cpSync(path.join(dir, 'a'), path.join(dir, 'c'), { recursive: true });
    const first = await backup(a, { paths: [src] });
    fs.cpSync(path.join(dir, 'a'), path.join(dir, 'd'), { recursive: true });
    const c = await Repository.open(new LocalBackend(path.join(dir, 'c')), 'pw');
    const d = await Repository.open(new LocalBackend(path.join(dir, 'd')), 'pw');

    const r = await copySnapshots(a, c, { snapshots: await listSnapshots(a) });
    assert.equal(r.mode, 'passthrough');
    const copy = (await listSnapshots(c))[0]!;
    assert.equal(copy.tree, first.snapshot.tree, 'same MAC key: same ids');
    assert.ok(r.snapshots[0]!.verified);
    assert.deepEqual(compareTrees(src, await restoreTo(c, copy.tree, path.join(dir, 'rc'), src)), []);
    assert.deepEqual((await check(c, { readData: true })).errors, []);

    const again = await copySnapshots(a, d, { snapshots: await listSnapshots(a) });
    assert.deepEqual(
      again.snapshots.map((s) => s.skipped),
      ['already copied'],
      'd holds the very snapshot file',
    );
  });

  it('re-seals blobs when only the MAC key is shared', async (t) => {
    const { dir, src, a } = await fixture(t);
    const first = await backup(a, { paths: [src] });
    // A repository with a's MAC key and chunker seed but its own encryption key.
    const backend = new LocalBackend(path.join(dir, 'e'));
    await backend.create();
    const master = { ...newMasterKey(), mac: a.key.mac, chunkerSeed: a.key.chunkerSeed };
    await writeKeyFile(backend, master, 'pw', KDF);
    await backend.save(
      { type: 'config', name: 'config' },
      encodeObject(master.encrypt, 'config', { ...a.config, id: crypto.randomBytes(16).toString('hex') }),
    );
    const e = await Repository.open(backend, 'pw');

    const r = await copySnapshots(a, e, { snapshots: await listSnapshots(a) });
    assert.equal(r.mode, 'reseal');
    const copy = (await listSnapshots(e))[0]!;
    assert.equal(copy.tree, first.snapshot.tree);
    assert.deepEqual(compareTrees(src, await restoreTo(e, copy.tree, path.join(dir, 're'), src)), []);
    assert.deepEqual((await check(e, { readData: true })).errors, []);
  });
});

describe('a repository initialised with the chunker parameters of another', () => {
  it('cuts files like the source, so a copy deduplicates against its own backups; new keys otherwise', async (t) => {
    const { dir, src, a } = await fixture(t);
    const same = await repoAt(path.join(dir, 'same'), {
      ...SMALL,
      chunker: a.config.chunker,
      chunkerSeed: a.key.chunkerSeed,
    });
    const other = await repoAt(path.join(dir, 'other'));
    assert.deepEqual(same.key.chunkerSeed, a.key.chunkerSeed);
    assert.notDeepEqual(same.key.encrypt, a.key.encrypt);
    assert.notEqual(same.blobId(Buffer.from('x')), a.blobId(Buffer.from('x')), 'the MAC key is not shared');
    for (const repo of [a, same, other]) await backup(repo, { paths: [src] });
    const snaps = await listSnapshots(a);

    const intoSame = (await copySnapshots(a, same, { snapshots: snaps })).snapshots[0]!;
    const intoOther = (await copySnapshots(a, other, { snapshots: snaps })).snapshots[0]!;
    assert.ok(
      intoSame.bytesCopied < 8192,
      `same chunker: the data is already there (${intoSame.bytesCopied} bytes copied)`,
    );
    assert.ok(
      intoOther.bytesCopied > BIG * 0.9,
      `other chunker: the large file is cut differently (${intoOther.bytesCopied} bytes copied)`,
    );
  });
});
