// safehold snapshots: lists the snapshots in the repository.

import { listSnapshots } from '../../repo/snapshot.ts';
import { formatBytes, formatTime } from '../../core/format.ts';
import { openRepository } from '../session.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const snapshotsCommand: Command = {
  name: 'snapshots',
  summary: 'list snapshots',
  usage: 'safehold snapshots',
  options: {},
  async run(ctx) {
    const repo = await openRepository(ctx);
    const snaps = await listSnapshots(repo);
    ctx.out.result(snaps, () => {
      const rows = snaps.map((s) => [s.id.slice(0, 8), formatTime(Date.parse(s.time)), s.hostname, s.tags.join(','), formatBytes(s.summary.totalSize), s.paths.join(' ')]);
      printTable(ctx.out.line.bind(ctx.out), ['ID', 'Time', 'Host', 'Tags', 'Size', 'Paths'], rows);
      ctx.out.line(`${snaps.length} snapshot${snaps.length === 1 ? '' : 's'}`);
    });
    return EXIT.ok;
  },
};

export function printTable(line: (s: string) => void, head: string[], rows: string[][]): void {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  line(fmt(head));
  line(w.map((n) => '-'.repeat(n)).join('  '));
  for (const r of rows) line(fmt(r));
}
