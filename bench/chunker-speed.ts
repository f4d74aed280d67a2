// Measures chunker throughput on random data with the default parameters
// (min 512 KiB / avg 1 MiB / max 8 MiB): whole-buffer chunkBuffer() and the
// streaming Chunker fed 1 MiB pushes. Usage: node bench/chunker-speed.ts [MiB]

import { randomBytes, randomFillSync } from 'node:crypto';
import { Chunker, DEFAULT_CHUNKER_PARAMS, chunkBuffer, gearTable } from '../src/repo/chunker.ts';

const mib = Number(process.argv[2] ?? 256);
const size = mib * 1024 * 1024;
const data = new Uint8Array(size);
for (let off = 0; off < size; off += 1 << 30) randomFillSync(data, off, Math.min(1 << 30, size - off));
const gear = gearTable(randomBytes(32));
const params = DEFAULT_CHUNKER_PARAMS;

function rate(bytes: number, ms: number): string {
  return `${(bytes / 1e6 / (ms / 1e3)).toFixed(0)} MB/s`;
}

function timeBuffer(): { ms: number; chunks: number } {
  const t0 = performance.now();
  const chunks = chunkBuffer(data, params, gear);
  return { ms: performance.now() - t0, chunks: chunks.length };
}

function timeStream(pushSize: number): { ms: number; chunks: number } {
  const t0 = performance.now();
  const c = new Chunker(params, gear);
  let n = 0;
  for (let off = 0; off < size; off += pushSize) n += c.push(data.subarray(off, off + pushSize)).length;
  if (c.finish()) n++;
  return { ms: performance.now() - t0, chunks: n };
}

// Warm-up (lets V8 optimise the loop), then best of 3.
timeBuffer();
timeStream(1 << 20);
let best = timeBuffer();
for (let r = 0; r < 2; r++) {
  const t = timeBuffer();
  if (t.ms < best.ms) best = t;
}
console.log(
  `chunkBuffer: ${mib} MiB in ${best.ms.toFixed(0)} ms = ${rate(size, best.ms)}, ` +
    `${best.chunks} chunks, mean ${(size / best.chunks / 1024).toFixed(0)} KiB`,
);
let bestS = timeStream(1 << 20);
for (let r = 0; r < 2; r++) {
  const t = timeStream(1 << 20);
  if (t.ms < bestS.ms) bestS = t;
}
console.log(
  `Chunker (1 MiB pushes, chunks copied once): ${mib} MiB in ${bestS.ms.toFixed(0)} ms = ${rate(size, bestS.ms)}, ` +
    `${bestS.chunks} chunks`,
);
