// Hostile tar archives against the tar reader that extracts directory
// destinations and physical PostgreSQL backups: a directory replaced by a
// symlink of the same name, names and hard link targets with '..', members
// below a symlink. Each is refused with its exact code or extracted without
// changing anything outside the target (a stat+hash listing of a sentinel).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { isSafeholdError } from '../../src/core/errors.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import { extractTar } from '../../src/engine/directory/tar-reader.ts';
import { forgeTar, sentinel, tempDir } from '../helpers/repo-forger.ts';

const code = (c: ErrorCode) => (e: unknown) => {
  assert.ok(isSafeholdError(e, c), `expected ${c}, got ${String((e as Error)?.stack ?? e)}`);
  return true;
};

describe('hostile tar archives', () => {
  let dir: string;
  let guard: ReturnType<typeof sentinel>;
  let n = 0;
  before(() => {
    dir = tempDir('safehold-hostile-tar-');
    guard = sentinel(dir);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const extract = (tar: Buffer) => {
    const target = path.join(dir, `t${n++}`);
    return { target, done: extractTar(Readable.from([tar]), target, { plain: true }) };
  };

  it('a directory replaced by a symlink of the same name: no attribute is set through the link', async () => {
    const before = guard.listing();
    for (const mode of [0o700, 0o777]) {
      const { target, done } = extract(
        forgeTar([
          { entry: { path: 'a', type: 'dir', mode } },
          { entry: { path: 'a', type: 'symlink', linkpath: guard.root } },
          { entry: { path: 'b', type: 'dir', mode } },
          { entry: { path: 'b', type: 'symlink', linkpath: path.join(guard.root, 'secret') } },
        ]),
      );
      await done;
      assert.deepEqual(guard.listing(), before, 'the sentinel kept its modes and times');
      assert.ok(fs.lstatSync(path.join(target, 'a')).isSymbolicLink());
    }
  });

  it("members and hard link targets with '..' are refused: UNSAFE_PATH, nothing outside changes", async () => {
    const before = guard.listing();
    const cases = [
      [{ entry: { path: '../escape', type: 'file' as const }, content: 'x' }],
      [{ entry: { path: 'a/../../escape', type: 'file' as const }, content: 'x' }],
      [{ entry: { path: 'h', type: 'hardlink' as const, linkpath: '../sentinel/secret' } }],
      [
        { entry: { path: 'l', type: 'symlink' as const, linkpath: guard.root } },
        { entry: { path: 'l/secret', type: 'file' as const }, content: 'pwned' },
      ],
      [
        { entry: { path: 'l', type: 'symlink' as const, linkpath: guard.root } },
        { entry: { path: 'l/inner', type: 'dir' as const, mode: 0o700 } },
      ],
    ];
    for (const members of cases)
      await assert.rejects(extract(forgeTar(members)).done, code('UNSAFE_PATH'), JSON.stringify(members));
    assert.deepEqual(guard.listing(), before);
  });

  it('a file member over a symlink to an outside file replaces the link, not the file it leads to', async () => {
    const before = guard.listing();
    const { target, done } = extract(
      forgeTar([
        { entry: { path: 's', type: 'symlink', linkpath: path.join(guard.root, 'secret') } },
        { entry: { path: 's', type: 'file', mode: 0o777 }, content: 'pwned' },
        { entry: { path: 'f', type: 'fifo', mode: 0o600 } },
      ]),
    );
    await done;
    assert.deepEqual(guard.listing(), before);
    assert.equal(fs.readFileSync(path.join(target, 's'), 'utf8'), 'pwned');
    assert.ok(fs.lstatSync(path.join(target, 'f')).isFIFO(), 'a fifo gets its attributes without blocking');
  });
});
