// Backup's list and marker options through the real CLI: --exclude-file
// (comments, blank lines), --files-from (relative paths from the working
// directory, with path arguments), --exclude-caches (only a CACHEDIR.TAG
// file that starts with the standard signature, not a symlink to one) and
// --exclude-if-present, checked with `ls`; and their refusals (exit 2).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeSandbox, show } from './helpers/cli.ts';
import type { Sandbox } from './helpers/cli.ts';

const SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55';

describe('safehold backup: exclude files, files-from, caches, markers', () => {
  let sb: Sandbox;
  let src: string;
  const w = (rel: string, text = 'x\n') => {
    fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
    fs.writeFileSync(path.join(src, rel), text);
  };

  before(async () => {
    sb = makeSandbox('safehold-backup-excl-');
    await sb.init();
    src = path.join(sb.dir, 'src');
    w('keep/a.txt');
    w('keep/b.log');
    w('tmp/junk.bin');
    w('cache/CACHEDIR.TAG', `${SIGNATURE}\n# This file is a cache directory tag.\n`);
    w('cache/blob');
    w('fake-cache/CACHEDIR.TAG', 'Signature: not the real one\n');
    w('fake-cache/kept');
    w('linked-cache/kept');
    fs.symlinkSync(path.join(src, 'cache', 'CACHEDIR.TAG'), path.join(src, 'linked-cache', 'CACHEDIR.TAG'));
    w('private/.nobackup', '');
    w('private/secret');
    w('other/one.txt');
    w('other/two.txt');
  });
  after(() => sb.cleanup());

  const listed = async (snapshot: string) => {
    const r = await sb.run(['ls', snapshot, '--json']);
    assert.equal(r.code, 0, show(r));
    return r
      .json<{ path: string }[]>()
      .map((e) => path.relative(sb.dir, e.path))
      .filter((p) => !p.startsWith('..'));
  };

  it('--exclude-file, --exclude-caches and --exclude-if-present leave the right entries out', async () => {
    const list = path.join(sb.dir, 'excludes.txt');
    fs.writeFileSync(list, `# logs and scratch\n*.log\n\n   \n  /nowhere/*  \n${src}/tmp\n`);
    const r = await sb.run([
      'backup',
      src,
      '--exclude-file',
      list,
      '--exclude-caches',
      '--exclude-if-present',
      '.nobackup',
      '--json',
    ]);
    assert.equal(r.code, 0, show(r));
    const names = await listed(r.json().snapshot);
    for (const kept of ['src/keep/a.txt', 'src/fake-cache/kept', 'src/linked-cache/kept', 'src/other/one.txt'])
      assert.ok(names.includes(kept), `${kept} missing: ${names.join(' ')}`);
    for (const gone of ['src/keep/b.log', 'src/tmp', 'src/cache', 'src/private'])
      assert.ok(!names.includes(gone), `${gone} was backed up`);
  });

  it('--files-from adds the listed paths (relative to the working directory) to the arguments', async () => {
    const list = path.join(sb.dir, 'files.txt');
    fs.writeFileSync(list, '# what to keep\nsrc/other/one.txt\n\nsrc/keep\n');
    const r = await sb.run(['backup', '--files-from', list, path.join(src, 'private'), '--json'], { cwd: sb.dir });
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(r.json().paths, [
      path.join(src, 'keep'),
      path.join(src, 'other/one.txt'),
      path.join(src, 'private'),
    ]);
    const names = await listed(r.json().snapshot);
    assert.ok(names.includes('src/keep/b.log'));
    assert.ok(!names.includes('src/other/two.txt'));
  });

  it('refuses what it cannot use (exit 2)', async () => {
    const empty = path.join(sb.dir, 'empty.txt');
    fs.writeFileSync(empty, '# nothing\n');
    for (const args of [
      ['backup', src, '--exclude-file', path.join(sb.dir, 'missing.txt')],
      ['backup', '--files-from', path.join(sb.dir, 'missing.txt')],
      ['backup', '--files-from', empty],
      ['backup', src, '--exclude-if-present', 'a/b'],
      ['backup', '--stdin', '--stdin-filename', 'x', '--files-from', empty],
      ['backup', '--stdin', '--stdin-filename', 'x', '--exclude-caches'],
    ]) {
      const r = await sb.run([...args, '--json']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${show(r)}`);
      assert.equal(r.json().error.code, 'USAGE');
    }
  });
});
