// Tests for the tar.zst reader and the pax header format: hostile archives
// (crafted with encodeHeader) never write outside the target, pax values that
// do not fit ustar fields survive a round trip and are read by GNU tar, GNU
// tar's own long-name format is read, damaged headers fail with CORRUPT.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { zstdCompressSync } from 'node:zlib';
import { isSafeholdError } from '../../core/errors.ts';
import { BLOCK, decodeHeader, encodeHeader, formatPaxTime, parsePaxRecords, parsePaxTime } from './tar-format.ts';
import type { TarEntry } from './tar-format.ts';
import { extractTar, listTar } from './tar-reader.ts';
import { tarStream } from './tar-writer.ts';

const T = 1_700_000_000n * 1_000_000_000n;

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-tarr-'));
}

function entry(p: string, type: TarEntry['type'], extra: Partial<TarEntry> = {}): TarEntry {
  return {
    path: p,
    type,
    size: 0,
    mode: type === 'dir' ? 0o755 : 0o644,
    uid: 0,
    gid: 0,
    uname: 'root',
    gname: 'root',
    mtimeNs: T,
    ...extra,
  };
}

/** A zstd-compressed archive of the given members (content for files), with or without the end blocks. */
function craft(members: { e: TarEntry; content?: string }[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const { e, content } of members) {
    const body = Buffer.from(content ?? '');
    parts.push(encodeHeader({ ...e, size: body.length }), body, Buffer.alloc((BLOCK - (body.length % BLOCK)) % BLOCK));
  }
  if (end) parts.push(Buffer.alloc(2 * BLOCK));
  return zstdCompressSync(Buffer.concat(parts));
}

const from = (b: Buffer): Readable => Readable.from([b]);

/** Every path under dir, relative, sorted. */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

