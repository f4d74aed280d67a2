// safehold snapshots: lists the snapshots in the repository.

import { listSnapshots } from '../../repo/snapshot.ts';
import { formatBytes, formatTime } from '../../core/format.ts';
import { openRepository } from '../session.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { printTable } from '../output.ts';

export const snapshotsCommand: Command = {
  name: 'snapshots',
  summary: 'list snapshots',
  usage: 'safehold snapshots',
  options: {},
  async run(ctx) {
    const repo = await openRepository(ctx);
    const snaps = await listSnapshots(repo);
    ctx.out.result(snaps, () => {
      const rows = snaps.map((s) => [
        s.id.slice(0, 8),
        formatTime(Date.parse(s.time)),
        s.hostname,
        s.tags.join(','),
        formatBytes(s.summary.totalSize),
        s.paths.join(' '),
      ]);
      printTable(ctx.out.line.bind(ctx.out), ['ID', 'Time', 'Host', 'Tags', 'Size', 'Paths'], rows);
      ctx.out.line(`${snaps.length} snapshot${snaps.length === 1 ? '' : 's'}`);
    });
    return EXIT.ok;
  },
};
