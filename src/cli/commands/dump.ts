// safehold dump: writes one file of a snapshot, or a directory as a tar
// stream, to stdout (or to a file with --target).

import { findSnapshot } from '../../repo/snapshot.ts';
import { dump } from '../../engine/dump/dump.ts';
import { dumpToFile } from '../../engine/dump/dump-file.ts';
import { formatBytes } from '../../core/format.ts';
import { SafeholdError } from '../../core/errors.ts';
import { openRepository, withLock } from '../session.ts';
import { str } from '../command.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const dumpCommand: Command = {
  name: 'dump',
  summary: 'write a file of a snapshot (or a directory as tar) to stdout',
  usage: `safehold dump SNAPSHOT|latest PATH [--target FILE]

PATH is the absolute path in the snapshot (as 'safehold ls' shows it). A regular
file is written as it is; a directory (or '/', the whole snapshot) is written as
a POSIX tar stream whose members start at the directory's own name (extract it
with 'tar -x'). Sockets are left out of a tar, and said so on stderr.

  --target FILE   write to FILE (replaced whole, only once complete) instead of stdout;
                  with --json, prints what was written

Refuses to write to a terminal: redirect stdout, pipe it, or use --target.`,
  options: { target: { type: 'string', short: 't' } },
  async run(ctx) {
    const { positionals, values, out } = ctx;
    if (positionals.length !== 2) throw new SafeholdError('USAGE', 'give a snapshot id (or latest) and a path');
    const target = str(values, 'target');
    if (target === undefined && out.json)
      throw new SafeholdError('USAGE', 'dump writes the content to stdout: --json goes with --target FILE');
    if (target === undefined && process.stdout.isTTY)
      throw new SafeholdError('USAGE', 'stdout is a terminal: redirect it to a file, pipe it, or use --target FILE');
    const p = positionals[1]!;
    if (!p.startsWith('/'))
      throw new SafeholdError('USAGE', `give the path as it is in the snapshot, starting with '/' (got ${p})`);
    const repo = await openRepository(ctx);
    const r = await withLock(repo, false, async () => {
      const snap = await findSnapshot(repo, positionals[0]!);
      const res =
        target === undefined ? await dump(repo, snap, p, process.stdout) : await dumpToFile(repo, snap, p, target);
      return { ...res, snapshot: snap.id };
    });
    for (const s of r.skipped) out.warn(`${s.path}: a ${s.type} cannot go into a tar; left out`);
    if (target !== undefined)
      out.result(
        {
          snapshot: r.snapshot,
          path: r.path,
          format: r.format,
          target,
          bytes: r.bytes,
          entries: r.entries,
          skipped: r.skipped,
        },
        () =>
          out.line(
            r.format === 'tar'
              ? `wrote ${r.path} of snapshot ${r.snapshot.slice(0, 8)} to ${target} as tar: ${r.entries} entries, ${formatBytes(r.bytes)} of file content`
              : `wrote ${r.path} of snapshot ${r.snapshot.slice(0, 8)} to ${target}: ${formatBytes(r.bytes)}`,
          ),
      );
    return EXIT.ok;
  },
};
