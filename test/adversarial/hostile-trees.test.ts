// A hostile repository against every reader of trees and snapshots: restore,
// ls, diff, check and copy meet duplicate names (a directory and a symlink of
// one name, in both orders), names with '/', '..', '.', '', NUL, nodes with
// impossible fields, sizes beyond their data, and snapshot paths with '..',
// relative or unnormalised paths. Each is refused with its exact code, and a
// stat+hash listing of a sentinel tree outside the target is the same before
// and after. A target that already holds symlinks or hard links to the
// sentinel is restored into without touching the sentinel.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { isSafeholdError } from '../../src/core/errors.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import { LocalBackend } from '../../src/repo/backend/local-backend.ts';
import { Repository } from '../../src/repo/repository.ts';
import { findSnapshot, listSnapshots } from '../../src/repo/snapshot.ts';
import { restore } from '../../src/engine/restore/restorer.ts';
import { check } from '../../src/engine/check/checker.ts';
import { copySnapshots } from '../../src/engine/copy/copy.ts';
import { diffTrees, listTree } from '../../src/engine/walk/tree-walk.ts';
import {
  dirNode,
  fileNode,
  forgeRepository,
  sentinel,
  statListing,
  symlinkNode,
  tempDir,
} from '../helpers/repo-forger.ts';
import type { Forger } from '../helpers/repo-forger.ts';

const code = (c: ErrorCode) => (e: unknown) => {
  assert.ok(isSafeholdError(e, c), `expected ${c}, got ${String((e as Error)?.stack ?? e)}`);
  return true;
};

