// A dump written to a file (safehold dump --target FILE): to a temporary file
// beside it (mode 0600: it may hold anything the snapshot holds), synced,
// then renamed over FILE, so FILE is never left half-written.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import type { Repository } from '../../repo/repository.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { dump } from './dump.ts';
import type { DumpResult } from './dump.ts';
import { SafeholdError, sysCode } from '../../core/errors.ts';

export async function dumpToFile(repo: Repository, snap: SnapshotWithId, p: string, file: string): Promise<DumpResult> {
  const target = path.resolve(file);
  const st = await fs.promises.stat(target).catch(() => null);
  if (st?.isDirectory()) throw new SafeholdError('USAGE', `--target ${file} is a directory: give a file name`);
  const tmp = path.join(
    path.dirname(target),
    `.${path.basename(target)}.safehold-${crypto.randomBytes(6).toString('hex')}`,
  );
  let out: fs.WriteStream;
  try {
    out = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o600 });
    await new Promise<void>((resolve, reject) => out.once('open', () => resolve()).once('error', reject));
  } catch (e) {
    throw new SafeholdError('IO', `cannot write ${file}: ${sysCode(e) ?? (e as Error).message}`, { cause: e });
  }
  try {
    const r = await dump(repo, snap, p, out);
    await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
    const fh = await fs.promises.open(tmp, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, target);
    return r;
  } catch (e) {
    out.destroy();
    await fs.promises.rm(tmp, { force: true });
    throw e;
  }
}
