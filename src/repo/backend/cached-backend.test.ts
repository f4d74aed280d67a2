// Tests of the local metadata cache, in the full stack the factory builds for
// remote backends (cache over rate limit over retries), over a local
// directory whose requests a counting wrapper records: the conformance suite;
// `snapshots` and `ls` a second time download no key, index, snapshot or
// tree file; a damaged cache entry is dropped and fetched again; entries of
// files the backend no longer lists are removed; cache files are private.

import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { LocalBackend } from './local-backend.ts';
import { FaultyBackend } from './faulty-backend.ts';
import { CLEAN_INTERVAL_MS, CachedBackend, defaultCacheDir } from './cached-backend.ts';
import { wrapRemote } from './factory.ts';
import { backendConformanceSuite } from './conformance.ts';
import { Repository } from '../repository.ts';
import { listSnapshots } from '../snapshot.ts';
import { backup } from '../../engine/backup/archiver.ts';
import { listTree } from '../../engine/walk/tree-walk.ts';

const KDF = { N: 1024, r: 8, p: 1 };
const PW = 'cache test';

backendConformanceSuite('cached(rate limited(retrying(LocalBackend)))', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-cached-'));
  return {
    backend: wrapRemote(new LocalBackend(path.join(root, 'repo')), {
      cacheDir: path.join(root, 'cache'),
      rateLimit: { upload: 1 << 30, download: 1 << 30 },
    }),
    cleanup: async () => fs.rmSync(root, { recursive: true, force: true }),
  };
});

interface Rig {
  root: string;
  repoDir: string;
  src: string;
}

function rig(t: TestContext): Rig {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-cached-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const src = path.join(root, 'src');
  for (let d = 0; d < 5; d++) {
    fs.mkdirSync(path.join(src, `dir${d}`, 'sub'), { recursive: true });
    for (let f = 0; f < 4; f++) fs.writeFileSync(path.join(src, `dir${d}`, 'sub', `f${f}`), `file ${d}/${f}\n`);
  }
  return { root, repoDir: path.join(root, 'repo'), src };
}

/** A "process": the remote stack over a counting wrapper of the local directory, with its own cache object. */
function stack(r: Rig, cacheDir: string) {
  const counter = new FaultyBackend(new LocalBackend(r.repoDir));
  const backend = wrapRemote(counter, { cacheDir });
  assert.ok(backend instanceof CachedBackend);
  return { counter, backend };
}

/** What `snapshots` then `ls` of every snapshot read. */
async function snapshotsAndLs(backend: CachedBackend): Promise<number> {
  const repo = await Repository.open(backend, PW);
  const snaps = await listSnapshots(repo);
  await repo.loadIndex();
  let entries = 0;
  for (const s of snaps) entries += (await listTree(repo, s.tree)).length;
  await repo.close();
  return entries;
}

function metadataLoads(counter: FaultyBackend): Record<string, number> {
  return Object.fromEntries(
    (['keys', 'index', 'snapshots', 'data'] as const).map((t) => [t, counter.calls('load', t)]),
  );
}

async function initWithBackups(r: Rig, cacheDir: string | null): Promise<void> {
  const counter = new FaultyBackend(new LocalBackend(r.repoDir));
  const repo = await Repository.init(wrapRemote(counter, { cacheDir }), PW, { kdf: KDF });
  await backup(repo, { paths: [r.src] });
  fs.writeFileSync(path.join(r.src, 'dir0', 'new'), 'new file\n');
  await backup(repo, { paths: [r.src] });
  await repo.close();
}

