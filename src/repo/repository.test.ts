// Tests of Repository on MemoryBackend and LocalBackend: blobs round-trip
// through packs and index (fast-check, compressible and random data), the
// same data is stored once, a re-opened repository reads everything back,
// packs rotate at packSize, flush writes one index file naming every new
// pack, and the error codes of init/open.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { Repository } from './repository.ts';
import { compressBlob } from './compression.ts';
import type { IndexFile } from './index.ts';
import type { BlobType } from './pack.ts';
import { MemoryBackend } from './backend/memory-backend.ts';
import { LocalBackend } from './backend/local-backend.ts';
import type { Backend } from './backend/backend.ts';
import { isSafeholdError } from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';

const KDF = { N: 1024, r: 8, p: 1 };
const PACK_SIZE = 64 * 1024;
const PW = 'repository test password';

const code =
  (c: ErrorCode) =>
  (e: unknown): boolean =>
    isSafeholdError(e, c);

/** `len` pseudo-random (incompressible) bytes determined by `seed`. */
function randomData(seed: number, len: number): Buffer {
  const key = crypto.createHash('sha256').update(`seed:${seed}`).digest();
  const c = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(len)), c.final()]);
}

/** Blob contents: random, highly compressible (a short pattern repeated) or tiny. */
const dataArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.record({ seed: fc.nat(), len: fc.integer({ min: 0, max: 40_000 }) }).map(({ seed, len }) => randomData(seed, len)),
  fc
    .record({ pattern: fc.uint8Array({ minLength: 1, maxLength: 16 }), len: fc.integer({ min: 64, max: 100_000 }) })
    .map(({ pattern, len }) => Buffer.alloc(len, Buffer.from(pattern))),
  fc.uint8Array({ maxLength: 63 }).map((a) => Buffer.from(a)),
);

interface Env {
  make: () => Backend;
  cleanup: () => void;
  runs: number;
}

