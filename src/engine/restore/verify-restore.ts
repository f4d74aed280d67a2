// Verifies a restored copy of a files snapshot against the snapshot itself:
// every regular file is read back from disk, cut with the repository's
// chunker and hashed with its key; the blob ids must be exactly those the
// snapshot's tree lists (so the bytes are identical), sizes must match, and
// symlinks must point where they did. Used by restore drills (S7).

import fs from 'node:fs';
import path from 'node:path';
import type { Repository } from '../../repo/repository.ts';
import { Chunker, gearTable } from '../../repo/chunker.ts';
import { listTree } from '../walk/tree-walk.ts';

export interface VerifyReport {
  files: number;
  bytes: number;
  /** One line per difference ('path: what'), empty when the copy is exact. */
  problems: string[];
}

export async function verifyRestoredTree(
  repo: Repository,
  rootTree: string,
  restoredUnder: string,
  maxProblems = 20,
): Promise<VerifyReport> {
  const report: VerifyReport = { files: 0, bytes: 0, problems: [] };
  const gear = gearTable(repo.key.chunkerSeed);
  for (const { path: p, node } of await listTree(repo, rootTree)) {
    if (report.problems.length >= maxProblems) break;
    const onDisk = path.join(restoredUnder, p);
    if (node.type === 'symlink') {
      const got = await fs.promises.readlink(onDisk).catch(() => null);
      if (got !== node.linkTarget)
        report.problems.push(`${p}: symlink points to ${got ?? '(missing)'}, not ${node.linkTarget}`);
      continue;
    }
    if (node.type !== 'file') continue;
    report.files++;
    const ids: string[] = [];
    let size = 0;
    try {
      const chunker = new Chunker(repo.config.chunker, gear);
      for await (const piece of fs.createReadStream(onDisk, { highWaterMark: 1 << 20 })) {
        const buf = piece as Buffer;
        size += buf.length;
        for (const c of chunker.push(buf)) ids.push(repo.blobId(c));
      }
      const last = chunker.finish();
      if (last) ids.push(repo.blobId(last));
    } catch (e) {
      report.problems.push(`${p}: cannot read the restored file: ${(e as Error).message}`);
      continue;
    }
    report.bytes += size;
    const want = node.content ?? [];
    if (size !== node.size) report.problems.push(`${p}: ${size} bytes restored, ${node.size} backed up`);
    else if (ids.length !== want.length || ids.some((id, i) => id !== want[i]))
      report.problems.push(`${p}: content differs from the snapshot`);
  }
  return report;
}
