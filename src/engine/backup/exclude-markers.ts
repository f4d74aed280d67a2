// Directories a backup leaves out because of a file inside them: with
// --exclude-if-present NAME, any directory holding an entry named NAME; with
// --exclude-caches, any directory holding a CACHEDIR.TAG file that starts
// with the signature of the Cache Directory Tagging Specification
// (https://bford.info/cachedir/). A directory left out is skipped whole.

import fs from 'node:fs';
import path from 'node:path';
import { SafeholdError } from '../../core/errors.ts';

export const CACHEDIR_TAG = 'CACHEDIR.TAG';
export const CACHEDIR_SIGNATURE = 'Signature: 8a477f597d28d172789f06886806bc55';

export interface MarkerOptions {
  /** Names whose presence leaves a directory out. */
  ifPresent?: readonly string[];
  /** Leave out directories tagged as caches. */
  caches?: boolean;
}

export class ExcludeMarkers {
  private readonly names: readonly string[];
  private readonly caches: boolean;

  constructor(opts: MarkerOptions = {}) {
    for (const n of opts.ifPresent ?? []) {
      if (n === '' || n === '.' || n === '..' || n.includes('/') || n.includes('\0'))
        throw new SafeholdError(
          'USAGE',
          `--exclude-if-present needs a file name without '/' (got ${JSON.stringify(n)})`,
        );
    }
    this.names = [...new Set(opts.ifPresent ?? [])];
    this.caches = opts.caches ?? false;
  }

  get empty(): boolean {
    return this.names.length === 0 && !this.caches;
  }

  /** Whether the directory `dir` is left out (an unreadable marker does not leave it out). */
  async excludes(dir: string): Promise<boolean> {
    for (const n of this.names) {
      if (await exists(path.join(dir, n))) return true;
    }
    return this.caches && (await isCacheTag(path.join(dir, CACHEDIR_TAG)));
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await fs.promises.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/** A regular file (not a symlink) whose first bytes are the cache signature. */
async function isCacheTag(p: string): Promise<boolean> {
  let fh: fs.promises.FileHandle | undefined;
  try {
    fh = await fs.promises.open(p, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    if (!(await fh.stat()).isFile()) return false;
    const buf = Buffer.alloc(CACHEDIR_SIGNATURE.length);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return bytesRead === buf.length && buf.toString('latin1') === CACHEDIR_SIGNATURE;
  } catch {
    return false;
  } finally {
    await fh?.close();
  }
}