describe('CachedBackend', () => {
  it('a second `snapshots` and `ls` download no key, index, snapshot or tree file', async (t) => {
    const r = rig(t);
    await initWithBackups(r, null);
    const cacheDir = path.join(r.root, 'cache');
    const first = stack(r, cacheDir);
    const listed = await snapshotsAndLs(first.backend);
    assert.ok(listed > 40);
    const firstLoads = metadataLoads(first.counter);
    assert.ok(
      firstLoads.index! >= 2 && firstLoads.snapshots === 2 && firstLoads.data! >= 1,
      JSON.stringify(firstLoads),
    );

    const second = stack(r, cacheDir);
    assert.equal(await snapshotsAndLs(second.backend), listed);
    assert.deepEqual(metadataLoads(second.counter), { keys: 0, index: 0, snapshots: 0, data: 0 });
    assert.equal(second.counter.calls('load'), 1, 'only the config is downloaded');
    assert.ok(second.counter.calls('list') >= 3, 'lists still ask the backend');
    assert.equal(second.backend.stats.misses, 0);
  });

  it('writes through: what a backup stores needs no download afterwards', async (t) => {
    const r = rig(t);
    const cacheDir = path.join(r.root, 'cache');
    await initWithBackups(r, cacheDir);
    const after = stack(r, cacheDir);
    await snapshotsAndLs(after.backend);
    assert.deepEqual(metadataLoads(after.counter), { keys: 0, index: 0, snapshots: 0, data: 0 });
  });

  it('a damaged cache entry is dropped and fetched again, not reported as a damaged repository', async (t) => {
    const r = rig(t);
    const cacheDir = path.join(r.root, 'cache');
    await initWithBackups(r, cacheDir);
    const damage = (type: string) => {
      const dir = path.join(cacheDir, type);
      const file =
        type === 'data'
          ? path.join(dir, fs.readdirSync(dir)[0]!, fs.readdirSync(path.join(dir, fs.readdirSync(dir)[0]!))[0]!)
          : path.join(dir, fs.readdirSync(dir)[0]!);
      const bytes = fs.readFileSync(file);
      bytes[bytes.length >> 1]! ^= 0x40;
      fs.writeFileSync(file, bytes);
      return file;
    };
    const files = ['index', 'snapshots', 'data', 'keys'].map(damage);
    const s = stack(r, cacheDir);
    const listed = await snapshotsAndLs(s.backend);
    assert.ok(listed > 40);
    assert.equal(s.backend.stats.dropped, 4);
    const loads = metadataLoads(s.counter);
    for (const t of ['index', 'snapshots', 'data', 'keys']) assert.equal(loads[t], 1, `${t} fetched again once`);
    for (const f of files) {
      const hash = crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
      assert.equal(hash, path.basename(f), `${f} is whole again`);
    }
  });

  it('a tree pack cut short on the way is downloaded again, not cached, not a repository error', async (t) => {
    const r = rig(t);
    await initWithBackups(r, null);
    const cacheDir = path.join(r.root, 'cache');
    const counter = new FaultyBackend(new LocalBackend(r.repoDir), [
      { op: 'load', type: 'data', nth: 1, kind: 'truncate' },
    ]);
    const backend = wrapRemote(counter, { cacheDir }) as CachedBackend;
    assert.ok((await snapshotsAndLs(backend)) > 40);
    assert.equal(counter.injected.length, 1);
    const dataDir = path.join(cacheDir, 'data');
    for (const sub of fs.readdirSync(dataDir)) {
      for (const f of fs.readdirSync(path.join(dataDir, sub))) {
        const hash = crypto
          .createHash('sha256')
          .update(fs.readFileSync(path.join(dataDir, sub, f)))
          .digest('hex');
        assert.equal(hash, f, 'only whole packs are cached');
      }
    }
  });

  it('removes the entries of files the backend no longer lists', async (t) => {
    const r = rig(t);
    const cacheDir = path.join(r.root, 'cache');
    await initWithBackups(r, cacheDir);
    const cached = fs.readdirSync(path.join(cacheDir, 'snapshots'));
    assert.equal(cached.length, 2);
    // Another process forgets a snapshot.
    await new LocalBackend(r.repoDir).remove({ type: 'snapshots', name: cached[0]! });
    const s = stack(r, cacheDir);
    const listed = await s.backend.list('snapshots');
    assert.deepEqual(
      listed.map((f) => f.name),
      [cached[1]],
    );
    assert.deepEqual(fs.readdirSync(path.join(cacheDir, 'snapshots')), [cached[1]]);
  });

  it('runs the backend cleanup of interrupted writes at most once per interval', async (t) => {
    const r = rig(t);
    await Repository.init(new LocalBackend(r.repoDir), PW, { kdf: KDF });
    const leftover = (name: string) => fs.writeFileSync(path.join(r.repoDir, 'tmp', name), 'partial');
    const cacheDir = path.join(r.root, 'cache');
    const now = Date.now();
    leftover('a');
    assert.equal(await new CachedBackend(new LocalBackend(r.repoDir), cacheDir).cleanTmp!(0, now + 1000), 1);
    leftover('b');
    // Another process with the same cache, within the interval: no cleanup (no listing request).
    const next = new CachedBackend(new LocalBackend(r.repoDir), cacheDir);
    assert.equal(await next.cleanTmp!(0, now + 1000 + CLEAN_INTERVAL_MS - 1), 0);
    assert.deepEqual(fs.readdirSync(path.join(r.repoDir, 'tmp')), ['b']);
    assert.equal(await next.cleanTmp!(0, now + 1000 + CLEAN_INTERVAL_MS), 1, 'once the interval has passed');
    leftover('c');
    assert.equal(await next.cleanTmp!(0, now + 2000), 1, 'a clock gone backwards cleans');
  });

  it('keeps its files private and tagged as a cache', async (t) => {
    const r = rig(t);
    const cacheDir = path.join(r.root, 'cache');
    const old = process.umask(0o022);
    try {
      await initWithBackups(r, cacheDir);
    } finally {
      process.umask(old);
    }
    assert.match(
      fs.readFileSync(path.join(cacheDir, 'CACHEDIR.TAG'), 'utf8'),
      /^Signature: 8a477f597d28d172789f06886806bc55/,
    );
    for (const e of fs.readdirSync(cacheDir, { recursive: true, withFileTypes: true })) {
      const p = path.join(e.parentPath, e.name);
      const mode = fs.statSync(p).mode & 0o777;
      assert.equal(mode, e.isDirectory() ? 0o700 : 0o600, p);
    }
    assert.equal(fs.statSync(cacheDir).mode & 0o777, 0o700);
    assert.deepEqual(fs.readdirSync(path.join(cacheDir, 'tmp')), [], 'no temporary file left');
  });

  it('defaults to XDG_CACHE_HOME or ~/.cache, one directory per location', () => {
    const a = defaultCacheDir('s3:https://h/b', { XDG_CACHE_HOME: '/x/cache', HOME: '/home/u' });
    assert.match(a, /^\/x\/cache\/safehold\/[0-9a-f]{32}$/);
    const b = defaultCacheDir('s3:https://h/b', { HOME: '/home/u' });
    assert.match(b, /^\/home\/u\/\.cache\/safehold\/[0-9a-f]{32}$/);
    assert.equal(path.basename(a), path.basename(b));
    assert.notEqual(path.basename(defaultCacheDir('sftp:u@h:/r', { HOME: '/home/u' })), path.basename(b));
    assert.match(defaultCacheDir('x', { XDG_CACHE_HOME: 'relative', HOME: '/h' }), /^\/h\/\.cache\//);
  });
});
