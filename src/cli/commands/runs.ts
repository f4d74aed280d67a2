// safehold runs: lists the runs recorded in the catalog.

import { formatBytes, formatDuration, formatTime } from '../../core/format.ts';
import { openCatalog } from '../session.ts';
import { printTable } from './snapshots.ts';
import { str } from '../command.ts';
import type { Command } from '../command.ts';
import { SafeholdError } from '../../core/errors.ts';

export const runsCommand: Command = {
  name: 'runs',
  summary: 'list recorded runs (newest first)',
  usage: `safehold runs [--limit N] [--command NAME] [--status STATUS]`,
  options: { limit: { type: 'string' }, command: { type: 'string' }, status: { type: 'string' } },
  async run(ctx) {
    const limitRaw = str(ctx.values, 'limit') ?? '50';
    const limit = Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1) throw new SafeholdError('USAGE', `--limit takes a whole number above 0, not '${limitRaw}'`);
    const catalog = openCatalog(ctx.env);
    try {
      catalog.markAbandonedRuns();
      const opts: { limit: number; command?: string; status?: string } = { limit };
      const c = str(ctx.values, 'command');
      const s = str(ctx.values, 'status');
      if (c) opts.command = c;
      if (s) opts.status = s;
      const runs = catalog.listRuns(opts);
      ctx.out.result(runs, () => {
        printTable(ctx.out.line.bind(ctx.out), ['ID', 'Command', 'Status', 'Started', 'Duration', 'Files', 'Added', 'Snapshot', 'Error'], runs.map((r) => [
          r.id.slice(0, 8), r.command, r.status, formatTime(r.startedAt), r.finishedAt ? formatDuration(r.finishedAt - r.startedAt) : '',
          r.stats.filesNew !== undefined ? String((r.stats.filesNew ?? 0) + (r.stats.filesChanged ?? 0) + (r.stats.filesUnchanged ?? 0)) : '',
          r.stats.bytesAdded !== undefined ? formatBytes(r.stats.bytesAdded) : '', r.snapshotId?.slice(0, 8) ?? '', r.error ?? '',
        ]));
      });
    } finally {
      catalog.close();
    }
    return 0;
  },
};