const roots: string[] = [];
after(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

const envs: [string, () => Env][] = [
  ['MemoryBackend', () => ({ make: () => new MemoryBackend(), cleanup: () => {}, runs: 40 })],
  [
    'LocalBackend',
    () => {
      const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-repo-test-'));
      roots.push(root);
      let n = 0;
      return {
        make: () => new LocalBackend(path.join(root, `repo${n++}`)),
        cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
        // Every save fsyncs: fewer runs keep this file fast.
        runs: 25,
      };
    },
  ],
];

async function names(b: Backend, type: 'data' | 'index' | 'snapshots'): Promise<string[]> {
  return (await b.list(type)).map((f) => f.name).sort();
}

async function waitFor(cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

for (const [label, mkEnv] of envs) {
  describe(`Repository on ${label}`, () => {
    const env = mkEnv();
    after(() => env.cleanup());
    const init = (b = env.make()) => Repository.init(b, PW, { packSize: PACK_SIZE, kdf: KDF });

    it('saveBlob → flush → loadBlob returns the same bytes, also after re-opening', async () => {
      // Types are free: the same bytes may come as a data and as a tree blob (each is stored).
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.constantFrom<BlobType>('data', 'tree'), dataArb), { minLength: 1, maxLength: 12 }),
          async (blobs) => {
            const b = env.make();
            const repo = await init(b);
            const ids: string[] = [];
            for (const [type, data] of blobs) {
              const r = await repo.saveBlob(type, data);
              assert.equal(r.id, repo.blobId(data));
              ids.push(r.id);
            }
            await repo.flush();
            for (const [i, [type, data]] of blobs.entries()) assert.deepEqual(await repo.loadBlob(type, ids[i]!), data);
            const again = await Repository.open(b, PW);
            await again.loadIndex();
            for (const [i, [type, data]] of blobs.entries())
              assert.deepEqual(await again.loadBlob(type, ids[i]!), data);
          },
        ),
        { numRuns: env.runs },
      );
    });

    it('stores the same data only once, in one run and across runs', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(dataArb, { minLength: 1, maxLength: 8 }), async (datas) => {
          const b = env.make();
          const repo = await init(b);
          const distinct = new Set<string>();
          for (const d of datas) {
            const r = await repo.saveBlob('data', d);
            assert.equal(r.added > 0, !distinct.has(r.id), 'added bytes only for new data');
            distinct.add(r.id);
            // Saving it again right away (still pending in an open pack) adds nothing.
            assert.equal((await repo.saveBlob('data', d)).added, 0);
          }
          assert.equal(repo.added.blobs, distinct.size);
          await repo.flush();
          assert.equal(repo.index.size, distinct.size);
          const packs = await names(b, 'data');
          const indexes = await names(b, 'index');
          // Same repository object: nothing added, flush writes no pack and no index.
          for (const d of datas) assert.equal((await repo.saveBlob('data', d)).added, 0);
          await repo.flush();
          assert.deepEqual(await names(b, 'data'), packs);
          assert.deepEqual(await names(b, 'index'), indexes);
          // A re-opened repository knows the blobs from the index files.
          const again = await Repository.open(b, PW);
          await again.loadIndex();
          assert.equal(again.index.size, distinct.size);
          for (const d of datas) assert.deepEqual(await again.saveBlob('data', d), { id: repo.blobId(d), added: 0 });
          await again.flush();
          assert.equal(again.added.blobs, 0);
          assert.equal(again.index.size, distinct.size);
          assert.deepEqual(await names(b, 'data'), packs);
          assert.deepEqual(await names(b, 'index'), indexes);
        }),
        { numRuns: env.runs },
      );
    });

    it('stores the same bytes as a data blob and as a tree blob, each loading with its type', async () => {
      const b = env.make();
      const repo = await init(b);
      // An empty directory's tree; a backed-up file may hold exactly these bytes.
      const bytes = Buffer.from('{"nodes":[]}');
      const d = await repo.saveBlob('data', bytes);
      const t = await repo.saveBlob('tree', bytes);
      assert.equal(t.id, d.id, 'ids do not depend on the type');
      assert.ok(t.added > 0, 'the tree is stored although a data blob has its id');
      assert.equal((await repo.saveBlob('tree', bytes)).added, 0);
      await repo.flush();
      assert.deepEqual(await repo.loadBlob('data', d.id), bytes);
      assert.deepEqual(await repo.loadBlob('tree', t.id), bytes);
      const again = await Repository.open(b, PW);
      await again.loadIndex();
      assert.equal(again.index.size, 2);
      assert.deepEqual(await again.loadBlob('data', d.id), bytes);
      assert.deepEqual(await again.loadBlob('tree', t.id), bytes);
    });

    it('compresses compressible blobs and stores random ones as they are', async () => {
      const b = env.make();
      const repo = await init(b);
      const text = Buffer.from('all work and no play makes jack a dull boy\n'.repeat(2000));
      const rnd = randomData(7, 50_000);
      const t = await repo.saveBlob('data', text);
      const r = await repo.saveBlob('data', rnd);
      assert.ok(t.added < text.length / 10, `compressible blob stored in ${t.added} bytes`);
      assert.equal(r.added, rnd.length + 28, 'random blob stored uncompressed (+ nonce and tag)');
      assert.equal(compressBlob(rnd).rawLength, 0);
      await repo.flush();
      assert.equal(repo.index.get('data', t.id)!.rawLength, text.length);
      assert.equal(repo.index.get('data', r.id)!.rawLength, 0);
      assert.deepEqual(await repo.loadBlob('data', t.id), text);
      assert.deepEqual(await repo.loadBlob('data', r.id), rnd);
    });

    it('re-open with the password reads config, index and blobs back', async () => {
      const b = env.make();
      const repo = await init(b);
      const blobs = Array.from({ length: 10 }, (_, i) => randomData(100 + i, 20_000));
      const ids = [];
      for (const d of blobs) ids.push((await repo.saveBlob('data', d)).id);
      const tree = Buffer.from(JSON.stringify({ nodes: [] }));
      const treeId = (await repo.saveBlob('tree', tree)).id;
      await repo.flush();
      const snap = await repo.saveFile('snapshots', { hello: 'world' });

      const again = await Repository.open(b, PW);
      assert.deepEqual(again.config, repo.config);
      assert.equal(again.config.packSize, PACK_SIZE);
      assert.deepEqual(again.key, repo.key);
      await again.loadIndex();
      assert.equal(again.index.size, 11);
      for (const [i, id] of ids.entries()) assert.deepEqual(await again.loadBlob('data', id), blobs[i]);
      assert.deepEqual(await again.loadBlob('tree', treeId), tree);
      assert.deepEqual(await again.loadFile('snapshots', snap), { hello: 'world' });
      // Types are checked: a tree is not a data blob.
      await assert.rejects(again.loadBlob('data', treeId), code('CORRUPT'));
      await assert.rejects(again.loadBlob('data', 'ff'.repeat(32)), code('CORRUPT'));
    });

    it('rejects the wrong password with WRONG_PASSWORD', async () => {
      const b = env.make();
      await init(b);
      await assert.rejects(Repository.open(b, 'not the password'), code('WRONG_PASSWORD'));
      await assert.rejects(Repository.open(b, ''), code('WRONG_PASSWORD'));
      await assert.doesNotReject(Repository.open(b, PW));
    });

    it('init on an existing repository fails with REPO_EXISTS and leaves it intact', async () => {
      const b = env.make();
      const repo = await init(b);
      await assert.rejects(init(b), code('REPO_EXISTS'));
      await assert.rejects(Repository.init(b, 'other password', { kdf: KDF }), code('REPO_EXISTS'));
      assert.equal((await b.list('keys')).length, 1);
      assert.equal((await Repository.open(b, PW)).config.id, repo.config.id);
    });

    it('open on a missing repository fails with REPO_NOT_FOUND', async () => {
      await assert.rejects(Repository.open(env.make(), PW), code('REPO_NOT_FOUND'));
    });

    it('writes a pack once packSize is exceeded, before flush', async () => {
      const b = env.make();
      const repo = await init(b);
      const blobSize = 20_000;
      let stored = 0;
      let n = 0;
      while (stored + blobSize + 28 < PACK_SIZE) {
        stored += (await repo.saveBlob('data', randomData(1000 + n++, blobSize))).added;
      }
      await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(await names(b, 'data'), [], 'no pack while under packSize');
      stored += (await repo.saveBlob('data', randomData(1000 + n++, blobSize))).added;
      assert.ok(stored >= PACK_SIZE);
      await waitFor(async () => (await b.list('data')).length === 1, 'the first pack');
      const [pack] = await b.list('data');
      assert.equal(pack!.size > PACK_SIZE, true, `pack of ${pack!.size} bytes`);
      assert.deepEqual(await names(b, 'index'), [], 'the index is written only by flush');
      // Many more blobs: roughly one pack per packSize.
      for (let i = 0; i < 12; i++) await repo.saveBlob('data', randomData(2000 + i, blobSize));
      await repo.flush();
      const packs = await b.list('data');
      const total = packs.reduce((s, p) => s + p.size, 0);
      // A pack is closed by the blob that takes it to packSize or beyond.
      const perPack = Math.ceil(PACK_SIZE / (blobSize + 28));
      assert.equal(packs.length, Math.ceil((n + 12) / perPack), `${packs.length} packs, ${total} bytes`);
      for (const p of packs)
        assert.ok(p.size < PACK_SIZE + blobSize + 1000, `pack ${p.size} bytes is not much larger than packSize`);
    });

    it('keeps data and tree blobs in separate packs', async () => {
      const b = env.make();
      const repo = await init(b);
      const d = await repo.saveBlob('data', randomData(1, 1000));
      const t = await repo.saveBlob('tree', Buffer.from('{"nodes":[]}'));
      await repo.flush();
      assert.equal((await b.list('data')).length, 2);
      assert.notEqual(repo.index.get('data', d.id)!.pack, repo.index.get('tree', t.id)!.pack);
    });

    it('flush writes one index file naming every new pack and blob', async () => {
      const b = env.make();
      const repo = await init(b);
      const round = async (seed: number) => {
        const packsBefore = new Set(await names(b, 'data'));
        const indexBefore = new Set(await names(b, 'index'));
        const ids = new Map<string, BlobType>();
        for (let i = 0; i < 8; i++) ids.set((await repo.saveBlob('data', randomData(seed + i, 30_000))).id, 'data');
        ids.set((await repo.saveBlob('tree', Buffer.from(`{"nodes":[],"r":${seed}}`))).id, 'tree');
        await repo.flush();
        const newPacks = (await names(b, 'data')).filter((p) => !packsBefore.has(p));
        const newIndex = (await names(b, 'index')).filter((p) => !indexBefore.has(p));
        assert.equal(newIndex.length, 1, 'one index file per flush');
        const file = await repo.loadFile<IndexFile>('index', newIndex[0]!);
        assert.equal(file.version, 1);
        assert.deepEqual(file.packs.map((p) => p.id).sort(), newPacks.sort());
        const listed = new Map(file.packs.flatMap((p) => p.blobs.map((x) => [x.id, { ...x, pack: p.id }] as const)));
        assert.deepEqual([...listed.keys()].sort(), [...ids.keys()].sort());
        for (const [id, type] of ids) {
          const e = listed.get(id)!;
          assert.equal(e.type, type);
          const sizes = new Map((await b.list('data')).map((f) => [f.name, f.size]));
          assert.ok(e.offset + e.length <= sizes.get(e.pack)!, 'blob range inside its pack');
          assert.deepEqual(
            { pack: e.pack, offset: e.offset, length: e.length },
            (({ pack, offset, length }) => ({ pack, offset, length }))(repo.index.get(type, id)!),
          );
        }
        return newPacks;
      };
      const first = await round(10);
      assert.ok(first.length >= 3, `${first.length} packs (data rotated at packSize, plus a tree pack)`);
      const second = await round(20);
      assert.equal(second.filter((p) => first.includes(p)).length, 0);
      assert.equal((await b.list('index')).length, 2);
      const again = await Repository.open(b, PW);
      await again.loadIndex();
      assert.equal(again.index.size, 18);
      assert.deepEqual([...again.index.packs()].sort(), [...first, ...second].sort());
    });

    it('names small files by the SHA-256 of their bytes and detects changes', async () => {
      const b = env.make();
      const repo = await init(b);
      const name = await repo.saveFile('snapshots', { n: 1 });
      const bytes = await b.load({ type: 'snapshots', name });
      assert.equal(crypto.createHash('sha256').update(bytes).digest('hex'), name);
      bytes[bytes.length >> 1]! ^= 1;
      await b.save({ type: 'snapshots', name }, bytes);
      await assert.rejects(repo.loadFile('snapshots', name), code('CORRUPT'));
      // A file saved under one type does not open as another.
      const other = await repo.saveFile('index', { version: 1, packs: [] });
      const raw = await b.load({ type: 'index', name: other });
      await b.save({ type: 'snapshots', name: other }, raw);
      await assert.rejects(repo.loadFile('snapshots', other), code('CORRUPT'));
    });
  });
}

