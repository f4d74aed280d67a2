// Library-level tests of the archiver: change detection against the parent,
// exclusion, leftovers of killed writers, and path normalisation.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { Repository } from '../../repo/repository.ts';
import { LocalBackend } from '../../repo/backend/local-backend.ts';
import { listTree } from '../walk/tree-walk.ts';
import { backup } from './archiver.ts';
import { normalisePaths } from './source-paths.ts';
import { workerCount } from '../shared/worker-pool.ts';
import { ManualClock } from '../../core/clock.ts';

const KDF = { N: 1024, r: 8, p: 1 };

function sandbox(): { dir: string; src: string; repoDir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-archiver-'));
  const src = path.join(dir, 'src');
  fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(src, 'a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(src, 'b.tmp'), 'scratch\n');
  fs.writeFileSync(path.join(src, 'sub', 'c.bin'), Buffer.alloc(100_000, 3));
  return { dir, src, repoDir: path.join(dir, 'repo') };
}

describe('archiver', () => {
  it('reads only new and changed files when given a parent', async (t) => {
    const { dir, src, repoDir } = sandbox();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const repo = await Repository.init(new LocalBackend(repoDir), 'pw', { kdf: KDF });
    const first = await backup(repo, { paths: [src] });
    assert.equal(first.snapshot.summary.filesNew, 3);
    fs.writeFileSync(path.join(src, 'a.txt'), 'alpha, longer now\n');
    fs.writeFileSync(path.join(src, 'd.txt'), 'delta\n');
    const second = await backup(repo, { paths: [src], parent: { ...first.snapshot, id: first.id } });
    const s = second.snapshot.summary;
    assert.deepEqual([s.filesNew, s.filesChanged, s.filesUnchanged], [1, 1, 2]);
    assert.equal(s.bytesRead, 'alpha, longer now\n'.length + 'delta\n'.length, 'unchanged files are not read');
    assert.equal(second.snapshot.parent, first.id);
  });

  it('leaves out excluded names and paths', async (t) => {
    const { dir, src, repoDir } = sandbox();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const repo = await Repository.init(new LocalBackend(repoDir), 'pw', { kdf: KDF });
    const r = await backup(repo, { paths: [src], excludes: ['*.tmp', `${src}/sub`] });
    const listed = (await listTree(repo, r.snapshot.tree)).map((e) => e.path);
    assert.ok(listed.includes(`${src}/a.txt`));
    assert.ok(!listed.includes(`${src}/b.tmp`), 'name glob excluded');
    assert.ok(!listed.some((p) => p.startsWith(`${src}/sub`)), 'absolute path excluded with what is below it');
  });

  it("removes a killed writer's old temporary files, and keeps young ones", async (t) => {
    const { dir, src, repoDir } = sandbox();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const clock = new ManualClock(Date.now());
    const repo = await Repository.init(new LocalBackend(repoDir), 'pw', { kdf: KDF, clock });
    const old = path.join(repoDir, 'tmp', 'left-by-a-kill');
    fs.writeFileSync(old, 'partial pack');
    await backup(repo, { paths: [src] });
    assert.ok(fs.existsSync(old), 'a young temporary file may belong to a live writer');
    clock.set(Date.now() + 2 * 60 * 60 * 1000);
    await backup(repo, { paths: [src] });
    assert.ok(!fs.existsSync(old), 'removed once older than an hour');
  });

  it('normalises paths: absolute, sorted, nested ones dropped', () => {
    assert.deepEqual(normalisePaths(['/b', '/a/x', '/a', '/b/']), ['/a', '/b']);
    assert.deepEqual(normalisePaths(['/ab', '/a']), ['/a', '/ab']);
  });

  it('takes the worker count from SAFEHOLD_WORKERS when valid', () => {
    assert.equal(workerCount(1, { SAFEHOLD_WORKERS: '3' }), 3);
    assert.ok(workerCount(1, { SAFEHOLD_WORKERS: 'x' }) >= 2);
    const cores = os.availableParallelism();
    assert.equal(workerCount(2, {}), Math.max(2, Math.min(4, 2 * cores)));
    assert.equal(workerCount(1, {}), Math.max(2, Math.min(4, cores)));
  });
});

describe('archiver and symlinks on the way to a path', () => {
  it('follows a symlinked parent directory, and keeps a symlink given by name', async (t) => {
    const { dir, src, repoDir } = sandbox();
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    fs.symlinkSync(src, path.join(dir, 'lnk'));
    const repo = await Repository.init(new LocalBackend(repoDir), 'pw', { kdf: KDF });
    const r = await backup(repo, { paths: [path.join(dir, 'lnk', 'sub'), path.join(dir, 'lnk')] });
    assert.deepEqual(r.snapshot.paths, [path.join(dir, 'lnk'), path.join(src, 'sub')]);
    const entries = await listTree(repo, r.snapshot.tree);
    const byPath = new Map(entries.map((e) => [e.path, e.node]));
    assert.equal(byPath.get(path.join(dir, 'lnk'))?.type, 'symlink');
    assert.equal(byPath.get(path.join(dir, 'lnk'))?.linkTarget, src);
    assert.equal(
      byPath.get(path.join(src, 'sub', 'c.bin'))?.size,
      100_000,
      'the file under the symlinked parent is stored under the real path',
    );
    assert.equal(byPath.get(src)?.type, 'dir');
  });
});

describe('archiver and file systems', () => {
  it('with oneFileSystem keeps a mount point inside the paths as an empty directory', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to mount tmpfs');
    const { dir, src, repoDir } = sandbox();
    const mnt = path.join(src, 'mnt');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    t.after(() => {
      execFileSync('umount', [mnt]);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    fs.writeFileSync(path.join(mnt, 'other-fs.txt'), 'on another file system');
    const repo = await Repository.init(new LocalBackend(repoDir), 'pw', { kdf: KDF });
    const crossing = (await listTree(repo, (await backup(repo, { paths: [src] })).snapshot.tree)).map((e) => e.path);
    assert.ok(crossing.includes(path.join(mnt, 'other-fs.txt')), 'by default the mount is crossed');
    const staying = (
      await listTree(repo, (await backup(repo, { paths: [src], oneFileSystem: true })).snapshot.tree)
    ).map((e) => e.path);
    assert.ok(staying.includes(mnt), 'the mount point itself is kept');
    assert.ok(!staying.includes(path.join(mnt, 'other-fs.txt')), 'but not what is on the other file system');
    assert.ok(staying.includes(path.join(src, 'a.txt')));
  });
});
