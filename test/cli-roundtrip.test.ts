// End-to-end round trips through the real CLI: init, backup of a sample tree
// with every kind of entry, snapshots, restore (whole, --include), ls, diff,
// an incremental backup, stdin backups, tags, excludes, check, unlock,
// key passwd and the catalog of runs. The steps share one repository and run
// in order; every restore goes to a fresh target.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import {
  makeSandbox,
  buildSampleTree,
  compareTrees,
  listTree,
  show,
  underTarget,
  SPARSE_SIZE,
  SPARSE_TAIL,
} from './helpers/cli.ts';
import type { Sandbox } from './helpers/cli.ts';
import { isRoot, skipUnlessRoot } from './helpers/root.ts';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';

const HEX64 = /^[0-9a-f]{64}$/;
const OTHER_OWNER = 1234;

describe('CLI round trip', () => {
  let sb: Sandbox;
  let src: string;
  let files: string[];
  let first: string; // id of the first backup
  let second: string; // id of the backup after the changes
  let fullRestore: string; // src as restored by the first full restore
  let targets = 0;
  const target = () => path.join(sb.dir, `restore-${++targets}`);

  before(() => {
    sb = makeSandbox('safehold-roundtrip-');
    src = path.join(sb.dir, 'src');
    files = buildSampleTree(src);
    // A file of another owner (root only): the restore must give it back its owner.
    if (isRoot) fs.chownSync(path.join(src, 'nested', 'a', 'sibling.txt'), OTHER_OWNER, OTHER_OWNER);
  });
  after(() => sb.cleanup());

  it('init --json prints the new repository id', async () => {
    const r = await sb.run(['init', '--json']);
    assert.equal(r.code, 0, show(r));
    const doc = r.json();
    assert.match(doc.id, /^[0-9a-f]{32}$/);
    assert.equal(doc.location, sb.repo);
    assert.ok(fs.existsSync(path.join(sb.repo, 'config')));
  });

  it('backup --json reports every file as new, with byte counts', async () => {
    const r = await sb.run(['backup', src, '--json']);
    assert.equal(r.code, 0, show(r));
    const doc = r.json();
    assert.match(doc.snapshot, HEX64);
    first = doc.snapshot;
    assert.deepEqual(doc.paths, [src]);
    assert.equal(doc.parent, null);
    assert.deepEqual(doc.errors, []);
    const total = files.reduce((n, f) => n + fs.statSync(path.join(src, f)).size, 0);
    const s = doc.summary;
    assert.deepEqual(
      [s.filesNew, s.filesChanged, s.filesUnchanged, s.filesFailed, s.totalFiles],
      [files.length, 0, 0, 0, files.length],
    );
    assert.equal(s.bytesRead, total);
    assert.equal(s.totalSize, total);
    // Random data does not compress, but the 8 MiB of zeros and the second hard link cost (almost) nothing.
    assert.ok(
      s.bytesAdded > 3 * 1024 * 1024 && s.bytesAdded < total - SPARSE_SIZE / 2,
      `bytesAdded ${s.bytesAdded} of ${total}`,
    );
    assert.equal(s.dirs, 6); // src, empty-dir, nested, a, b, c
  });

  it('snapshots lists the snapshot (--json and as a table)', async () => {
    const j = await sb.run(['snapshots', '--json']);
    assert.equal(j.code, 0, show(j));
    const list = j.json();
    assert.equal(list.length, 1);
    assert.equal(list[0].id, first);
    assert.deepEqual(list[0].paths, [src]);
    assert.equal(list[0].hostname, os.hostname());
    assert.equal(list[0].summary.totalFiles, files.length);
    const h = await sb.run(['snapshots']);
    assert.equal(h.code, 0, show(h));
    const lines = h.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+Time\s+Host\s+Tags\s+Size\s+Paths$/);
    assert.match(lines[1]!, /^-+( +-+)+$/);
    assert.ok(lines[2]!.startsWith(`${first.slice(0, 8)} `), h.stdout);
    assert.ok(lines[2]!.endsWith(src), h.stdout);
    assert.equal(lines.at(-1), '1 snapshot');
  });

  it('restore latest recreates the tree under the target at its absolute path', async () => {
    const t = target();
    const r = await sb.run(['restore', 'latest', '--target', t, '--json']);
    assert.equal(r.code, 0, show(r));
    const doc = r.json();
    assert.equal(doc.snapshot, first);
    assert.equal(doc.files, files.length);
    assert.equal(doc.symlinks, 2);
    assert.deepEqual(doc.errors, []);
    const restored = underTarget(t, src);
    fullRestore = restored;
    assert.deepEqual(compareTrees(src, restored), []);
    // Nothing but the path to src was created in the target.
    assert.deepEqual(fs.readdirSync(t), [src.split('/')[1]]);

    // Sparse: right size and content, and holes instead of 8 MiB of zeros on disk.
    const sparse = path.join(restored, 'sparse.img');
    const st = fs.statSync(sparse);
    assert.equal(st.size, SPARSE_SIZE);
    const buf = fs.readFileSync(sparse);
    assert.ok(buf.subarray(SPARSE_SIZE - SPARSE_TAIL.length).equals(SPARSE_TAIL));
    assert.ok(buf.subarray(0, SPARSE_SIZE - SPARSE_TAIL.length).every((b) => b === 0));

    // Hard links stay links (owners are compared by compareTrees, and below for another user's file).
    const h1 = fs.statSync(path.join(restored, 'hard1'));
    const h2 = fs.statSync(path.join(restored, 'hard2'));
    assert.equal(h1.ino, h2.ino);
    assert.equal(h1.nlink, 2);
    assert.equal(fs.statSync(path.join(restored, 'exec.sh')).mode & 0o7777, 0o751);
    assert.equal(fs.readlinkSync(path.join(restored, 'link-abs')), path.join(src, 'small.txt'));
  });

  it('a file owned by another user is restored to that owner', (t) => {
    if (skipUnlessRoot(t, 'own a file as another user')) return;
    const owned = fs.statSync(path.join(fullRestore, 'nested', 'a', 'sibling.txt'));
    assert.deepEqual([owned.uid, owned.gid], [OTHER_OWNER, OTHER_OWNER]);
  });

  // The 8 MiB file is one chunk (zeros never make the chunker cut) that also holds the tail, so the
  // restorer must find the zero runs inside a blob, not only skip blobs that are all zeros.
  it('restore leaves the zeros of a sparse file as holes', () => {
    const st = fs.statSync(path.join(fullRestore, 'sparse.img'));
    assert.equal(st.size, SPARSE_SIZE);
    assert.ok(st.blocks * 512 < st.size, `sparse file uses ${st.blocks * 512} bytes on disk for ${st.size}`);
  });

  it('restore --include restores only a subdirectory, or only one file', async () => {
    const t1 = target();
    const r1 = await sb.run(['restore', first, '--target', t1, '--include', `${src}/nested`]);
    assert.equal(r1.code, 0, show(r1));
    assert.match(r1.stdout, /restored snapshot [0-9a-f]{8} to /);
    const base1 = underTarget(t1, src);
    assert.deepEqual(fs.readdirSync(base1), ['nested']);
    assert.deepEqual(compareTrees(path.join(src, 'nested'), path.join(base1, 'nested')), []);

    const t2 = target();
    const one = `${src}/nested/a/sibling.txt`;
    const r2 = await sb.run(['restore', first, '--target', t2, '--include', one, '--json']);
    assert.equal(r2.code, 0, show(r2));
    assert.equal(r2.json().files, 1);
    // Only the file and the directories leading to it.
    const parts = one.split('/').filter(Boolean);
    const expected = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    assert.deepEqual(listTree(t2), expected);
    assert.deepEqual(compareTrees(one, underTarget(t2, one)), []);
  });

  it('ls SNAPSHOT --json lists every entry; ls SNAPSHOT PATH lists one subtree', async () => {
    const prefix = first.slice(0, 8);
    const r = await sb.run(['ls', prefix, '--json']);
    assert.equal(r.code, 0, show(r));
    const entries: { path: string; type: string; size: number; mode: number; uid: number; linkTarget?: string }[] =
      r.json();
    const below = entries.filter((e) => e.path.startsWith(`${src}/`)).map((e) => e.path.slice(src.length + 1));
    assert.deepEqual(below, listTree(src));
    const by = new Map(entries.map((e) => [e.path.slice(src.length + 1), e]));
    assert.equal(by.get('link-rel')!.type, 'symlink');
    assert.equal(by.get('link-rel')!.linkTarget, 'nested/a/sibling.txt');
    assert.equal(by.get('sparse.img')!.size, SPARSE_SIZE);
    assert.equal(by.get('exec.sh')!.mode, 0o751);
    assert.equal(by.get('nested/a/sibling.txt')!.uid, fs.statSync(path.join(src, 'nested', 'a', 'sibling.txt')).uid);
    assert.equal(by.get('empty-dir')!.type, 'dir');

    const sub = await sb.run(['ls', prefix, `${src}/nested/a`]);
    assert.equal(sub.code, 0, show(sub));
    assert.deepEqual(
      sub.stdout.trimEnd().split('\n'),
      ['', '/b', '/b/c', '/b/c/deep.txt', '/sibling.txt'].map((s) => `${src}/nested/a${s}`),
    );
  });

  it('a second backup after changing, adding and deleting a file: summary and diff show exactly those', async () => {
    fs.writeFileSync(path.join(src, 'small.txt'), 'hello again, safehold: changed\n');
    fs.writeFileSync(path.join(src, 'added.txt'), 'a new file\n');
    fs.rmSync(path.join(src, 'medium.bin'));
    const r = await sb.run(['backup', src, '--tag', 'weekly', '--tag', 'second', '--json']);
    assert.equal(r.code, 0, show(r));
    const doc = r.json();
    second = doc.snapshot;
    assert.equal(doc.parent, first);
    assert.deepEqual(doc.tags, ['weekly', 'second']);
    const s = doc.summary;
    assert.deepEqual(
      { new: s.filesNew, changed: s.filesChanged, unchanged: s.filesUnchanged },
      { new: 1, changed: 1, unchanged: files.length - 2 },
    );
    assert.equal(
      s.bytesRead,
      fs.statSync(path.join(src, 'small.txt')).size + fs.statSync(path.join(src, 'added.txt')).size,
    );

    const d = await sb.run(['diff', first, second, '--json']);
    assert.equal(d.code, 0, show(d));
    const dd = d.json();
    assert.equal(dd.from, first);
    assert.equal(dd.to, second);
    // Directories whose mtime changed are not content changes.
    const changes = dd.entries
      .filter((e: { type: string; change: string }) => !(e.type === 'dir' && e.change === 'U'))
      .map((e: { path: string; change: string }) => [e.change, e.path]);
    assert.deepEqual(changes, [
      ['+', `${src}/added.txt`],
      ['-', `${src}/medium.bin`],
      ['M', `${src}/small.txt`],
    ]);
    assert.equal(dd.added, 1);
    assert.equal(dd.removed, 1);
    assert.equal(dd.removedBytes, 100 * 1024);

    const snaps = (await sb.run(['snapshots', '--json'])).json();
    assert.deepEqual(
      snaps.map((x: { id: string; tags: string[] }) => [x.id, x.tags]),
      [
        [first, []],
        [second, ['weekly', 'second']],
      ],
    );
    const table = await sb.run(['snapshots']);
    assert.match(table.stdout, new RegExp(`^${second.slice(0, 8)} .* weekly,second `, 'm'));
  });

  it('backup --stdin --stdin-filename stores piped data that restores byte-identical', async () => {
    const dump = Buffer.concat([
      Buffer.from('-- SQL dump\nCREATE TABLE t (x int);\n'),
      crypto.randomBytes(1024 * 1024 + 17),
    ]);
    const r = await sb.run(['backup', '--stdin', '--stdin-filename', 'dump.sql', '--tag', 'db', '--json'], {
      stdin: dump,
    });
    assert.equal(r.code, 0, show(r));
    const doc = r.json();
    assert.deepEqual(doc.paths, ['/dump.sql']);
    assert.equal(doc.summary.bytesRead, dump.length);
    const t = target();
    const rr = await sb.run(['restore', doc.snapshot.slice(0, 10), '--target', t]);
    assert.equal(rr.code, 0, show(rr));
    assert.deepEqual(fs.readdirSync(t), ['dump.sql']);
    assert.ok(fs.readFileSync(path.join(t, 'dump.sql')).equals(dump));
  });

  it('--exclude skips names matching a glob and absolute paths matching a glob', async () => {
    const r = await sb.run(['backup', src, '--exclude', '*.bin', '--exclude', `${src}/nested/*/b`, '--json']);
    assert.equal(r.code, 0, show(r));
    const id = r.json().snapshot;
    const ls = await sb.run(['ls', id, src, '--json']);
    assert.equal(ls.code, 0, show(ls));
    const got = ls.json().map((e: { path: string }) => e.path.slice(src.length));
    const want = ['', ...listTree(src).map((p) => `/${p}`)].filter(
      (p) => !p.endsWith('.bin') && !p.startsWith('/nested/a/b'),
    );
    assert.deepEqual(got, want);
    assert.ok(got.includes('/nested/a/sibling.txt'));
    assert.ok(!got.includes('/big.bin'));
  });

  it('check and check --read-data find no problems', async () => {
    const c = await sb.run(['check']);
    assert.equal(c.code, 0, show(c));
    assert.match(c.stdout, /no errors were found/);
    const d = await sb.run(['check', '--read-data', '--json']);
    assert.equal(d.code, 0, show(d));
    const doc = d.json();
    assert.equal(doc.ok, true);
    assert.deepEqual(doc.errors, []);
    assert.equal(doc.stats.snapshots, 4);
    assert.ok(doc.stats.bytesRead > 3 * 1024 * 1024);
  });

  it('unlock --json removes a stale lock', async () => {
    const repo = await Repository.open(new LocalBackend(sb.repo), sb.password);
    const old = Date.now() - 2 * 60 * 60 * 1000;
    await repo.saveFile('locks', {
      time: new Date(old).toISOString(),
      heartbeat: old,
      exclusive: true,
      hostname: 'elsewhere',
      pid: 1,
      username: 'x',
    });
    assert.equal(fs.readdirSync(path.join(sb.repo, 'locks')).length, 1);
    const r = await sb.run(['unlock', '--json']);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(r.json(), { removed: 1 });
    assert.equal(fs.readdirSync(path.join(sb.repo, 'locks')).length, 0);
    const again = await sb.run(['unlock', '--json']);
    assert.deepEqual(again.json(), { removed: 0 });
  });

  it('key passwd: the old password stops working, the new one opens the same data', async () => {
    const newPw = `new-${crypto.randomBytes(6).toString('hex')}`;
    const k = await sb.run(['key', 'passwd', '--json'], { env: { SAFEHOLD_NEW_PASSWORD: newPw } });
    assert.equal(k.code, 0, show(k));
    assert.match(k.json().key, /^[0-9a-f]{64}$/);
    const old = await sb.run(['snapshots', '--json']);
    assert.equal(old.code, 12, show(old));
    assert.equal(old.json().error.code, 'WRONG_PASSWORD');
    const env = { SAFEHOLD_PASSWORD: newPw };
    const snaps = await sb.run(['snapshots', '--json'], { env });
    assert.equal(snaps.code, 0, show(snaps));
    assert.equal(snaps.json().length, 4);
    const t = target();
    const r = await sb.run(['restore', second, '--target', t], { env });
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(compareTrees(src, underTarget(t, src)), []);
    sb.password = newPw;
    sb.env.SAFEHOLD_PASSWORD = newPw;
  });

  it('runs --json lists the runs with their status, snapshot id and stats', async () => {
    // One failing run too: an --include that is not in the snapshot.
    const bad = await sb.run(['restore', first, '--target', target(), '--include', '/not/there']);
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.stderr, /not in the snapshot: \/not\/there/);
    const r = await sb.run(['runs', '--json']);
    assert.equal(r.code, 0, show(r));
    const runs: {
      command: string;
      status: string;
      snapshotId?: string;
      errorCode?: string;
      stats: Record<string, number>;
    }[] = r.json();
    // Newest first.
    assert.deepEqual(runs[0]!.command, 'restore');
    assert.deepEqual([runs[0]!.status, runs[0]!.errorCode], ['failed', 'NOT_FOUND']);
    const oldestFirst = [...runs].reverse();
    // (Commands that are not recorded today, like snapshots and ls, may be one day: look only at these.)
    const recorded = ['init', 'backup', 'restore', 'check', 'key passwd'];
    assert.deepEqual(
      oldestFirst.map((x) => x.command).filter((c) => recorded.includes(c)),
      [
        'init',
        'backup',
        'restore',
        'restore',
        'restore',
        'backup',
        'backup',
        'restore',
        'backup',
        'check',
        'check',
        'key passwd',
        'restore',
        'restore',
      ],
    );
    assert.ok(
      oldestFirst.slice(0, -1).every((x) => x.status === 'succeeded'),
      JSON.stringify(runs.map((x) => x.status)),
    );
    const b1 = runs.find((x) => x.snapshotId === first)!;
    assert.equal(b1.command, 'backup');
    assert.equal(b1.stats.filesNew, files.length);
    assert.equal(b1.stats.filesUnchanged, 0);
    const b2 = runs.find((x) => x.snapshotId === second)!;
    assert.deepEqual([b2.stats.filesNew, b2.stats.filesChanged, b2.stats.filesUnchanged], [1, 1, files.length - 2]);
    assert.ok(b1.stats.bytesAdded! > 0);
  });
});