describe('Repository when a pack cannot be stored', () => {
  /** A backend whose first data-pack save fails (a passing full disk); every later save works. */
  class FirstPackFails extends MemoryBackend {
    failed = false;
    override async save(h: Parameters<MemoryBackend['save']>[0], data: Uint8Array): Promise<void> {
      if (h.type === 'data' && !this.failed) {
        this.failed = true;
        throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      }
      return super.save(h, data);
    }
  }

  it('flush fails with an earlier upload error even when later packs were stored', async () => {
    const backend = new FirstPackFails();
    const repo = await Repository.init(backend, PW, { kdf: KDF, packSize: PACK_SIZE });
    // Several packs: the first upload fails in the background, later ones succeed.
    for (let i = 0; i < 6; i++) await repo.saveBlob('data', randomData(100 + i, 30_000));
    assert.ok(backend.failed);
    await assert.rejects(repo.flush(), /disk full/);
    assert.deepEqual(await backend.list('index'), [], 'no index file is written after a lost pack');
  });
});

describe('Repository.init after an interrupted init', () => {
  it('replaces the key file an interrupted init left, so one key opens the repository', async () => {
    const backend = new MemoryBackend();
    await Repository.init(backend, PW, { kdf: KDF });
    // As if killed after the key file and before the config was written.
    await backend.remove({ type: 'config', name: 'config' });
    const repo = await Repository.init(backend, PW, { kdf: KDF });
    assert.equal((await backend.list('keys')).length, 1, 'the leftover key is gone');
    const { id } = await repo.saveBlob('data', Buffer.from('after a retried init'));
    await repo.flush();
    const again = await Repository.open(backend, PW);
    await again.loadIndex();
    assert.deepEqual(await again.loadBlob('data', id), Buffer.from('after a retried init'));
  });

  it('refuses to init over data whose config is missing (a damaged repository)', async () => {
    const backend = new MemoryBackend();
    const repo = await Repository.init(backend, PW, { kdf: KDF });
    await repo.saveBlob('data', randomData(9, 1000));
    await repo.flush();
    await backend.remove({ type: 'config', name: 'config' });
    await assert.rejects(Repository.init(backend, PW, { kdf: KDF }), code('REPO_EXISTS'));
    assert.equal((await backend.list('keys')).length, 1, 'the key file is kept');
  });

  it('archived WAL files alone count as repository data', async () => {
    const backend = new MemoryBackend();
    await Repository.init(backend, PW, { kdf: KDF });
    await backend.save({ type: 'wal', name: '7312345678901234567-000000010000000000000001' }, randomData(10, 100));
    await backend.remove({ type: 'config', name: 'config' });
    await assert.rejects(Repository.init(backend, PW, { kdf: KDF }), code('REPO_EXISTS'));
    assert.equal((await backend.list('keys')).length, 1, 'the key file is kept');
    assert.equal((await backend.list('wal')).length, 1, 'the WAL file is kept');
  });
});
