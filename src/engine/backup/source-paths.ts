// The paths a files backup (and a directory destination's tar) is given,
// made into the snapshot's `paths`: absolute, existing, parents' symlinks
// resolved, sorted, without duplicates or paths inside other given paths.

import fs from 'node:fs';
import path from 'node:path';
import { SafeholdError } from '../../core/errors.ts';

/**
 * The snapshot paths for the given arguments: each must exist; directories
 * leading to it are resolved (a symlinked parent is followed, so the tree
 * holds real directories), the entry itself is kept as it is (a symlink
 * given by name is backed up as a symlink).
 */
export async function resolvePaths(input: string[]): Promise<string[]> {
  if (input.length === 0) throw new SafeholdError('USAGE', 'nothing to back up: give at least one path');
  const out: string[] = [];
  for (const raw of input) {
    const abs = path.resolve(raw);
    try {
      await fs.promises.lstat(abs);
      out.push(abs === '/' ? abs : path.join(await fs.promises.realpath(path.dirname(abs)), path.basename(abs)));
    } catch (e) {
      throw new SafeholdError(
        'PATH_NOT_FOUND',
        `cannot back up ${raw}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`,
        { cause: e },
      );
    }
  }
  return normalisePaths(out);
}

/** Absolute, sorted, without duplicates or paths inside other given paths: the snapshot's `paths`. */
export function normalisePaths(input: string[]): string[] {
  const sorted = [...new Set(input.map((p) => path.resolve(p)))].sort();
  return sorted.filter((p) => !sorted.some((q) => q !== p && (q === '/' || p.startsWith(`${q}/`))));
}
