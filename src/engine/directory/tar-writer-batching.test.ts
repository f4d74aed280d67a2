// Tests for how the tar writer batches its work (tar-walker.ts, tar-batch.ts, tar-pump.ts):
// small files read synchronously into shared output buffers and large files
// streamed must still come out in sorted order with exact contents across
// buffer boundaries; problems and progress are reported in archive order; and
// a walk through a huge directory does not hold the event loop.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { extractTar, listTar } from './tar-reader.ts';
import { tarStream } from './tar-writer.ts';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-tarb-'));
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Deterministic, poorly compressible content of `n` bytes. */
function content(seed: number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

// Sizes around every boundary the writer has: empty, block multiples, the
// small-file limit (256 KiB), the read chunk (512 KiB), the batch (1 MiB).
const SIZES = [
  0,
  1,
  511,
  512,
  513,
  100_000,
  256 * 1024 - 600,
  256 * 1024,
  256 * 1024 + 1,
  512 * 1024,
  1024 * 1024 - 100,
  1024 * 1024 + 7,
  2_500_000,
  3,
  700_000,
  10,
];

describe('tarStream batching', () => {
  it('files of very different sizes come out in sorted order with exact contents; a vanished file is reported between its neighbours', async () => {
    const dir = tmpDir();
    try {
      const src = path.join(dir, 'src');
      fs.mkdirSync(src);
      const names: string[] = [];
      for (let round = 0; round < 3; round++) {
        SIZES.forEach((size, i) => {
          const name = `f${String(round * SIZES.length + i).padStart(3, '0')}`;
          fs.writeFileSync(path.join(src, name), content(round * 100 + i, size));
          names.push(name);
        });
      }
      const victims = new Set(['f005', 'f009', 'f024']); // after a small file, after a large one, after a mid-size one
      const before = new Map(names.map((n) => [n, sha(fs.readFileSync(path.join(src, n)))]));
      const events: string[] = [];
      const file = path.join(dir, 'x.tar.zst');
      await pipeline(
        tarStream([src], {
          onError: (p, err) => events.push(`error ${path.basename(p)} ${(err as { code?: string }).code}`),
          onProgress: (p) => {
            const name = path.basename(p.path);
            if (events.at(-1) !== `entry ${name}`) events.push(`entry ${name}`);
            const next = `f${String(Number(name.slice(1)) + 1).padStart(3, '0')}`;
            if (victims.has(next)) fs.rmSync(path.join(src, next), { force: true });
          },
        }),
        fs.createWriteStream(file),
      );
      const expected = [
        `entry ${path.basename(src)}`,
        ...names.map((n) => (victims.has(n) ? `error ${n} PATH_NOT_FOUND` : `entry ${n}`)),
      ];
      assert.deepEqual(events, expected);
      const kept = names.filter((n) => !victims.has(n));
      const entries = await listTar(fs.createReadStream(file));
      assert.deepEqual(
        entries.map((e) => e.path),
        [src.slice(1), ...kept.map((n) => `${src.slice(1)}/${n}`)],
      );
      assert.deepEqual(
        entries.slice(1).map((e) => e.size),
        kept.map((n) => fs.statSync(path.join(src, n)).size),
      );
      const out = path.join(dir, 'out');
      await extractTar(fs.createReadStream(file), out);
      for (const n of kept) assert.equal(sha(fs.readFileSync(path.join(out, src.slice(1), n))), before.get(n), n);
      // GNU tar reads the same archive (block alignment across buffer boundaries).
      const listed = execFileSync('tar', ['--zstd', '-tvf', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
      assert.equal(listed.length, kept.length + 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('destroying the stream stops the walk and closes the file being read', async () => {
    const dir = tmpDir();
    try {
      const src = path.join(dir, 'src');
      fs.mkdirSync(src);
      const big = path.join(src, 'a-big');
      fs.writeFileSync(big, content(7, 24 * 1024 * 1024));
      for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(src, `b${i}`), 'small');
      const openFds = (): string[] =>
        fs.readdirSync('/proc/self/fd').filter((fd) => {
          try {
            return fs.readlinkSync(`/proc/self/fd/${fd}`) === big;
          } catch {
            return false; // closed meanwhile
          }
        });
      let last = '';
      const s = tarStream([src], {
        onProgress: (p) => {
          last = p.path;
        },
      });
      await new Promise<void>((resolve) => s.once('data', () => resolve()));
      assert.equal(last, big); // reading the big file, not done with it
      assert.equal(openFds().length, 1);
      s.destroy();
      for (let i = 0; i < 20 && openFds().length > 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(openFds(), []);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(last, big); // nothing after it was archived
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('walking a huge directory whose entries are all excluded leaves the event loop turns', async () => {
    const dir = tmpDir();
    try {
      const src = path.join(dir, 'many');
      fs.mkdirSync(src);
      fs.writeFileSync(path.join(src, 'kept.txt'), 'kept');
      for (let i = 0; i < 50_000; i++) fs.closeSync(fs.openSync(path.join(src, `f${i}.skip`), 'w'));
      let last = performance.now();
      let worst = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        worst = Math.max(worst, now - last);
        last = now;
      }, 1);
      let files = 0;
      try {
        // Listing and lstat'ing 50,000 entries takes a few hundred milliseconds of
        // synchronous calls that produce no output (so no waits for the compressor).
        for await (const _ of tarStream([src], {
          excludes: ['*.skip'],
          onProgress: (p) => {
            files = p.files;
          },
        }));
      } finally {
        clearInterval(timer);
      }
      assert.equal(files, 1);
      assert.ok(worst < 100, `the event loop was held for ${Math.round(worst)} ms`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
