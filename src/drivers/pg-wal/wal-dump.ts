// The time of the last transaction commit in a WAL segment, read with
// PostgreSQL's pg_waldump (its Transaction records: "COMMIT 2026-12-05
// 18:23:38.123456 UTC"): the latest moment a recovery from the archive can
// reach. The segment is written to a private temporary directory first.

import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { pgBinDir, runPg } from '../pg-ha/pg-bin.ts';

/** pg_waldump's commit (or abort) timestamp as ISO time, or null. */
export function commitTimeOf(line: string): string | null {
  const m = /\b(?:COMMIT|ABORT) (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) (UTC|[+-]\d\d(?::?\d\d)?)\b/.exec(line);
  if (!m) return null;
  const zone = m[2] === 'UTC' ? 'Z' : m[2]!.length === 3 ? `${m[2]}:00` : m[2]!;
  const t = new Date(`${m[1]!.replace(' ', 'T')}${zone}`);
  return Number.isNaN(t.getTime()) ? null : t.toISOString();
}

/** The last commit time recorded in segment `file` (its bytes), or null when it has none or pg_waldump is missing. */
export async function lastCommitTime(file: string, data: Uint8Array): Promise<string | null> {
  let bin: string;
  try {
    bin = path.join(pgBinDir(), 'pg_waldump');
  } catch {
    return null;
  }
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'safehold-waldump-'));
  try {
    await fsp.writeFile(path.join(dir, file), data, { mode: 0o600 });
    // pg_waldump ends with an error at the end of the written WAL: its output before that is what counts.
    const r = await runPg([bin, '--path', dir, '--rmgr', 'Transaction', file], { env: { TZ: 'UTC', LC_ALL: 'C' } });
    let last: string | null = null;
    for (const line of r.stdout.split('\n')) last = commitTimeOf(line) ?? last;
    return last;
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}
