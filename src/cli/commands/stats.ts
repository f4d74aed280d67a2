// safehold stats: restore size and raw data of snapshots (all of them, or
// those given), the deduplication and compression ratios, per snapshot with
// --per-snapshot, and what the repository stores when every snapshot counts.

import { selectSnapshots, filterIsEmpty } from '../../repo/snapshot-filter.ts';
import { snapshotStats } from '../../engine/stats/stats.ts';
import type { StatsResult } from '../../engine/stats/stats.ts';
import { formatBytes, formatTime } from '../../core/format.ts';
import { openRepository, withLock } from '../session.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { printTable } from '../output.ts';
import type { Output } from '../output.ts';
import { FILTER_OPTIONS, FILTER_USAGE, filterFromFlags } from '../snapshot-filter-flags.ts';

export const statsCommand: Command = {
  name: 'stats',
  summary: 'restore size, raw data and deduplication of snapshots or the repository',
  usage: `safehold stats [SNAPSHOT|latest...] [--per-snapshot] [--host HOST] [--path PATH] [--tag T]

Without snapshots, every snapshot (and the repository's own totals: packs, their
bytes, blobs, used or not). Restore size: what restoring each snapshot would write
(files, directories, bytes; summed over the snapshots). Raw data: the distinct
blobs they use, their bytes before compression and what they take stored.
Deduplication ratio: restore size / raw file content; compression ratio: raw data / stored.

  --per-snapshot  also each snapshot's own restore size and raw data
${FILTER_USAGE}`,
  options: { 'per-snapshot': { type: 'boolean' }, ...FILTER_OPTIONS },
  async run(ctx) {
    const { positionals, values, out } = ctx;
    const filter = filterFromFlags(values);
    const repo = await openRepository(ctx);
    const whole = positionals.length === 0 && filterIsEmpty(filter);
    const r = await withLock(repo, false, async () => {
      const snaps = await selectSnapshots(repo, positionals, filter);
      return snapshotStats(repo, snaps, { perSnapshot: values['per-snapshot'] === true, repository: whole });
    });
    out.result(r, () => printStats(out, r));
    return EXIT.ok;
  },
};

function printStats(out: Output, r: StatsResult): void {
  const ratio = (x: number | null) => (x === null ? '-' : `${x.toFixed(2)}x`);
  out.line(`Snapshots:          ${r.snapshots}`);
  out.line(
    `Restore size:       ${formatBytes(r.restore.bytes)} in ${r.restore.files} files, ${r.restore.dirs} dirs, ${r.restore.symlinks} symlinks${r.restore.other ? `, ${r.restore.other} other` : ''}`,
  );
  out.line(
    `Raw data:           ${formatBytes(r.raw.bytes)} in ${r.raw.dataBlobs} data and ${r.raw.treeBlobs} tree blobs (${formatBytes(r.raw.storedBytes)} stored)`,
  );
  out.line(`Deduplication:      ${ratio(r.dedupRatio)}`);
  out.line(`Compression:        ${ratio(r.compressionRatio)}`);
  if (r.repository)
    out.line(
      `Repository:         ${formatBytes(r.repository.packBytes)} in ${r.repository.packs} packs, ${r.repository.blobs} blobs`,
    );
  if (!r.perSnapshot) return;
  out.line();
  printTable(
    out.line.bind(out),
    ['ID', 'Time', 'Host', 'Files', 'Restore size', 'Raw data', 'Stored'],
    r.perSnapshot.map((s) => [
      s.id.slice(0, 8),
      formatTime(Date.parse(s.time)),
      s.hostname,
      String(s.restore.files),
      formatBytes(s.restore.bytes),
      formatBytes(s.raw.bytes),
      formatBytes(s.raw.storedBytes),
    ]),
  );
}
