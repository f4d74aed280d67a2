// The tar writer of directory destinations (SPEC S2): streams the given paths
// as a POSIX pax archive compressed with zstd, for `writeGeneration` to store
// as `<name>.tar.zst`. Plain GNU tar restores it (`tar --zstd -xf`). It walks
// like the archiver (same path resolution, same excludes), reads files only
// as fast as the consumer takes the output, and never lets one bad file break
// the archive: unreadable files are reported and left out, a file that changes
// size while read is padded or cut to its declared size and reported. Format
// details: docs/generations.md.
//
// The pieces: tar-walker.ts walks and yields the uncompressed archive in 1 MiB
// buffers (small files read with short synchronous calls, in archive order);
// tar-pump.ts feeds them to zstd, which compresses on a thread-pool thread
// while the walker keeps reading up to AHEAD bytes in front of it; tar-batch.ts
// reuses the buffers zstd is done with. bench/tar-speed.ts measures it.

import type { Readable } from 'node:stream';
import { constants as zc, createZstdCompress } from 'node:zlib';
import { SafeholdError } from '../../core/errors.ts';
import { BufferPool } from './tar-batch.ts';
import { pump } from './tar-pump.ts';
import { TarWalker } from './tar-walker.ts';
import type { TarStreamOptions } from './tar-options.ts';

/** Output buffer size of the zstd stream (its default, 16 KiB, costs a thread-pool trip per 16 KiB). */
const ZSTD_CHUNK = 1024 * 1024;
/** Bytes handed to zstd and not yet compressed, at most (the walker's lead over the compressor). */
const AHEAD = 4 * 1024 * 1024;
const DEFAULT_LEVEL = 3;

/**
 * A zstd-compressed pax tar archive of `paths` (resolved like the archiver's:
 * absolute, parents' symlinks resolved, nested paths dropped). Member names are
 * the absolute paths without the leading '/'. A missing top-level path fails
 * the stream with PATH_NOT_FOUND; destroying the stream stops the walk and
 * closes open files.
 */
export function tarStream(paths: string[], opts: TarStreamOptions = {}): Readable {
  const level = opts.level ?? DEFAULT_LEVEL;
  if (!Number.isInteger(level) || level < 1 || level > 19)
    throw new SafeholdError('CONFIG', `zstd level must be an integer from 1 to 19, got ${level}`);
  const zstd = createZstdCompress({
    chunkSize: ZSTD_CHUNK,
    params: { [zc.ZSTD_c_compressionLevel]: level, [zc.ZSTD_c_checksumFlag]: 1 },
  });
  const pool = new BufferPool();
  void pump(new TarWalker(paths, opts, pool).archive(), zstd, AHEAD, (b) => pool.give(b));
  return zstd;
}
