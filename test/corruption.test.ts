// Damage detection, against the real CLI: a repository with three snapshots
// and many small packs is copied, one kind of damage is applied to the copy
// (a byte flipped in a data blob, a pack header, an index file, a snapshot
// file or a tree blob; a truncated, deleted pack; a deleted index file; an
// index entry of the wrong type), and
// `check --read-data --json` must exit 1 naming the affected object. Plain
// `check` must catch the damage it can see without reading packs whole.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import type { IndexEntry, IndexFile } from '../src/repo/index.ts';
import type { Snapshot } from '../src/repo/snapshot.ts';
import { cliEnv, describeExit, jsonOf, runCli } from './helpers/spawn.ts';
import { flipByte, makeDataset, randomBytes } from './helpers/data.ts';

const PASSWORD = 'corruption test password';
const PACK_SIZE = 256 * 1024;

interface Problem {
  object: string;
  message: string;
}
interface CheckJson {
  ok: boolean;
  errors: Problem[];
  warnings: Problem[];
  stats: Record<string, number>;
}

type Blob = IndexEntry & { id: string };

/** What the tests need to know about the intact repository. */
interface Layout {
  dataPacks: { id: string; blobs: Blob[] }[];
  rootTree: Blob;
  snapshots: string[];
  indexFiles: { name: string; packs: string[]; blobs: string[] }[];
}

const short = (id: string) => id.slice(0, 12);