describe('extractTar refuses members that would escape the target', () => {
  const cases: {
    name: string;
    members: { e: TarEntry; content?: string }[];
    pre?: (target: string, outside: string) => void;
  }[] = [
    { name: "a '..' member", members: [{ e: entry('../evil', 'file'), content: 'x' }] },
    { name: "a '..' in the middle", members: [{ e: entry('a/b/../../../evil', 'file'), content: 'x' }] },
    {
      name: 'a file below a symlink from the archive',
      members: [
        { e: entry('link', 'symlink', { linkpath: '@OUTSIDE@' }) },
        { e: entry('link/evil', 'file'), content: 'x' },
      ],
    },
    {
      name: 'a file below a symlink already in the target',
      members: [{ e: entry('esc/evil', 'file'), content: 'x' }],
      pre: (t, o) => fs.symlinkSync(o, path.join(t, 'esc')),
    },
    { name: "a hard link to '..'", members: [{ e: entry('h', 'hardlink', { linkpath: '../outside/victim' }) }] },
    {
      name: 'a hard link through a symlink',
      members: [
        { e: entry('link', 'symlink', { linkpath: '@OUTSIDE@' }) },
        { e: entry('h', 'hardlink', { linkpath: 'link/victim' }) },
      ],
    },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const dir = tmpDir();
      try {
        const outside = path.join(dir, 'outside');
        const target = path.join(dir, 'target');
        fs.mkdirSync(outside);
        fs.mkdirSync(target);
        fs.writeFileSync(path.join(outside, 'victim'), 'untouched');
        c.pre?.(target, outside);
        const members = c.members.map((m) => ({
          ...m,
          e: { ...m.e, linkpath: m.e.linkpath?.replace('@OUTSIDE@', outside) },
        }));
        await assert.rejects(
          extractTar(from(craft(members)), target),
          (e) => isSafeholdError(e, 'UNSAFE_PATH') && /escape|symlink/.test(e.message),
        );
        assert.deepEqual(tree(outside), ['victim']);
        assert.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'untouched');
        assert.deepEqual(fs.readdirSync(dir).sort(), ['outside', 'target']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('absolute names land under the target; a symlink in the way of a file is replaced, not followed', async () => {
    const dir = tmpDir();
    try {
      const outside = path.join(dir, 'outside');
      const target = path.join(dir, 'target');
      fs.mkdirSync(outside);
      fs.mkdirSync(target);
      fs.writeFileSync(path.join(outside, 'victim'), 'untouched');
      fs.symlinkSync(path.join(outside, 'victim'), path.join(target, 'f'));
      const r = await extractTar(
        from(
          craft([
            { e: entry('/abs/file', 'file'), content: 'abs' },
            { e: entry('f', 'file'), content: 'new' },
          ]),
        ),
        target,
      );
      assert.deepEqual(r, { files: 2, bytes: 6 });
      assert.equal(fs.readFileSync(path.join(target, 'abs', 'file'), 'utf8'), 'abs');
      assert.ok(fs.lstatSync(path.join(target, 'f')).isFile());
      assert.equal(fs.readFileSync(path.join(target, 'f'), 'utf8'), 'new');
      assert.equal(fs.readFileSync(path.join(outside, 'victim'), 'utf8'), 'untouched');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('pax headers', () => {
  it('a size of 9 GiB goes into a pax record and a base-256 size field', () => {
    const size = 9 * 1024 ** 3;
    const h = encodeHeader(entry('big', 'file', { size }));
    assert.equal(h.length, 3 * BLOCK);
    assert.equal(decodeHeader(h.subarray(0, BLOCK), 0).typeflag, 'x');
    assert.equal(parsePaxRecords(h.subarray(BLOCK, 2 * BLOCK)).get('size'), String(size));
    const main = decodeHeader(h.subarray(2 * BLOCK), 2 * BLOCK);
    assert.equal(main.size, size);
    assert.equal(h[2 * BLOCK + 124], 0x80);
  });

  it('a plain short entry needs no pax header', () => {
    assert.equal(encodeHeader(entry('etc/hosts', 'file', { size: 10 })).length, BLOCK);
  });

  it('pax times keep nanoseconds and negative values', () => {
    for (const [ns, text] of [
      [0n, '0'],
      [1_500_000_000n, '1.5'],
      [-1_500_000_000n, '-1.5'],
      [T + 123n, '1700000000.000000123'],
    ] as const) {
      assert.equal(formatPaxTime(ns), text);
      assert.equal(parsePaxTime(text), ns);
    }
  });

  it('long link targets, non-ASCII owners, large ids and pre-1970 times round-trip and GNU tar reads them', async () => {
    const dir = tmpDir();
    try {
      const longTarget = `/${'x'.repeat(300)}`;
      const members = [
        { e: entry('dir', 'dir', { mtimeNs: -1_500_000_000n }) },
        {
          e: entry('dir/f', 'file', {
            uid: 3_000_000,
            gid: 5_000_000,
            uname: 'jürgen',
            gname: 'ein-sehr-langer-gruppenname-über-32-bytes',
            mtimeNs: T + 1n,
          }),
          content: 'data',
        },
        { e: entry('dir/l', 'symlink', { linkpath: longTarget }) },
      ];
      const file = path.join(dir, 'x.tar.zst');
      fs.writeFileSync(file, craft(members));
      const listed = await listTar(fs.createReadStream(file));
      assert.deepEqual(listed, [members[0]!.e, { ...members[1]!.e, size: 4 }, members[2]!.e]);
      const verbose = execFileSync('tar', ['--zstd', '-tvf', file], { encoding: 'utf8' });
      assert.match(verbose, /^-rw-r--r-- jürgen\/ein-sehr-langer-gruppenname-über-32-bytes 4 /m);
      assert.ok(verbose.includes(`dir/l -> ${longTarget}\n`));
      const out = path.join(dir, 'out');
      fs.mkdirSync(out);
      execFileSync('tar', ['--zstd', '-xf', file, '-C', out, '--numeric-owner'], { stdio: ['ignore', 'pipe', 'pipe'] }); // it warns about the 1969 mtime
      const st = fs.lstatSync(path.join(out, 'dir', 'f'), { bigint: true });
      assert.equal(st.mtimeNs, T + 1n);
      if (process.getuid?.() === 0) assert.deepEqual([st.uid, st.gid], [3_000_000n, 5_000_000n]);
      assert.equal(fs.lstatSync(path.join(out, 'dir'), { bigint: true }).mtimeNs, -1_500_000_000n);
      assert.equal(fs.readlinkSync(path.join(out, 'dir', 'l')), longTarget);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('extractTar reads other archives', () => {
  it("GNU tar's own format (long names and link targets as 'L'/'K' headers)", async () => {
    const dir = tmpDir();
    try {
      const src = path.join(dir, 'src');
      const long = 'n'.repeat(200);
      fs.mkdirSync(path.join(src, long), { recursive: true });
      fs.writeFileSync(path.join(src, long, long), 'deep');
      fs.symlinkSync(`${long}/${long}`, path.join(src, 'l'));
      fs.linkSync(path.join(src, long, long), path.join(src, `${long}.hard`));
      const file = path.join(dir, 'gnu.tar.zst');
      execFileSync('tar', ['--format=gnu', '--zstd', '-cf', file, '-C', dir, 'src']);
      assert.match(execFileSync('zstd', ['-dc', file]).toString('latin1'), /\.\/\.\/@LongLink/);
      const out = path.join(dir, 'out');
      const r = await extractTar(fs.createReadStream(file), out);
      assert.deepEqual(r, { files: 3, bytes: 4 });
      execFileSync('diff', ['-r', '--no-dereference', src, path.join(out, 'src')]);
      assert.equal(
        fs.statSync(path.join(out, 'src', `${long}.hard`)).ino,
        fs.statSync(path.join(out, 'src', long, long)).ino,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fifos round-trip; devices and unknown member types are skipped with a warning', async () => {
    const dir = tmpDir();
    try {
      const src = path.join(dir, 'src');
      fs.mkdirSync(src);
      execFileSync('mkfifo', ['-m', '640', path.join(src, 'pipe')]);
      const file = path.join(dir, 'x.tar.zst');
      await pipeline(tarStream([src]), fs.createWriteStream(file));
      const out = path.join(dir, 'out');
      await extractTar(fs.createReadStream(file), out);
      const st = fs.lstatSync(path.join(out, src.slice(1), 'pipe'));
      assert.ok(st.isFIFO());
      assert.equal(st.mode & 0o777, 0o640);
      const devUnknown = Buffer.concat([
        encodeHeader(entry('null', 'chardev', { devmajor: 1, devminor: 3 })),
        encodeHeader(entry('weird', 'file')),
      ]);
      devUnknown[BLOCK + 156] = 'Z'.charCodeAt(0); // an unknown type flag: fix the checksum
      devUnknown.fill(0x20, BLOCK + 148, BLOCK + 156);
      let sum = 0;
      for (let i = BLOCK; i < 2 * BLOCK; i++) sum += devUnknown[i]!;
      devUnknown.write(`${sum.toString(8).padStart(6, '0')}\0 `, BLOCK + 148, 8, 'ascii');
      const warnings: string[] = [];
      const r = await extractTar(
        from(zstdCompressSync(Buffer.concat([devUnknown, Buffer.alloc(2 * BLOCK)]))),
        path.join(dir, 'out2'),
        { onWarning: (p, m) => warnings.push(`${p}: ${m}`) },
      );
      assert.deepEqual(r, { files: 0, bytes: 0 });
      assert.deepEqual(warnings, [
        'null: chardev members are not extracted',
        'weird: member of an unknown type left out',
      ]);
      assert.deepEqual(fs.readdirSync(path.join(dir, 'out2')), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('extractTar on damaged tar data inside a valid zstd stream', () => {
  it('a header with a wrong checksum fails with CORRUPT', async () => {
    const raw = Buffer.concat([encodeHeader(entry('a', 'file', { size: 0 })), Buffer.alloc(2 * BLOCK)]);
    raw[0] = 'b'.charCodeAt(0);
    const dir = tmpDir();
    try {
      await assert.rejects(
        extractTar(from(zstdCompressSync(raw)), dir),
        (e) => isSafeholdError(e, 'CORRUPT') && /checksum mismatch at byte 0/.test(e.message),
      );
      assert.deepEqual(fs.readdirSync(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an archive without its end blocks fails with CORRUPT after extracting what it holds', async () => {
    const dir = tmpDir();
    try {
      await assert.rejects(
        extractTar(from(craft([{ e: entry('a', 'file'), content: 'x' }], false)), dir),
        (e) => isSafeholdError(e, 'CORRUPT') && /end-of-archive/.test(e.message),
      );
      assert.deepEqual(fs.readdirSync(dir), ['a']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
