// Finds the zero and non-zero parts of a buffer in whole blocks, so restores
// can leave runs of zeros as holes (sparse files) and write only the rest.

/** Granularity of holes: a block is skipped only when all of it is zero. */
export const HOLE_BLOCK = 64 * 1024;
const ZEROS = Buffer.alloc(HOLE_BLOCK);

function blockIsZero(b: Buffer, from: number, to: number): boolean {
  // Cheap rejection first: most data has a non-zero byte early on.
  for (let i = from; i < to; i += 512) if (b[i] !== 0) return false;
  return b.subarray(from, to).equals(ZEROS.subarray(0, to - from));
}

/**
 * The runs of `b` to write, as [from, to) pairs: everything but whole
 * HOLE_BLOCK-sized blocks of zeros. A buffer shorter than a block is one run.
 */
export function dataRuns(b: Buffer): [number, number][] {
  if (b.length < HOLE_BLOCK) return b.length === 0 ? [] : [[0, b.length]];
  const runs: [number, number][] = [];
  let start = -1;
  for (let o = 0; o < b.length; o += HOLE_BLOCK) {
    const end = Math.min(o + HOLE_BLOCK, b.length);
    const isData = end - o < HOLE_BLOCK || !blockIsZero(b, o, end);
    if (isData) {
      if (start < 0) start = o;
    } else if (start >= 0) {
      runs.push([start, o]);
      start = -1;
    }
  }
  if (start >= 0) runs.push([start, b.length]);
  return runs;
}