describe('check detects damage to the repository', { concurrency: 2 }, () => {
  let dir: string;
  let base: string;
  let layout: Layout;
  let n = 0;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-corrupt-'));
    base = path.join(dir, 'base-repo');
    const data = path.join(dir, 'dataset');
    makeDataset(data, {
      seed: 7,
      small: 60,
      smallMax: 20 * 1024,
      medium: 6,
      mediumMin: 100 * 1024,
      mediumMax: 400 * 1024,
      large: [],
      textShare: 0.3,
    });
    const repo = await Repository.init(new LocalBackend(base), PASSWORD, {
      packSize: PACK_SIZE,
      kdf: { N: 1024, r: 8, p: 1 },
    });
    await repo.close();
    const env = cliEnv(base, PASSWORD, path.join(dir, 'catalog'));
    for (let i = 0; i < 3; i++) {
      if (i > 0) {
        fs.writeFileSync(path.join(data, 'medium', `m-${i}.bin`), randomBytes(`change ${i}`, 200 * 1024));
        fs.writeFileSync(path.join(data, `new-${i}.txt`), `added before backup ${i}\n`);
      }
      const r = await runCli(['backup', data, '--json'], env);
      assert.equal(r.code, 0, describeExit(r));
    }

    // The layout, read with the library.
    const opened = await Repository.open(new LocalBackend(base), PASSWORD);
    await opened.loadIndex();
    const byPack = opened.index.byPack();
    const dataPacks = [...byPack]
      .filter(([, blobs]) => blobs.every((b) => b.type === 'data'))
      .map(([id, blobs]) => ({ id, blobs }))
      .sort((a, b) => b.blobs.length - a.blobs.length);
    const snapshots = fs.readdirSync(path.join(base, 'snapshots')).sort();
    const snaps = await Promise.all(snapshots.map((s) => opened.loadFile<Snapshot>('snapshots', s)));
    const latest = snaps.sort((a, b) => a.time.localeCompare(b.time)).at(-1)!;
    const rootTree = { id: latest.tree, ...opened.index.get('tree', latest.tree)! };
    const indexFiles = await Promise.all(
      fs.readdirSync(path.join(base, 'index')).map(async (name) => {
        const f = await opened.loadFile<IndexFile>('index', name);
        return { name, packs: f.packs.map((p) => p.id), blobs: f.packs.flatMap((p) => p.blobs.map((b) => b.id)) };
      }),
    );
    layout = { dataPacks, rootTree, snapshots, indexFiles };
    assert.equal(snapshots.length, 3);
    assert.equal(indexFiles.length, 3, 'one index file per backup');
    assert.ok(dataPacks.length >= 4, `several data packs (got ${dataPacks.length})`);
    assert.equal(rootTree.type, 'tree');
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A fresh copy of the intact repository, with its own catalog. */
  function copy(): { repo: string; env: NodeJS.ProcessEnv } {
    const repo = path.join(dir, `copy-${n++}`);
    fs.cpSync(base, repo, { recursive: true });
    return { repo, env: cliEnv(repo, PASSWORD, path.join(dir, `catalog-${n}`)) };
  }

  const packPath = (repo: string, id: string) => path.join(repo, 'data', id.slice(0, 2), id);

  async function check(env: NodeJS.ProcessEnv, readData: boolean): Promise<CheckJson> {
    const r = await runCli(['check', ...(readData ? ['--read-data'] : []), '--json'], env);
    const res = jsonOf<CheckJson>(r);
    assert.equal(r.code, res.ok ? 0 : 1, describeExit(r));
    return res;
  }

  /** Asserts the check failed and that some error's object matches `object` (and its message `message`). */
  function assertNames(res: CheckJson, object: string | RegExp, message?: RegExp): Problem {
    assert.equal(res.ok, false, 'check reports the damage');
    const hit = res.errors.find(
      (e) =>
        (typeof object === 'string' ? e.object === object : object.test(e.object)) &&
        (!message || message.test(e.message)),
    );
    assert.ok(
      hit,
      `no error names ${object}${message ? ` with ${message}` : ''}; errors:\n${JSON.stringify(res.errors, null, 2)}`,
    );
    return hit;
  }

  it('passes on the intact repository, with and without --read-data', async () => {
    const { env } = copy();
    for (const readData of [false, true]) {
      const res = await check(env, readData);
      assert.equal(res.ok, true, JSON.stringify(res.errors));
      assert.deepEqual(res.errors, []);
      assert.deepEqual(res.warnings, []);
      assert.equal(res.stats.snapshots, 3);
      if (readData) assert.equal(res.stats.packsRead, res.stats.packs);
    }
  });

  it('a byte flipped in the middle of a data blob', async () => {
    const { repo, env } = copy();
    const pack = layout.dataPacks[0]!;
    const blob = pack.blobs.find((b) => b.length > 1000)!;
    flipByte(packPath(repo, pack.id), blob.offset + Math.floor(blob.length / 2));
    const res = await check(env, true);
    assertNames(res, `pack ${short(pack.id)}`, /does not match its name/);
    assertNames(res, `pack ${short(pack.id)} blob ${short(blob.id)}`, /authentication failed/);
    // Only that blob is reported among the pack's blobs.
    assert.deepEqual(
      res.errors.filter((e) => e.object.includes(' blob ')).map((e) => e.object),
      [`pack ${short(pack.id)} blob ${short(blob.id)}`],
    );
  });

  it('a byte flipped in a pack header', async () => {
    const { repo, env } = copy();
    const pack = layout.dataPacks[1]!;
    const file = packPath(repo, pack.id);
    flipByte(file, fs.statSync(file).size - 10);
    const res = await check(env, true);
    assertNames(res, `pack ${short(pack.id)}`, /header/);
  });

  it('a byte flipped in an index file', async () => {
    const { repo, env } = copy();
    const idx = layout.indexFiles[0]!;
    const file = path.join(repo, 'index', idx.name);
    flipByte(file, Math.floor(fs.statSync(file).size / 2));
    for (const readData of [false, true]) {
      const res = await check(env, readData);
      assertNames(res, `index ${short(idx.name)}`, /does not match its name/);
    }
  });

  it('a byte flipped in a snapshot file', async () => {
    const { repo, env } = copy();
    const snap = layout.snapshots[1]!;
    const file = path.join(repo, 'snapshots', snap);
    flipByte(file, Math.floor(fs.statSync(file).size / 2));
    for (const readData of [false, true]) {
      const res = await check(env, readData);
      assertNames(res, `snapshot ${short(snap)}`);
      assert.equal(res.stats.snapshots, 2, 'the other snapshots are still checked');
    }
  });

  it('a byte flipped in a tree blob', async () => {
    const { repo, env } = copy();
    const tree = layout.rootTree;
    flipByte(packPath(repo, tree.pack), tree.offset + Math.floor(tree.length / 2));
    for (const readData of [false, true]) {
      const res = await check(env, readData);
      assertNames(res, `tree ${short(tree.id)}`);
      if (readData) assertNames(res, `pack ${short(tree.pack)} blob ${short(tree.id)}`);
    }
  });

  it('a truncated pack', async () => {
    const { repo, env } = copy();
    const pack = layout.dataPacks[0]!;
    const file = packPath(repo, pack.id);
    fs.truncateSync(file, Math.floor(fs.statSync(file).size / 2));
    for (const readData of [false, true]) {
      const res = await check(env, readData);
      assertNames(res, `pack ${short(pack.id)}`, readData ? /./ : /truncated/);
    }
  });

  it('a pack missing its last bytes (header cut short)', async () => {
    const { repo, env } = copy();
    const pack = layout.dataPacks[2]!;
    const file = packPath(repo, pack.id);
    fs.truncateSync(file, fs.statSync(file).size - 3);
    const res = await check(env, true);
    assertNames(res, `pack ${short(pack.id)}`);
    // Plain check knows each pack's exact size from the index.
    assertNames(await check(env, false), `pack ${short(pack.id)}`, /truncated or extended/);
  });

  it('a deleted pack', async () => {
    const { repo, env } = copy();
    const pack = layout.dataPacks[1]!;
    fs.rmSync(packPath(repo, pack.id));
    for (const readData of [false, true]) {
      const res = await check(env, readData);
      assertNames(res, `pack ${short(pack.id)}`, /missing/);
    }
  });

  it('an index entry naming a tree blob as a data blob', async () => {
    const { repo, env } = copy();
    const tree = layout.rootTree;
    const idx = layout.indexFiles.find((f) => f.blobs.includes(tree.id))!;
    // Rewritten with the library (properly sealed and named): only the type is wrong.
    const r = await Repository.open(new LocalBackend(repo), PASSWORD);
    const file = await r.loadFile<IndexFile>('index', idx.name);
    for (const p of file.packs) for (const b of p.blobs) if (b.id === tree.id) b.type = 'data';
    await r.saveFile('index', file);
    await r.backend.remove({ type: 'index', name: idx.name });
    for (const readData of [false, true]) {
      const res = await check(env, readData);
      assertNames(res, `tree ${short(tree.id)}`, /indexed as a data blob/);
      if (readData) assertNames(res, `pack ${short(tree.pack)} blob ${short(tree.id)}`, /disagree/);
    }
  });

  it('an index entry for a blob the pack does not hold', async () => {
    const { repo, env } = copy();
    const pack = layout.dataPacks[0]!;
    const idx = layout.indexFiles.find((f) => f.blobs.includes(pack.blobs[0]!.id))!;
    const r = await Repository.open(new LocalBackend(repo), PASSWORD);
    const file = await r.loadFile<IndexFile>('index', idx.name);
    const ghost = 'ab'.repeat(32);
    for (const p of file.packs) if (p.id === pack.id) p.blobs.push({ ...p.blobs[0]!, id: ghost });
    await r.saveFile('index', file);
    await r.backend.remove({ type: 'index', name: idx.name });
    assertNames(await check(env, true), `pack ${short(pack.id)} blob ${short(ghost)}`, /does not list it/);
  });

  it('a deleted index file', async () => {
    const { repo, env } = copy();
    // The first backup's index: the later snapshots still use its blobs.
    const idx = layout.indexFiles.find(
      (f) => f.blobs.length === Math.max(...layout.indexFiles.map((x) => x.blobs.length)),
    )!;
    fs.rmSync(path.join(repo, 'index', idx.name));
    const named = new Set(idx.blobs.map(short));
    for (const readData of [false, true]) {
      const res = await check(env, readData);
      const hit = assertNames(res, /^(tree|blob) [0-9a-f]{12}$/, /missing from the index/);
      assert.ok(named.has(hit.object.split(' ')[1]!), `${hit.object} was named by the deleted index`);
      for (const e of res.errors) {
        assert.match(e.message, /missing from the index/, `${e.object}: ${e.message}`);
        assert.ok(named.has(e.object.split(' ')[1]!), `${e.object} was named by the deleted index`);
      }
      // Its packs are still there, now named by no index.
      const warned = new Set(res.warnings.map((w) => w.object));
      for (const p of idx.packs) assert.ok(warned.has(`pack ${short(p)}`), `pack ${short(p)} reported as not indexed`);
    }
  });
});
