// Lists a backup reads from files: --exclude-file (one pattern a line) and
// --files-from (one path a line). Lines are trimmed (a trailing '\r' too);
// empty lines and lines starting with '#' are skipped. Paths are
// taken as they are (no glob expansion); a relative one is resolved from the
// working directory, as on the command line.

import fs from 'node:fs';
import { SafeholdError } from '../../core/errors.ts';

/** The entries of a list file; USAGE when it cannot be read. */
export async function readListFile(file: string, flag: string): Promise<string[]> {
  let text: string;
  try {
    text = await fs.promises.readFile(file, 'utf8');
  } catch (e) {
    throw new SafeholdError(
      'USAGE',
      `${flag} ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
      { cause: e },
    );
  }
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.includes('\0')) throw new SafeholdError('USAGE', `${flag} ${file}: a line holds a NUL byte`);
    out.push(line);
  }
  return out;
}
