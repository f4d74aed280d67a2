// safehold drills: the restore drill reports (S7), newest first.

import { formatDuration, formatTime } from '../../core/format.ts';
import { SafeholdError } from '../../core/errors.ts';
import { printTable } from '../output.ts';
import { openCatalog } from '../session.ts';
import { str } from '../command.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const drillsCommand: Command = {
  name: 'drills',
  summary: 'list restore drill reports (newest first)',
  usage: `safehold drills [--limit N] [--target NAME]

Each drill restored the latest snapshot of a unit into a scratch place,
verified it (databases: row counts and checksums of every table against those
recorded at backup time; files: every byte against the snapshot), removed the
scratch copy, and recorded passed or failed with timings.`,
  options: { limit: { type: 'string' }, target: { type: 'string' } },
  async run(ctx) {
    const raw = str(ctx.values, 'limit') ?? '50';
    const limit = Number(raw);
    if (!Number.isInteger(limit) || limit < 1)
      throw new SafeholdError('USAGE', `--limit takes a whole number above 0, not '${raw}'`);
    const target = str(ctx.values, 'target');
    const catalog = await openCatalog(ctx);
    try {
      const list = catalog.drills().list({ limit, ...(target ? { target } : {}) });
      ctx.out.result(list, () => {
        if (list.length === 0) {
          ctx.out.line('no drills');
          return;
        }
        printTable(
          ctx.out.line.bind(ctx.out),
          ['Time', 'Target', 'Unit', 'Snapshot', 'Status', 'Restore', 'Verify', 'Summary'],
          list.map((d) => [
            formatTime(d.startedAt),
            d.target,
            d.unit ?? '-',
            d.snapshot?.slice(0, 8) ?? '-',
            d.status,
            d.restoreMs === null ? '-' : formatDuration(d.restoreMs),
            d.verifyMs === null ? '-' : formatDuration(d.verifyMs),
            d.summary,
          ]),
        );
      });
      return EXIT.ok;
    } finally {
      catalog.close();
    }
  },
};