describe('hostile trees and snapshots', () => {
  let dir: string;
  let f: Forger;
  let guard: ReturnType<typeof sentinel>;
  let blob: string;
  let good: string;
  before(async () => {
    dir = tempDir('safehold-hostile-');
    f = await forgeRepository(dir);
    guard = sentinel(dir);
    blob = await f.data('pwned\n');
    good = await f.tree([fileNode('ok', [blob], 6)]);
  });
  after(async () => {
    await f.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  /** Restores `tree` into a fresh target; asserts the refusal code, an empty target and an unchanged sentinel. */
  async function refused(tree: string, c: ErrorCode, message?: RegExp): Promise<void> {
    const target = path.join(dir, `target-${n++}`);
    fs.mkdirSync(target);
    const before = guard.listing();
    await assert.rejects(
      restore(f.repo, tree, { target }),
      (e) => code(c)(e) && (!message || message.test((e as Error).message)),
    );
    assert.deepEqual(guard.listing(), before, 'nothing outside the target changed');
    assert.deepEqual(fs.readdirSync(target), [], 'nothing was restored');
  }

  it('a directory and a symlink of one name (either order) are refused as corrupt, before anything is written', async () => {
    const sub = await f.tree([fileNode('x', [blob], 6)]);
    await refused(
      await f.tree([dirNode('a', sub, { mode: 0o700 }), symlinkNode('a', guard.root)]),
      'CORRUPT',
      /appears twice/,
    );
    await refused(
      await f.tree([symlinkNode('a', guard.root), dirNode('a', sub, { mode: 0o700 })]),
      'CORRUPT',
      /appears twice/,
    );
    await refused(await f.tree([fileNode('a', [blob], 6), fileNode('a', [blob], 6)]), 'CORRUPT', /appears twice/);
    // Deeper down too.
    const deep = await f.tree([dirNode('d', sub), symlinkNode('d', path.join(guard.root, 'inner'))]);
    await refused(await f.tree([dirNode('top', deep)]), 'CORRUPT');
  });

  it("names '', '.', '..', with '/' or NUL escape their directory: UNSAFE_PATH", async () => {
    for (const name of ['', '.', '..', 'a/b', '/abs', '../escape', 'x\0y']) {
      await refused(await f.tree([fileNode(name, [blob], 6)]), 'UNSAFE_PATH');
      const sub = await f.tree([fileNode(name, [blob], 6)]);
      await refused(await f.tree([dirNode('d', sub)]), 'UNSAFE_PATH');
    }
    await refused(await f.tree([dirNode('..', good)]), 'UNSAFE_PATH');
  });

  it('impossible fields are refused as corrupt: type, mode, owner, size, content, subtree, link target', async () => {
    const bad: Record<string, unknown>[] = [
      { ...fileNode('t', [blob], 6), type: 'door' },
      { ...fileNode('m', [blob], 6), mode: 0o17777 },
      { ...fileNode('u', [blob], 6), uid: -1 },
      { ...fileNode('s', [blob], 6), size: -6 },
      { ...fileNode('c', [blob], 6), content: ['../../etc/passwd'] },
      { ...fileNode('c2', [blob], 6), content: 'abc' },
      { ...dirNode('d', good), subtree: undefined },
      { ...symlinkNode('l', 'x'), linkTarget: 7 },
      { ...fileNode('t2', [blob], 6), mtime: '1e9' },
      { type: 'file' },
    ];
    for (const node of bad) await refused(await f.tree([node]), 'CORRUPT');
  });

  it('a size beyond its data is refused before anything is written', async () => {
    await refused(
      await f.tree([fileNode('big', [blob], 2 ** 40)]),
      'CORRUPT',
      /add up to 6 bytes, the tree says 1099511627776/,
    );
    await refused(await f.tree([fileNode('small', [blob, blob], 6)]), 'CORRUPT');
  });

  it('ls, diff, check and copy refuse the same trees', async () => {
    const hostile = await f.tree([dirNode('a', good), symlinkNode('a', guard.root)]);
    await assert.rejects(listTree(f.repo, hostile), code('CORRUPT'));
    await assert.rejects(diffTrees(f.repo, good, hostile), code('CORRUPT'));
    const escaping = await f.tree([fileNode('../x', [blob], 6)]);
    await assert.rejects(listTree(f.repo, escaping), code('UNSAFE_PATH'));
    const id = await f.snapshot(hostile, { paths: ['/a'] });
    const res = await check(f.repo);
    assert.equal(res.ok, false);
    assert.ok(
      res.errors.some((e) => e.object === `tree ${hostile.slice(0, 12)}` && /appears twice/.test(e.message)),
      JSON.stringify(res.errors),
    );
    const other = await Repository.init(new LocalBackend(path.join(dir, 'copy-dst')), 'another password', {
      kdf: { N: 1024, r: 8, p: 1 },
    });
    try {
      const snap = await findSnapshot(f.repo, id);
      await assert.rejects(
        copySnapshots(f.repo, other, { snapshots: [snap] } as Parameters<typeof copySnapshots>[2]),
        code('CORRUPT'),
      );
    } finally {
      await other.close();
      await f.repo.backend.remove({ type: 'snapshots', name: id });
    }
  });

  it("snapshot paths with '..', relative, unnormalised or empty are refused when read", async () => {
    for (const paths of [['/../etc'], ['/a/../b'], ['relative'], ['/a/'], ['//a'], [''], [], ['/a\0b']]) {
      const id = await f.snapshot(good, { paths });
      try {
        await assert.rejects(findSnapshot(f.repo, id), code('CORRUPT'), JSON.stringify(paths));
        await assert.rejects(listSnapshots(f.repo), code('CORRUPT'));
        assert.ok((await check(f.repo)).errors.some((e) => e.object === `snapshot ${id.slice(0, 12)}`));
      } finally {
        await f.repo.backend.remove({ type: 'snapshots', name: id });
      }
    }
    for (const paths of [['/'], ['/srv/app', '/etc']]) {
      const id = await f.snapshot(good, { paths });
      assert.deepEqual((await findSnapshot(f.repo, id)).paths, paths);
      await f.repo.backend.remove({ type: 'snapshots', name: id });
    }
  });

  it('clean removes only inside the target: never the target itself, never through a symlinked parent', async () => {
    const target = path.join(dir, 'clean-target');
    fs.mkdirSync(target);
    fs.symlinkSync(guard.root, path.join(target, 'x'));
    const before = guard.listing();
    const tree = await f.tree([dirNode('x', await f.tree([fileNode('secret', [blob], 6)]))]);
    await assert.rejects(
      restore(f.repo, tree, { target, include: ['/x/secret'], clean: ['/x/secret'] }),
      code('UNSAFE_PATH'),
    );
    await assert.rejects(restore(f.repo, tree, { target, clean: ['/'] }), code('USAGE'));
    await assert.rejects(restore(f.repo, tree, { target, clean: ['/x/../..'] }), code('UNSAFE_PATH'));
    assert.deepEqual(guard.listing(), before);
    assert.ok(fs.lstatSync(path.join(target, 'x')).isSymbolicLink(), 'the target was left as it was');
  });

  it('a target holding symlinks and hard links to outside files is restored without touching them', async () => {
    const target = path.join(dir, 'prepared-target');
    fs.mkdirSync(target);
    fs.symlinkSync(path.join(guard.root, 'secret'), path.join(target, 'viaSymlink'));
    fs.linkSync(path.join(guard.root, 'inner', 'file'), path.join(target, 'viaHardlink'));
    fs.symlinkSync(guard.root, path.join(target, 'dirLink'));
    const before = guard.listing();
    const tree = await f.tree([
      fileNode('viaSymlink', [blob], 6, { mode: 0o777 }),
      fileNode('viaHardlink', [blob], 6, { mode: 0o777 }),
    ]);
    await restore(f.repo, tree, { target });
    assert.deepEqual(guard.listing(), before, 'the files the links led to are unchanged');
    for (const name of ['viaSymlink', 'viaHardlink']) {
      const st = fs.lstatSync(path.join(target, name));
      assert.ok(st.isFile() && st.nlink === 1, `${name} is a new regular file`);
      assert.equal(fs.readFileSync(path.join(target, name), 'utf8'), 'pwned\n');
    }
    const intoLink = await f.tree([dirNode('dirLink', await f.tree([fileNode('secret', [blob], 6)]), { mode: 0o700 })]);
    await assert.rejects(restore(f.repo, intoLink, { target }), code('UNSAFE_PATH'));
    assert.deepEqual(guard.listing(), before, 'nothing was written through the symlinked directory');
  });

  it('directories above an include keep their own attributes; hard links stay inside the restore', async () => {
    const target = path.join(dir, 'include-target');
    fs.mkdirSync(path.join(target, 'srv'), { recursive: true, mode: 0o751 });
    fs.chmodSync(path.join(target, 'srv'), 0o751);
    const attrs = () => statListing(path.join(target, 'srv'))['.']!.replace(/ size=.*/, '');
    const srvBefore = attrs();
    const linked = { inode: 77, device: 5, links: 2 };
    const app = await f.tree([fileNode('one', [blob], 6, linked), fileNode('two', [blob], 6, linked)]);
    const tree = await f.tree([dirNode('srv', await f.tree([dirNode('app', app)]), { mode: 0o700 })]);
    await restore(f.repo, tree, { target, include: ['/srv/app/two'] });
    assert.equal(attrs(), srvBefore, 'the existing parent kept its mode and owner (0700 in the snapshot)');
    assert.deepEqual(fs.readdirSync(path.join(target, 'srv', 'app')), ['two']);
    assert.equal(fs.readFileSync(path.join(target, 'srv', 'app', 'two'), 'utf8'), 'pwned\n');
  });
});
