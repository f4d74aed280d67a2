// safehold stats: for a set of snapshots, the restore size (what restoring
// every one of them would write) and the raw data they use (distinct blobs,
// after deduplication, before and after compression), with the two ratios
// between them; optionally the same per snapshot; and, for the whole
// repository, what it stores (packs, blobs), used or not.

import type { Repository } from '../../repo/repository.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { RestoreSizer, addRestoreSize, emptyRestoreSize } from './restore-size.ts';
import type { RestoreSize } from './restore-size.ts';
import { BlobCollector } from './raw-data.ts';
import type { RawData } from './raw-data.ts';

export type { RestoreSize, RawData };

export interface SnapshotStats {
  id: string;
  time: string;
  hostname: string;
  paths: string[];
  tags: string[];
  restore: RestoreSize;
  raw: RawData;
}

export interface RepositoryStats {
  packs: number;
  /** Bytes of every pack file (used or not by a snapshot). */
  packBytes: number;
  /** Blobs in the index (data and tree; a group counts once). */
  blobs: number;
}

export interface StatsResult {
  snapshots: number;
  /** Summed over the snapshots: what restoring each of them would write. */
  restore: RestoreSize;
  /** Distinct blobs of all the snapshots together. */
  raw: RawData;
  /** restore.bytes / raw.dataBytes: how many times deduplication reuses each byte of file content (null when there is none). */
  dedupRatio: number | null;
  /** raw.bytes / raw.storedBytes (null when nothing is stored). */
  compressionRatio: number | null;
  perSnapshot?: SnapshotStats[];
  repository?: RepositoryStats;
}

export interface StatsOptions {
  /** Also give each snapshot's own numbers. */
  perSnapshot?: boolean;
  /** Also give what the repository stores as a whole. */
  repository?: boolean;
}

export async function snapshotStats(
  repo: Repository,
  snapshots: readonly SnapshotWithId[],
  opts: StatsOptions = {},
): Promise<StatsResult> {
  await repo.loadIndex();
  const sizer = new RestoreSizer(repo);
  const all = new BlobCollector(repo);
  const restore = emptyRestoreSize();
  const perSnapshot: SnapshotStats[] = [];
  for (const s of snapshots) {
    const size = await sizer.of(s.tree);
    addRestoreSize(restore, size);
    await all.add(s.tree);
    if (!opts.perSnapshot) continue;
    const own = new BlobCollector(repo);
    await own.add(s.tree);
    const { id, time, hostname, paths, tags } = s;
    perSnapshot.push({ id, time, hostname, paths, tags, restore: { ...size }, raw: own.measure() });
  }
  const raw = all.measure();
  return {
    snapshots: snapshots.length,
    restore,
    raw,
    dedupRatio: ratio(restore.bytes, raw.dataBytes),
    compressionRatio: ratio(raw.bytes, raw.storedBytes),
    ...(opts.perSnapshot ? { perSnapshot } : {}),
    ...(opts.repository ? { repository: await repositoryStats(repo) } : {}),
  };
}

async function repositoryStats(repo: Repository): Promise<RepositoryStats> {
  const packs = await repo.backend.list('data');
  return { packs: packs.length, packBytes: packs.reduce((n, p) => n + p.size, 0), blobs: repo.index.size };
}

function ratio(a: number, b: number): number | null {
  return b > 0 ? Math.round((a / b) * 1000) / 1000 : null;
}
