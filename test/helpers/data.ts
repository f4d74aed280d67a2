// Data for the robustness tests: deterministic pseudo-random datasets of many
// files (mostly incompressible), in-place modifications, byte-for-byte tree
// comparison, and byte-level damage to files (flip, truncate).

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** A seeded PRNG (mulberry32): reproducible choices from a printed seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `len` incompressible bytes determined by `seed` (AES-256-CTR keystream). */
export function randomBytes(seed: string, len: number): Buffer {
  const key = crypto.createHash('sha256').update(seed).digest();
  const c = crypto.createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(len)), c.final()]);
}

/** `len` compressible bytes (text lines). */
export function textBytes(seed: string, len: number): Buffer {
  const line = `${seed}: the quick brown fox jumps over the lazy dog\n`;
  return Buffer.from(line.repeat(Math.ceil(len / line.length)).slice(0, len));
}

export interface DatasetSpec {
  small: number;
  smallMax: number;
  medium: number;
  mediumMin: number;
  mediumMax: number;
  /** Sizes of extra large files (each one file). */
  large: number[];
  /** Share of small files with compressible content (0..1). */
  textShare: number;
  seed: number;
}

/** Writes the dataset under `root` (created) spread over nested directories; returns relative file paths. */
export function makeDataset(root: string, spec: DatasetSpec): string[] {
  const rnd = prng(spec.seed);
  const files: string[] = [];
  const write = (rel: string, data: Buffer) => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, data);
    files.push(rel);
  };
  for (let i = 0; i < spec.small; i++) {
    const rel = `d${i % 7}/s${Math.floor(i / 7) % 13}/small-${i}.${rnd() < spec.textShare ? 'txt' : 'bin'}`;
    const len = Math.floor(rnd() * spec.smallMax);
    write(rel, rel.endsWith('.txt') ? textBytes(`${spec.seed}/${rel}`, len) : randomBytes(`${spec.seed}/${rel}`, len));
  }
  for (let i = 0; i < spec.medium; i++) {
    const len = spec.mediumMin + Math.floor(rnd() * (spec.mediumMax - spec.mediumMin));
    write(`medium/m-${i}.bin`, randomBytes(`${spec.seed}/medium/${i}`, len));
  }
  spec.large.forEach((len, i) => write(`large-${i}.bin`, randomBytes(`${spec.seed}/large/${i}`, len)));
  fs.writeFileSync(path.join(root, 'empty'), '');
  files.push('empty');
  return files.sort();
}

/** Every regular file below `root`, as sorted relative paths. */
export function listFiles(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter((e) => e.isFile())
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)))
    .sort();
}

/**
 * Compares the regular files under `a` and `b` by name and content (every
 * byte); returns the differences, one line each ([] when identical).
 */
export function compareFiles(a: string, b: string): string[] {
  const fa = listFiles(a);
  const fb = listFiles(b);
  const sb = new Set(fb);
  const sa = new Set(fa);
  const diffs: string[] = [];
  for (const f of fa) if (!sb.has(f)) diffs.push(`${f}: missing in ${b}`);
  for (const f of fb) if (!sa.has(f)) diffs.push(`${f}: only in ${b}`);
  for (const f of fa) {
    if (!sb.has(f)) continue;
    const x = fs.readFileSync(path.join(a, f));
    const y = fs.readFileSync(path.join(b, f));
    if (!x.equals(y)) diffs.push(`${f}: content differs (${x.length} vs ${y.length} bytes)`);
  }
  return diffs;
}

/** XORs the byte at `offset` of the file with `mask` (non-zero), in place. */
export function flipByte(file: string, offset: number, mask = 0x01): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const b = Buffer.alloc(1);
    if (fs.readSync(fd, b, 0, 1, offset) !== 1) throw new Error(`${file}: no byte at offset ${offset}`);
    b[0]! ^= mask;
    fs.writeSync(fd, b, 0, 1, offset);
  } finally {
    fs.closeSync(fd);
  }
}
