// safehold runs: lists the runs recorded in the catalog.

import { formatBytes, formatDuration, formatTime } from '../../core/format.ts';
import { openCatalog } from '../session.ts';
import { printTable } from '../output.ts';
import { str } from '../command.ts';
import type { Command } from '../command.ts';
import { SafeholdError } from '../../core/errors.ts';
import { EXIT } from '../exit-codes.ts';

export const runsCommand: Command = {
  name: 'runs',
  summary: 'list recorded runs (newest first)',
  usage: `safehold runs [--limit N] [--command NAME] [--status STATUS]

Lists command runs (backup, restore, check, ...) and plan runs (command 'plan'),
newest first. 'safehold run show ID' shows a plan run's tasks and log.`,
  options: { limit: { type: 'string' }, command: { type: 'string' }, status: { type: 'string' } },
  async run(ctx) {
    const limitRaw = str(ctx.values, 'limit') ?? '50';
    const limit = Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1)
      throw new SafeholdError('USAGE', `--limit takes a whole number above 0, not '${limitRaw}'`);
    const catalog = await openCatalog(ctx);
    try {
      catalog.markAbandonedRuns();
      const opts: { limit: number; command?: string; status?: string } = { limit };
      const c = str(ctx.values, 'command');
      const s = str(ctx.values, 'status');
      if (c) opts.command = c;
      if (s) opts.status = s;
      const runs = catalog.listRuns(opts).map((r) => ({ kind: 'command' as const, ...r }));
      // Plan runs, unless filtered to other commands; merged newest first.
      const planRuns =
        c && c !== 'plan'
          ? []
          : catalog
              .planRuns()
              .listRuns({ limit })
              .filter((r) => !s || r.status === s)
              .map((r) => ({ kind: 'plan' as const, ...r }));
      const all = [...runs, ...planRuns].sort((a, b) => b.startedAt - a.startedAt).slice(0, limit);
      ctx.out.result(all, () => {
        printTable(
          ctx.out.line.bind(ctx.out),
          ['ID', 'Command', 'Status', 'Started', 'Duration', 'Files', 'Added', 'Snapshot', 'Error'],
          all.map((r) =>
            r.kind === 'plan'
              ? [
                  r.id.slice(0, 8),
                  `plan ${r.plan} (${r.trigger})`,
                  r.status,
                  formatTime(r.startedAt),
                  r.finishedAt ? formatDuration(r.finishedAt - r.startedAt) : '',
                  '',
                  '',
                  '',
                  r.reason ?? '',
                ]
              : [
                  r.id.slice(0, 8),
                  r.command,
                  r.status,
                  formatTime(r.startedAt),
                  r.finishedAt ? formatDuration(r.finishedAt - r.startedAt) : '',
                  r.stats.filesNew !== undefined
                    ? String((r.stats.filesNew ?? 0) + (r.stats.filesChanged ?? 0) + (r.stats.filesUnchanged ?? 0))
                    : '',
                  r.stats.bytesAdded !== undefined ? formatBytes(r.stats.bytesAdded) : '',
                  r.snapshotId?.slice(0, 8) ?? '',
                  r.error ?? '',
                ],
          ),
        );
      });
    } finally {
      catalog.close();
    }
    return EXIT.ok;
  },
};
