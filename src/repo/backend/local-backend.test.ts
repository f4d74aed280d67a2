// Tests for LocalBackend: the shared conformance suite in a fresh temp
// directory, plus what only a filesystem has: the on-disk layout, temp files
// left by killed processes, a full disk, file modes and sparse ranged reads.

import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { LocalBackend } from './local-backend.ts';
import { backendConformanceSuite } from './conformance.ts';
import { isSafeholdError } from '../../core/errors.ts';
import type { Handle } from './backend.ts';
import { mountTmpfsOrSkip } from '../../../test/helpers/root.ts';

async function tempRoot(): Promise<string> {
  return fs.mkdtemp(join(tmpdir(), 'safehold-local-'));
}

backendConformanceSuite('LocalBackend', async () => {
  const root = await tempRoot();
  // A not yet existing subdirectory, so create() must make the repository directory itself.
  return {
    backend: new LocalBackend(join(root, 'repo')),
    cleanup: () => fs.rm(root, { recursive: true, force: true }),
  };
});

/** Runs `fn` with a created backend in a fresh temp dir, removed afterwards. */
async function withRepo(fn: (b: LocalBackend, dir: string) => Promise<void>): Promise<void> {
  const root = await tempRoot();
  const dir = join(root, 'repo');
  const b = new LocalBackend(dir);
  try {
    await b.create();
    await fn(b, dir);
  } finally {
    await b.close();
    await fs.rm(root, { recursive: true, force: true });
  }
}

