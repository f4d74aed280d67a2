// A file's content out of the repository, in order, with a few blobs read
// ahead (so pack reads overlap the consumer's writes), and the content's
// length from the index before anything is read.

import type { Repository } from '../../repo/repository.ts';
import { plainLength } from '../../repo/index.ts';

/** Blobs loaded ahead of the one being consumed. */
const AHEAD = 4;

/** The plaintext length of a file's content (CORRUPT when a blob is not in the index). */
export function contentLength(repo: Repository, ids: readonly string[]): number {
  let n = 0;
  for (const id of ids) n += plainLength(repo.lookup('data', id));
  return n;
}

/** Yields the content's blobs in order, up to AHEAD loads in flight; a failed load throws in order. */
export async function* readContent(repo: Repository, ids: readonly string[]): AsyncGenerator<Buffer> {
  const inFlight: Promise<Buffer>[] = [];
  let next = 0;
  const fill = () => {
    while (inFlight.length < AHEAD && next < ids.length) {
      const p = repo.loadBlob('data', ids[next++]!);
      p.catch(() => {}); // observed when its turn comes; not unhandled if the reader stops first
      inFlight.push(p);
    }
  };
  fill();
  while (inFlight.length > 0) {
    const b = await inFlight.shift()!;
    fill();
    yield b;
  }
}
