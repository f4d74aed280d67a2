// safehold find and dump through the real CLI: find by name, by absolute and
// relative path pattern, case-insensitively, restricted to snapshots and by
// tag, with its --json shape; dump of a file to stdout and to --target, of a
// directory as a tar stream that the system tar extracts into the same tree
// (symlinks, hard links, modes, mtimes, empty and sparse files), of '/', and
// the refusals (relative path, missing path, --json without --target).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { SAFEHOLD, buildSampleTree, compareTrees, makeSandbox, show } from './helpers/cli.ts';
import type { Sandbox } from './helpers/cli.ts';

describe('safehold find and dump', () => {
  let sb: Sandbox;
  let src: string;
  let first: string;
  let second: string;

  before(async () => {
    sb = makeSandbox('safehold-find-dump-');
    await sb.init();
    src = path.join(sb.dir, 'src');
    buildSampleTree(src);
    fs.mkdirSync(path.join(src, 'conf', 'nginx'), { recursive: true });
    fs.writeFileSync(path.join(src, 'conf', 'nginx', 'site.conf'), 'server {}\n');
    fs.writeFileSync(path.join(src, 'Notes.TXT'), 'only in the first snapshot\n');
    const a = await sb.run(['backup', src, '--tag', 'first', '--json']);
    assert.equal(a.code, 0, show(a));
    first = a.json().snapshot;
    fs.rmSync(path.join(src, 'Notes.TXT'));
    fs.writeFileSync(path.join(src, 'conf', 'extra.conf'), 'added later\n');
    const b = await sb.run(['backup', src, '--tag', 'second', '--json']);
    assert.equal(b.code, 0, show(b));
    second = b.json().snapshot;
  });
  after(() => sb.cleanup());

  const find = async (args: string[]) => {
    const r = await sb.run(['find', ...args, '--json']);
    assert.equal(r.code, 0, show(r));
    return r.json<{
      patterns: string[];
      searched: number;
      snapshots: { snapshot: string; tags: string[]; matches: { path: string; type: string; size: number }[] }[];
    }>();
  };

  it('finds a name in the snapshots that hold it, and only those', async () => {
    const doc = await find(['Notes.TXT']);
    assert.equal(doc.searched, 2);
    assert.deepEqual(
      doc.snapshots.map((s) => s.snapshot),
      [first],
    );
    const m = doc.snapshots[0]!.matches;
    assert.deepEqual(m, [{ ...m[0]!, path: path.join(src, 'Notes.TXT'), type: 'file', size: 27 }]);
    assert.equal((await find(['notes.txt'])).snapshots.length, 0);
    assert.equal((await find(['notes.txt', '--ignore-case'])).snapshots.length, 1);
  });

  it('matches globs on names, absolute paths and path endings', async () => {
    const byName = await find(['*.conf']);
    assert.deepEqual(
      byName.snapshots.map((s) => s.matches.map((x) => x.path)),
      [
        [path.join(src, 'conf/nginx/site.conf')],
        [path.join(src, 'conf/extra.conf'), path.join(src, 'conf/nginx/site.conf')],
      ],
    );
    const abs = await find([`${src}/conf/*.conf`]);
    assert.deepEqual(
      abs.snapshots.map((s) => s.snapshot),
      [second],
    );
    const rel = await find(['nginx/*.conf', '--snapshot', first.slice(0, 10)]);
    assert.equal(rel.searched, 1);
    assert.deepEqual(
      rel.snapshots[0]!.matches.map((x) => x.path),
      [path.join(src, 'conf/nginx/site.conf')],
    );
    const dirs = await find(['nginx']);
    assert.equal(dirs.snapshots[0]!.matches[0]!.type, 'dir');
    const tagged = await find(['*.conf', '--tag', 'second']);
    assert.deepEqual(
      tagged.snapshots.map((s) => s.tags),
      [['second']],
    );
  });

  it('prints matches per snapshot; no pattern and an empty one are usage errors', async () => {
    const r = await sb.run(['find', 'site.conf']);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout, new RegExp(`snapshot ${first.slice(0, 8)}`));
    assert.match(r.stdout, /2 matches in 2 of 2 snapshots/);
    assert.equal((await sb.run(['find'])).code, 2);
    assert.equal((await sb.run(['find', ''])).code, 2);
  });

  it('dumps a file to stdout and to --target', async () => {
    const r = await sb.run(['dump', 'latest', path.join(src, 'small.txt')]);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, 'hello, safehold\n');
    const out = path.join(sb.dir, 'big.out');
    const t = await sb.run(['dump', second, path.join(src, 'big.bin'), '--target', out, '--json']);
    assert.equal(t.code, 0, show(t));
    assert.deepEqual(fs.readFileSync(out), fs.readFileSync(path.join(src, 'big.bin')));
    const doc = t.json();
    assert.equal(doc.format, 'file');
    assert.equal(doc.bytes, 3 * 1024 * 1024);
    assert.equal(fs.statSync(out).mode & 0o777, 0o600);
    assert.deepEqual(
      fs.readdirSync(sb.dir).filter((n) => n.includes('.safehold-')),
      [],
    );
  });

  it('dumps a directory as a tar stream that tar extracts into the same tree', () => {
    const into = path.join(sb.dir, 'untar');
    fs.mkdirSync(into);
    const p = spawnSync('bash', ['-c', `set -o pipefail; "${SAFEHOLD}" dump latest "${src}" | tar -x -C "${into}"`], {
      env: sb.env,
      encoding: 'utf8',
    });
    assert.equal(p.status, 0, p.stderr);
    assert.deepEqual(compareTrees(src, path.join(into, 'src')), []);
  });

  it("dumps '/' with the snapshot's paths, and a file of --target as tar", async () => {
    const out = path.join(sb.dir, 'all.tar');
    const r = await sb.run(['dump', first, '/', '--target', out, '--json']);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.json().format, 'tar');
    const names = spawnSync('tar', ['-tf', out], { encoding: 'utf8' }).stdout.split('\n');
    assert.ok(names.includes(`${src.slice(1)}/Notes.TXT`), names.join('\n'));
    assert.ok(names.includes(`${src.slice(1)}/nested/a/b/c/deep.txt`));
  });

  it('refuses a relative path, a missing one, and --json without --target', async () => {
    const rel = await sb.run(['dump', 'latest', 'small.txt']);
    assert.equal(rel.code, 2, show(rel));
    const missing = await sb.run(['dump', 'latest', path.join(src, 'nope'), '--target', path.join(sb.dir, 'x')]);
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stderr, /is not in the snapshot/);
    assert.equal(fs.existsSync(path.join(sb.dir, 'x')), false);
    const json = await sb.run(['dump', 'latest', path.join(src, 'small.txt'), '--json']);
    assert.equal(json.code, 2, show(json));
    assert.equal(json.json().error.code, 'USAGE');
  });
});