/** Every regular file under `dir`, as paths relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

const id = (): string => randomBytes(32).toString('hex');

describe('LocalBackend on disk', () => {
  it('uses the documented layout', () =>
    withRepo(async (b, dir) => {
      const data = id();
      const key = id();
      await b.save({ type: 'config', name: 'config' }, Buffer.from('c'));
      await b.save({ type: 'data', name: data }, Buffer.from('d'));
      await b.save({ type: 'keys', name: key }, Buffer.from('k'));
      assert.deepEqual(await filesUnder(dir), ['config', `data/${data.slice(0, 2)}/${data}`, `keys/${key}`].sort());
      for (const sub of ['keys', 'data', 'index', 'snapshots', 'locks', 'wal', 'tmp']) {
        assert.ok((await fs.stat(join(dir, sub))).isDirectory(), `${sub}/ exists`);
      }
      assert.equal(b.location, dir);
    }));

  it('a repository made before wal/ existed lists no wal files, and the first save creates wal/', () =>
    withRepo(async (b, dir) => {
      await fs.rmdir(join(dir, 'wal'));
      assert.deepEqual(await b.list('wal'), []);
      const name = '7312345678901234567-000000010000000000000003';
      await b.saveNew({ type: 'wal', name }, Buffer.from('segment'));
      assert.equal((await fs.stat(join(dir, 'wal'))).mode & 0o777, 0o700, 'wal/ is 0700');
      assert.equal((await fs.stat(join(dir, 'wal', name))).mode & 0o777, 0o600);
      await fs.rm(join(dir, 'wal'), { recursive: true });
      await b.save({ type: 'wal', name }, Buffer.from('by save'));
      assert.deepEqual(await b.list('wal'), [{ name, size: 7 }]);
      assert.deepEqual(await fs.readdir(join(dir, 'tmp')), [], 'no temp file left');
    }));

  it('saveNew links the finished file and leaves no temp file, created or refused', () =>
    withRepo(async (b, dir) => {
      const h: Handle = { type: 'data', name: id() };
      await b.saveNew(h, Buffer.from('one'));
      await assert.rejects(b.saveNew(h, Buffer.from('two')), (e: unknown) => isSafeholdError(e, 'ALREADY_EXISTS'));
      await b.saveNew({ type: 'config', name: 'config' }, Buffer.from('c'));
      assert.deepEqual(await fs.readdir(join(dir, 'tmp')), [], 'tmp/ is empty');
      assert.equal((await fs.stat(join(dir, 'data', h.name.slice(0, 2), h.name))).nlink, 1, 'one link');
      assert.equal((await fs.stat(join(dir, 'config'))).mode & 0o777, 0o600);
    }));

  it('leaves no temp file behind, ignores leftovers and dot-files, and cleans old leftovers', () =>
    withRepo(async (b, dir) => {
      const h: Handle = { type: 'data', name: id() };
      await b.save(h, randomBytes(1000));
      await b.save({ type: 'index', name: id() }, randomBytes(10));
      assert.deepEqual(await fs.readdir(join(dir, 'tmp')), [], 'tmp/ is empty after saves');

      const now = Date.now();
      const old = join(dir, 'tmp', 'leftover-old');
      const young = join(dir, 'tmp', 'leftover-young');
      await fs.writeFile(old, 'partial');
      await fs.writeFile(young, 'partial');
      await fs.utimes(old, new Date(now - 3_600_000), new Date(now - 3_600_000));
      // Dot-files in the type directories (e.g. editor or sync-tool droppings) are not listed.
      await fs.writeFile(join(dir, 'data', h.name.slice(0, 2), '.partial'), 'x');
      await fs.mkdir(join(dir, 'data', '.hidden'));
      await fs.writeFile(join(dir, 'data', '.hidden', h.name), 'x');
      await fs.writeFile(join(dir, 'snapshots', '.DS_Store'), 'x');

      assert.deepEqual(await b.list('data'), [{ name: h.name, size: 1000 }]);
      assert.deepEqual(await b.list('snapshots'), []);
      assert.equal(await b.cleanTmp(60_000, now), 1, 'removes only the old leftover');
      assert.deepEqual(await fs.readdir(join(dir, 'tmp')), ['leftover-young']);
      assert.equal(await b.cleanTmp(60_000, now + 3_600_000), 1, 'removes the other once it is old');
      assert.deepEqual(await fs.readdir(join(dir, 'tmp')), []);
      assert.equal(await new LocalBackend(join(dir, 'nowhere')).cleanTmp(0, now), 0, 'missing directory');
    }));

  it('a process killed mid-save leaves no visible partial file', () =>
    withRepo(async (b, dir) => {
      const name = id();
      // The child writes a file but hangs at fsync, i.e. before the rename; then it is killed.
      const script = `
      const fsp = await import('node:fs/promises');
      const { LocalBackend } = await import(process.argv[1]);
      const fh = await fsp.open(process.argv[2] + '/config', 'r');
      Object.getPrototypeOf(fh).sync = function () { globalThis.held = this; process.stdout.write('hung\\n'); return new Promise(() => {}); };
      await fh.close();
      setInterval(() => {}, 1000);
      await new LocalBackend(process.argv[2]).save({ type: 'data', name: process.argv[3] }, new Uint8Array(3 << 20).fill(7));
    `;
      await b.save({ type: 'config', name: 'config' }, Buffer.from('c'));
      const child = spawn(
        process.execPath,
        ['--input-type=module', '-e', script, new URL('./local-backend.ts', import.meta.url).href, dir, name],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      try {
        await new Promise<void>((resolve, reject) => {
          child.stdout.on('data', (d: Buffer) => {
            if (d.toString().includes('hung')) resolve();
          });
          child.on('exit', (code) => reject(new Error(`child exited early with ${code}`)));
        });
      } finally {
        child.kill('SIGKILL');
      }
      if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
      const left = await fs.readdir(join(dir, 'tmp'));
      assert.equal(left.length, 1, 'the killed save left its temp file');
      assert.equal((await fs.stat(join(dir, 'tmp', left[0]!))).size, 3 << 20);
      assert.deepEqual(await b.list('data'), []);
      await assert.rejects(b.load({ type: 'data', name }), (e: unknown) => isSafeholdError(e, 'NOT_FOUND'));
      assert.equal(await b.cleanTmp(0, Date.now() + 1000), 1);
      assert.deepEqual(await fs.readdir(join(dir, 'tmp')), []);
    }));

  it('a full disk fails with NO_SPACE and leaves nothing behind', async (t: TestContext) => {
    const mnt = await tempRoot();
    const unmount = mountTmpfsOrSkip(t, mnt, '1m');
    if (!unmount) return fs.rmdir(mnt);
    try {
      const dir = join(mnt, 'repo');
      const b = new LocalBackend(dir);
      await b.create();
      const small: Handle = { type: 'data', name: id() };
      const smallData = randomBytes(1000);
      const cfg = Buffer.from('config');
      await b.save({ type: 'config', name: 'config' }, cfg);
      await b.save(small, smallData);

      const big: Handle = { type: 'data', name: id() };
      await assert.rejects(b.save(big, randomBytes(4 << 20)), (e: unknown) => isSafeholdError(e, 'NO_SPACE'));
      // Overwriting an existing file on a full disk keeps the old content.
      await assert.rejects(b.save(small, randomBytes(4 << 20)), (e: unknown) => isSafeholdError(e, 'NO_SPACE'));

      assert.deepEqual(await fs.readdir(join(dir, 'tmp')), [], 'no temp file left');
      assert.deepEqual(
        await filesUnder(join(dir, 'data')),
        [`${small.name.slice(0, 2)}/${small.name}`],
        'no partial data file',
      );
      assert.deepEqual(await b.list('data'), [{ name: small.name, size: 1000 }]);
      assert.ok((await b.load(small)).equals(smallData), 'earlier file still loads');
      assert.ok((await b.load({ type: 'config', name: 'config' })).equals(cfg));
      // The space of the failed writes was released: a 512 KiB file fits again.
      const after: Handle = { type: 'index', name: id() };
      const afterData = randomBytes(512 << 10);
      await b.save(after, afterData);
      assert.ok((await b.load(after)).equals(afterData));
    } finally {
      unmount();
      await fs.rmdir(mnt);
    }
  });

  it('creates files 0600 and directories 0700', () =>
    withRepo(async (b, dir) => {
      const data = id();
      await b.save({ type: 'config', name: 'config' }, Buffer.from('c'));
      await b.save({ type: 'data', name: data }, Buffer.from('d'));
      await b.save({ type: 'keys', name: 'k1' }, Buffer.from('k'));
      for (const f of ['config', `data/${data.slice(0, 2)}/${data}`, 'keys/k1']) {
        assert.equal((await fs.stat(join(dir, f))).mode & 0o777, 0o600, f);
      }
      for (const d of ['', 'keys', 'data', `data/${data.slice(0, 2)}`, 'index', 'snapshots', 'locks', 'wal', 'tmp']) {
        assert.equal((await fs.stat(join(dir, d))).mode & 0o777, 0o700, `${d || '.'}/`);
      }
    }));

  it('a ranged load reads only its range (a sparse 6 GiB file)', () =>
    withRepo(async (b, dir) => {
      const h: Handle = { type: 'data', name: id() };
      const head = randomBytes(16);
      await b.save(h, head);
      const size = 6 * 1024 ** 3;
      await fs.truncate(join(dir, 'data', h.name.slice(0, 2), h.name), size);
      const start = Date.now();
      assert.ok((await b.load(h, 0, 16)).equals(head));
      assert.ok((await b.load(h, size - 16, 16)).equals(Buffer.alloc(16)));
      assert.equal((await b.load(h, size, 0)).byteLength, 0);
      await assert.rejects(b.load(h, size - 8, 16), (e: unknown) => isSafeholdError(e, 'CORRUPT'));
      assert.deepEqual(await b.stat(h), { name: h.name, size });
      assert.ok(Date.now() - start < 5000, 'ranged loads of a huge file are quick');
    }));

  it('a missing repository directory reads as empty', async () => {
    const root = await tempRoot();
    try {
      const b = new LocalBackend(join(root, 'absent'));
      assert.equal(await b.exists(), false);
      assert.deepEqual(await b.list('data'), []);
      assert.deepEqual(await b.list('config'), []);
      await assert.rejects(b.load({ type: 'config', name: 'config' }), (e: unknown) => isSafeholdError(e, 'NOT_FOUND'));
      await assert.rejects(b.load({ type: 'data', name: id() }, 0, 4), (e: unknown) => isSafeholdError(e, 'NOT_FOUND'));
      await assert.rejects(b.stat({ type: 'keys', name: 'k' }), (e: unknown) => isSafeholdError(e, 'NOT_FOUND'));
      await b.remove({ type: 'locks', name: 'l' });
      await assert.rejects(fs.stat(join(root, 'absent')), 'nothing was created by reading');
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
