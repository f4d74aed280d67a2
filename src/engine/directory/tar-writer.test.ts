// Tests for the tar.zst writer of directory destinations (SPEC S2): round trips
// through our extractTar and through real GNU tar (`tar --zstd`), covering long
// and UTF-8 names, symlinks, hard links, empty files and directories, modes,
// nanosecond mtimes and large ids; files that vanish, shrink or grow while
// being archived; excludes; flat memory on a 1 GiB file; a corrupt archive;
// and writing through writeGeneration.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { isSafeholdError } from '../../core/errors.ts';
import { writeGeneration } from './generations.ts';
import { extractTar, listTar } from './tar-reader.ts';
import { tarStream } from './tar-writer.ts';
import type { TarProgress, TarStreamOptions } from './tar-options.ts';

const isRoot = process.getuid?.() === 0;
const LONG_NAME = `${'long-name-'.repeat(20)}end.txt`; // 207 bytes: no ustar split possible
const LONG_DIR = 'd'.repeat(120);
const UTF8_NAME = 'Ünïcødé — 日本語 ✓.txt';
const LONG_TARGET = `../${'t'.repeat(150)}/target`;
const SEC_NS = 1_000_000_000n;

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-tar-'));
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function gnuTar(args: string[]): string {
  return execFileSync('tar', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The member name of an absolute path: GNU tar's, without the leading '/'. */
const member = (abs: string): string => abs.slice(1);

/** Writes tarStream(paths) to `file`; resolves to the reported errors. */
async function writeArchive(
  paths: string[],
  file: string,
  opts: TarStreamOptions = {},
): Promise<{ path: string; err: Error }[]> {
  const errors: { path: string; err: Error }[] = [];
  await pipeline(
    tarStream(paths, { onError: (p, err) => errors.push({ path: p, err }), ...opts }),
    fs.createWriteStream(file),
  );
  return errors;
}

interface Meta {
  type: string;
  mode: number;
  size: number;
  mtimeNs: bigint;
  uid: number;
  gid: number;
  sha?: string;
  link?: string;
  ino: bigint;
}

/** relative path → metadata of everything under dir (dir itself as ''). */
function snapshot(dir: string): Map<string, Meta> {
  const out = new Map<string, Meta>();
  const visit = (rel: string): void => {
    const abs = rel ? path.join(dir, rel) : dir;
    const st = fs.lstatSync(abs, { bigint: true });
    const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
    const m: Meta = {
      type,
      mode: Number(st.mode & 0o7777n),
      size: type === 'file' ? Number(st.size) : 0,
      mtimeNs: st.mtimeNs,
      uid: Number(st.uid),
      gid: Number(st.gid),
      ino: st.ino,
    };
    if (type === 'file') m.sha = sha(fs.readFileSync(abs));
    if (type === 'symlink') m.link = fs.readlinkSync(abs);
    out.set(rel, m);
    if (type === 'dir') for (const name of fs.readdirSync(abs).sort()) visit(rel ? `${rel}/${name}` : name);
  };
  visit('');
  return out;
}

/** Groups of paths sharing an inode (hard links), as sorted lists. */
function linkGroups(s: Map<string, Meta>): string[][] {
  const by = new Map<bigint, string[]>();
  for (const [rel, m] of s) if (m.type === 'file') by.set(m.ino, [...(by.get(m.ino) ?? []), rel]);
  return [...by.values()]
    .filter((g) => g.length > 1)
    .map((g) => g.sort())
    .sort();
}

/** Asserts same entries, types, modes, sizes, contents, link targets, owners, hard links; mtimes within `tolNs`. */
function assertSameTree(src: Map<string, Meta>, dst: Map<string, Meta>, tolNs: bigint): void {
  assert.deepEqual([...dst.keys()].sort(), [...src.keys()].sort());
  for (const [rel, a] of src) {
    const b = dst.get(rel)!;
    const strip = ({ ino: _i, mtimeNs: _m, ...rest }: Meta) => rest;
    assert.deepEqual(strip(b), strip(a), rel);
    const d = b.mtimeNs - a.mtimeNs;
    assert.ok(d <= tolNs && d >= -tolNs, `${rel}: mtime ${b.mtimeNs} vs ${a.mtimeNs}`);
  }
  assert.deepEqual(linkGroups(dst), linkGroups(src));
}

/** A source tree with every kind of member the writer handles. */
function buildFixture(root: string): string {
  const src = path.join(root, 'src');
  fs.mkdirSync(path.join(src, 'sub', 'emptydir'), { recursive: true });
  fs.mkdirSync(path.join(src, LONG_DIR, LONG_DIR), { recursive: true });
  fs.mkdirSync(path.join(src, 'répertoire'));
  fs.mkdirSync(path.join(src, 'private'), { mode: 0o700 });
  fs.writeFileSync(path.join(src, 'small.txt'), 'hello\n');
  fs.writeFileSync(path.join(src, 'empty'), '');
  fs.writeFileSync(path.join(src, 'big.bin'), randomBytes(3 * 1024 * 1024 + 123));
  fs.writeFileSync(path.join(src, 'run.sh'), '#!/bin/sh\n', { mode: 0o750 });
  fs.chmodSync(path.join(src, 'run.sh'), 0o4750);
  fs.writeFileSync(path.join(src, LONG_NAME), 'long');
  fs.writeFileSync(path.join(src, LONG_DIR, LONG_DIR, LONG_NAME), 'deep'); // path > 255 bytes
  fs.writeFileSync(path.join(src, 'répertoire', UTF8_NAME), 'utf-8 ✓');
  fs.writeFileSync(path.join(src, 'private', 'secret'), 'x', { mode: 0o600 });
  fs.writeFileSync(path.join(src, 'hard1'), 'shared content');
  fs.linkSync(path.join(src, 'hard1'), path.join(src, 'sub', 'hard2'));
  fs.linkSync(path.join(src, 'hard1'), path.join(src, 'sub', 'hard3'));
  fs.symlinkSync('small.txt', path.join(src, 'rel-link'));
  fs.symlinkSync('/nonexistent/absolute', path.join(src, 'abs-link'));
  fs.symlinkSync(LONG_TARGET, path.join(src, 'long-link'));
  if (isRoot) {
    fs.writeFileSync(path.join(src, 'owned'), 'ids beyond ustar fields');
    fs.chownSync(path.join(src, 'owned'), 3_000_000, 4_000_000);
  }
  // Explicit times last (creating children changes a directory's mtime).
  fs.utimesSync(path.join(src, 'small.txt'), 1_600_000_000.5, 1_600_000_000.123456);
  fs.utimesSync(path.join(src, 'empty'), 900_000_000, 900_000_000); // 1998, whole seconds
  fs.lutimesSync(path.join(src, 'rel-link'), 1_500_000_000, 1_500_000_000.25);
  fs.utimesSync(path.join(src, 'sub', 'emptydir'), 1_400_000_000, 1_400_000_000.75);
  return src;
}

describe('tarStream', () => {
  let root: string;
  let src: string;
  let archive: string;
  let errors: { path: string; err: Error }[];

  before(async () => {
    root = tmpDir();
    src = buildFixture(root);
    archive = path.join(root, 'backup.tar.zst');
    errors = await writeArchive([src], archive);
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('GNU tar supports --zstd here and the zstd binary exists', () => {
    assert.match(gnuTar(['--version']), /GNU tar\) 1\.(3[1-9]|[4-9]\d)/);
    assert.match(execFileSync('zstd', ['--version'], { encoding: 'utf8' }), /Zstandard/);
  });

  it('GNU tar lists the members with hard links, symlinks, long and UTF-8 names', () => {
    assert.deepEqual(errors, []);
    const m = member(src);
    const names = gnuTar(['--zstd', '-tf', archive]).split('\n').filter(Boolean);
    assert.equal(names[0], `${m}/`);
    assert.equal(names.length, 22 - (isRoot ? 0 : 1));
    for (const n of [
      `${m}/${LONG_NAME}`,
      `${m}/${LONG_DIR}/${LONG_DIR}/${LONG_NAME}`,
      `${m}/répertoire/${UTF8_NAME}`,
      `${m}/sub/emptydir/`,
      `${m}/empty`,
      `${m}/sub/hard3`,
    ]) {
      assert.ok(names.includes(n), `${n} listed`);
    }
    assert.ok(Buffer.byteLength(`${m}/${LONG_DIR}/${LONG_DIR}/${LONG_NAME}`) > 255);
    const verbose = gnuTar(['--zstd', '-tvf', archive]);
    assert.match(verbose, new RegExp(`\\n-rwsr-x--- [^\\n]* 10 [^\\n]* ${m}/run\\.sh\\n`));
    assert.ok(verbose.includes(`${m}/sub/hard2 link to ${m}/hard1\n`));
    assert.ok(verbose.includes(`${m}/sub/hard3 link to ${m}/hard1\n`));
    assert.ok(verbose.includes(`${m}/long-link -> ${LONG_TARGET}\n`));
    assert.match(verbose, new RegExp(` ${3 * 1024 * 1024 + 123} [^\\n]* ${m}/big\\.bin\\n`));
    if (isRoot) assert.match(verbose, new RegExp(` 3000000/4000000 +23 [^\\n]* ${m}/owned\\n`));
  });

  it('GNU tar -xf restores contents, modes, owners, hard links and nanosecond mtimes exactly', () => {
    const out = path.join(root, 'gnu-out');
    fs.mkdirSync(out);
    gnuTar(['--zstd', '-xf', archive, '-C', out]);
    const before = snapshot(src);
    const extracted = snapshot(path.join(out, member(src)));
    assertSameTree(before, extracted, 0n);
    assert.equal(extracted.get('small.txt')!.mtimeNs / 1000n, 1_600_000_000_123_456n);
    assert.equal(extracted.get('sub/emptydir')!.mtimeNs, 1_400_000_000_750_000_000n);
    assert.equal(extracted.get('empty')!.mtimeNs, 900_000_000n * SEC_NS);
    assert.deepEqual(linkGroups(extracted), [['hard1', 'sub/hard2', 'sub/hard3']]);
    execFileSync('diff', ['-r', '--no-dereference', src, path.join(out, member(src))]);
  });

  it('extractTar restores the same tree (mtimes to the microsecond)', async () => {
    const out = path.join(root, 'our-out');
    const r = await extractTar(fs.createReadStream(archive), out);
    const before = snapshot(src);
    const files = [...before.values()].filter((m) => m.type !== 'dir');
    const contents = new Map(files.map((m) => [m.ino, m.size])); // a hard-linked file's content is written once
    assert.deepEqual(r, { files: files.length, bytes: [...contents.values()].reduce((n, s) => n + s, 0) });
    assertSameTree(before, snapshot(path.join(out, member(src))), 2000n);
  });

  it('listTar agrees with GNU tar on names, types and sizes', async () => {
    const entries = await listTar(fs.createReadStream(archive));
    const gnu = gnuTar(['--zstd', '-tf', archive])
      .split('\n')
      .filter(Boolean)
      .map((n) => n.replace(/\/$/, ''));
    assert.deepEqual(
      entries.map((e) => e.path),
      gnu,
    );
    const byPath = new Map(entries.map((e) => [e.path.slice(member(src).length + 1), e]));
    assert.deepEqual(byPath.get('sub/hard2'), {
      ...byPath.get('sub/hard2')!,
      type: 'hardlink',
      linkpath: `${member(src)}/hard1`,
      size: 0,
    });
    assert.equal(byPath.get('hard1')!.type, 'file');
    assert.equal(byPath.get('long-link')!.linkpath, LONG_TARGET);
    assert.equal(byPath.get('big.bin')!.size, 3 * 1024 * 1024 + 123);
    assert.equal(byPath.get('small.txt')!.mtimeNs / 1000n, 1_600_000_000_123_456n);
    if (isRoot) {
      assert.deepEqual([byPath.get('small.txt')!.uname, byPath.get('small.txt')!.gname], ['root', 'root']);
      assert.deepEqual(
        [byPath.get('owned')!.uid, byPath.get('owned')!.gid, byPath.get('owned')!.uname],
        [3_000_000, 4_000_000, ''],
      );
    }
  });
});

describe('tarStream with changing and excluded files', () => {
  it('a file that vanishes before it is read is reported and left out; the archive stays valid', async () => {
    const dir = tmpDir();
    try {
      const src = path.join(dir, 'src');
      fs.mkdirSync(src);
      for (const n of ['a', 'b', 'c']) fs.writeFileSync(path.join(src, n), `content ${n}`);
      const file = path.join(dir, 'x.tar.zst');
      const errors = await writeArchive([src], file, {
        onProgress: (p: TarProgress) => {
          if (p.path === path.join(src, 'a')) fs.rmSync(path.join(src, 'b'), { force: true });
        },
      });
      assert.deepEqual(
        errors.map((e) => [e.path, (e.err as { code?: string }).code]),
        [[path.join(src, 'b'), 'PATH_NOT_FOUND']],
      );
      assert.deepEqual(gnuTar(['--zstd', '-tf', file]).split('\n').filter(Boolean), [
        `${member(src)}/`,
        `${member(src)}/a`,
        `${member(src)}/c`,
      ]);
      const out = path.join(dir, 'out');
      assert.deepEqual(await extractTar(fs.createReadStream(file), out), { files: 2, bytes: 18 });
      assert.equal(fs.readFileSync(path.join(out, member(src), 'c'), 'utf8'), 'content c');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without onError the first unreadable file fails the stream', async () => {
    const dir = tmpDir();
    try {
      for (const n of ['a', 'b']) fs.writeFileSync(path.join(dir, n), n);
      const s = tarStream([dir], {
        onProgress: (p) => {
          if (p.path === path.join(dir, 'a')) fs.rmSync(path.join(dir, 'b'), { force: true });
        },
      });
      await assert.rejects(
        pipeline(s, fs.createWriteStream(path.join(os.tmpdir(), `safehold-null-${process.pid}`))),
        (e) => isSafeholdError(e, 'PATH_NOT_FOUND') && e.message.includes(path.join(dir, 'b')),
      );
    } finally {
      fs.rmSync(path.join(os.tmpdir(), `safehold-null-${process.pid}`), { force: true });
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing top-level path fails with PATH_NOT_FOUND', async () => {
    const drain = async (s: Readable): Promise<void> => {
      for await (const _ of s);
    };
    await assert.rejects(
      drain(tarStream(['/nonexistent/safehold-tar'], { onError: () => {} })),
      (e) => isSafeholdError(e, 'PATH_NOT_FOUND') && e.message.includes('/nonexistent/safehold-tar'),
    );
  });

  for (const change of ['shrinks', 'grows'] as const) {
    it(`a file that ${change} while being read keeps its declared size and is reported`, async () => {
      const dir = tmpDir();
      try {
        const f = path.join(dir, 'f');
        const original = randomBytes(2 * 1024 * 1024);
        fs.writeFileSync(f, original);
        const file = path.join(dir, 'x.tar.zst');
        let changed = false;
        const errors = await writeArchive([f], file, {
          onProgress: (p) => {
            if (p.path !== f || changed || p.bytes === 0) return;
            changed = true;
            if (change === 'shrinks') fs.truncateSync(f, 1000);
            else fs.appendFileSync(f, 'more data');
          },
        });
        assert.ok(changed);
        assert.equal(errors.length, 1);
        assert.equal(errors[0]!.path, f);
        assert.match(
          errors[0]!.err.message,
          change === 'shrinks'
            ? /shrank while being read: archived 524288 of 2097152 bytes/
            : /grew while being read: archived the first 2097152 bytes/,
        );
        const out = path.join(dir, 'out');
        fs.mkdirSync(out);
        gnuTar(['--zstd', '-xf', file, '-C', out]);
        const got = fs.readFileSync(path.join(out, member(f)));
        const expected =
          change === 'shrinks'
            ? Buffer.concat([original.subarray(0, 512 * 1024), Buffer.alloc(original.length - 512 * 1024)])
            : original;
        assert.equal(got.length, original.length);
        assert.ok(got.equals(expected));
        const ours = path.join(dir, 'ours');
        await extractTar(fs.createReadStream(file), ours);
        assert.ok(fs.readFileSync(path.join(ours, member(f))).equals(expected));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('excludes by name at any depth and by absolute path, like the archiver; given paths are never excluded', async () => {
    const dir = tmpDir();
    try {
      const src = path.join(dir, 'src');
      fs.mkdirSync(path.join(src, 'cache', 'deep'), { recursive: true });
      fs.mkdirSync(path.join(src, 'keep', 'node_modules', 'x'), { recursive: true });
      fs.writeFileSync(path.join(src, 'a.log'), '');
      fs.writeFileSync(path.join(src, 'keep', 'b.log'), '');
      fs.writeFileSync(path.join(src, 'keep', 'b.txt'), 'b');
      fs.writeFileSync(path.join(src, 'keep', 'node_modules', 'x', 'y'), '');
      fs.writeFileSync(path.join(src, 'cache', 'deep', 'z'), '');
      const single = path.join(dir, 'single.log');
      fs.writeFileSync(single, 'given by name');
      const file = path.join(dir, 'x.tar.zst');
      const errors = await writeArchive([src, single], file, { excludes: ['*.log', 'node_modules', `${src}/cache`] });
      assert.deepEqual(errors, []);
      const m = member(src);
      assert.deepEqual(gnuTar(['--zstd', '-tf', file]).split('\n').filter(Boolean), [
        `${member(single)}`,
        `${m}/`,
        `${m}/keep/`,
        `${m}/keep/b.txt`,
      ]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tarStream streaming', () => {
  it('memory stays flat for a 1 GiB file', async () => {
    const dir = tmpDir();
    try {
      const f = path.join(dir, 'sparse-1g');
      fs.writeFileSync(f, 'head');
      fs.truncateSync(f, 1024 ** 3);
      const rss0 = process.memoryUsage().rss;
      let peak = rss0;
      let compressed = 0;
      let last: TarProgress | undefined;
      const timer = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage.rss());
      }, 10);
      try {
        for await (const c of tarStream([f], {
          onProgress: (p) => {
            last = p;
          },
        })) {
          compressed += (c as Buffer).length;
          peak = Math.max(peak, process.memoryUsage.rss());
        }
      } finally {
        clearInterval(timer);
      }
      assert.equal(last?.bytes, 1024 ** 3);
      assert.equal(last?.files, 1);
      assert.ok(compressed < 1024 * 1024, `compressed ${compressed} bytes`);
      assert.ok(peak - rss0 < 384 * 1024 * 1024, `resident memory grew by ${Math.round((peak - rss0) / 2 ** 20)} MiB`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('streams into writeGeneration: a tar.zst generation under its final name, rotated to .old', async () => {
    const dir = tmpDir();
    try {
      const src = path.join(dir, 'data');
      fs.mkdirSync(src);
      fs.writeFileSync(path.join(src, 'v'), 'first');
      const scheme = { dir: path.join(dir, 'dest'), name: 'files.tar.zst', keep: 2, naming: 'old' as const };
      const g1 = await writeGeneration(scheme, tarStream([src]));
      fs.writeFileSync(path.join(src, 'v'), 'second');
      const g2 = await writeGeneration(scheme, tarStream([src]));
      assert.equal(g2.file, path.join(scheme.dir, 'files.tar.zst'));
      assert.deepEqual(fs.readdirSync(scheme.dir).sort(), ['files.tar.zst', 'files.tar.zst.old']);
      assert.equal(sha(fs.readFileSync(path.join(scheme.dir, 'files.tar.zst.old'))), g1.sha256);
      assert.equal(sha(fs.readFileSync(g2.file)), g2.sha256);
      assert.equal(gnuTar(['--zstd', '-xOf', g2.file, `${member(src)}/v`]), 'second');
      assert.equal(gnuTar(['--zstd', '-xOf', path.join(scheme.dir, 'files.tar.zst.old'), `${member(src)}/v`]), 'first');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a damaged archive', () => {
  for (const damage of ['a flipped byte', 'truncation'] as const) {
    it(`${damage}: extractTar fails with CORRUPT and writes nothing outside the target`, async () => {
      const dir = tmpDir();
      try {
        const src = path.join(dir, 'src');
        fs.mkdirSync(src);
        fs.writeFileSync(path.join(src, 'a'), randomBytes(200_000));
        fs.writeFileSync(path.join(src, 'b'), 'b'.repeat(100_000));
        const file = path.join(dir, 'x.tar.zst');
        await writeArchive([src], file);
        const bytes = fs.readFileSync(file);
        const bad = damage === 'truncation' ? bytes.subarray(0, Math.floor(bytes.length / 2)) : Buffer.from(bytes);
        if (damage === 'a flipped byte') bad[Math.floor(bad.length / 2)]! ^= 0x20;
        fs.writeFileSync(file, bad);
        const box = path.join(dir, 'box');
        fs.mkdirSync(box);
        await assert.rejects(extractTar(fs.createReadStream(file), path.join(box, 'target')), (e) => {
          assert.ok(isSafeholdError(e, 'CORRUPT'), String(e));
          assert.match(e.message, damage === 'truncation' ? /truncated/ : /not a valid zstd stream|checksum/);
          return true;
        });
        assert.deepEqual(fs.readdirSync(box), ['target']);
        assert.throws(() => gnuTar(['--zstd', '-xf', file, '-C', path.join(box, 'target')]));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
