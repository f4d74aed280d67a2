// Backs up files (or stdin) into an existing repository as stream snapshots,
// the way a plan stores a database dump (engine/backup/stream-archiver.ts with the
// plan's DUMP_CHUNKER), or with other chunk sizes to compare; prints one JSON
// line per input with the bytes it added. Used by bench/databases.sh.
//
// Usage: node bench/db-clustered.ts --repo DIR [--chunker dump|default|MIN/AVG/MAX] FILE|- ...
//   dump     DUMP_CHUNKER of src/plans/task/task-backup.ts (what database dumps use; the default here)
//   default  the repository's own chunker (what `safehold backup --stdin` uses)
//   K/K/K    min/avg/max in KiB, e.g. 64/256/2048 (stored like dumps otherwise: compression and groups)
// The password comes from SAFEHOLD_PASSWORD.

import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Readable } from 'node:stream';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { Repository } from '../src/repo/repository.ts';
import { RepoLock } from '../src/repo/lock.ts';
import type { ChunkerParams } from '../src/repo/chunker.ts';
import { backupStream } from '../src/engine/backup/stream-archiver.ts';
import { loadTree } from '../src/repo/tree.ts';
import { DUMP_CHUNKER, DUMP_COMPRESSION, DUMP_GROUP_BYTES } from '../src/plans/task/task-backup.ts';

function chunkerFrom(spec: string, repo: Repository): ChunkerParams {
  if (spec === 'dump') return DUMP_CHUNKER;
  if (spec === 'default') return repo.config.chunker;
  const m = /^(\d+)\/(\d+)\/(\d+)$/.exec(spec);
  if (!m) throw new Error(`--chunker: dump, default or MIN/AVG/MAX in KiB, not ${JSON.stringify(spec)}`);
  return { minSize: Number(m[1]) * 1024, avgSize: Number(m[2]) * 1024, maxSize: Number(m[3]) * 1024 };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    options: { repo: { type: 'string' }, chunker: { type: 'string', default: 'dump' } },
    allowPositionals: true,
  });
  const password = process.env.SAFEHOLD_PASSWORD;
  if (!values.repo || positionals.length === 0 || !password) {
    throw new Error(
      'usage: SAFEHOLD_PASSWORD=... node bench/db-clustered.ts --repo DIR [--chunker dump|default|MIN/AVG/MAX] FILE|- ...',
    );
  }
  const repo = await Repository.open(new LocalBackend(path.resolve(values.repo)), password);
  const chunker = chunkerFrom(values.chunker, repo);
  const lock = await RepoLock.acquire(repo, false);
  try {
    for (const file of positionals) {
      const input: Readable = file === '-' ? process.stdin : fs.createReadStream(file, { highWaterMark: 1 << 20 });
      const bytes0 = repo.added.bytes;
      const blobs0 = repo.added.blobs;
      const t0 = performance.now();
      // Dumps (and other chunk sizes tried for them) get DUMP_COMPRESSION and DUMP_GROUP_BYTES; 'default' is what `backup --stdin` does.
      const r = await backupStream(repo, input, {
        filename: file === '-' ? 'stdin' : path.basename(file),
        chunker,
        ...(values.chunker === 'default' ? {} : { compression: DUMP_COMPRESSION, groupBytes: DUMP_GROUP_BYTES }),
      });
      process.stdout.write(
        `${JSON.stringify({
          file,
          snapshot: r.id,
          chunker,
          bytesRead: r.snapshot.summary.bytesRead,
          bytesAdded: repo.added.bytes - bytes0,
          blobsAdded: repo.added.blobs - blobs0,
          chunks: (await loadTree(repo, r.snapshot.tree)).nodes[0]?.content?.length ?? 0,
          seconds: Number(((performance.now() - t0) / 1000).toFixed(2)),
        })}\n`,
      );
    }
  } finally {
    await lock.release();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`db-clustered: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
