// Prune's plan, step (b) of prune.ts, and its statistics: which pack keeps
// the one copy of each used blob, which packs are kept, deleted whole or
// repacked (within the unused limit), what repacking would write (a dry run's
// estimate), and the numbers prune reports. Pure: reads and changes nothing.

import { blobKey } from '../../repo/index.ts';
import { PACK_ENTRY_BYTES } from '../../repo/pack.ts';
import type { BlobType } from '../../repo/pack.ts';
import { OVERHEAD } from '../../repo/crypto.ts';
import type { PruneStats } from './prune-types.ts';

/** One blob as an index file lists it. */
export interface Listed {
  id: string;
  type: BlobType;
  offset: number;
  length: number;
  raw: number;
}

export interface PackPlan {
  id: string;
  size: number;
  blobs: Listed[];
  /** The copies this pack holds that prune keeps (used, chosen, once each). */
  used: Listed[];
  usedBytes: number;
  unusedBytes: number;
  action: 'keep' | 'delete' | 'repack';
}

/** Every pack's fate, and what follows from it. */
export interface PrunePlan {
  /** Every indexed pack, by id. */
  packs: PackPlan[];
  kept: PackPlan[];
  repacked: PackPlan[];
  deleted: PackPlan[];
  /** Stored packs no index file names (deleted too). */
  unindexed: string[];
  /** The pack files prune removes, in this order: deleted, unindexed, repacked. */
  toRemove: string[];
  /** Whether an indexed pack goes, so the index files are replaced by one. */
  rewritesIndex: boolean;
}

/** Plans every indexed pack (planPacks) and the stored packs no index names. */
export function planPrune(
  listings: Map<string, Listed[]>,
  stored: Map<string, number>,
  used: Set<string>,
  maxUnused: number,
): PrunePlan {
  const packs = planPacks(listings, stored, used, maxUnused);
  const unindexed = [...stored.keys()].filter((p) => !listings.has(p)).sort();
  const kept = packs.filter((p) => p.action === 'keep');
  const repacked = packs.filter((p) => p.action === 'repack');
  const deleted = packs.filter((p) => p.action === 'delete');
  const toRemove = [...deleted.map((p) => p.id), ...unindexed, ...repacked.map((p) => p.id)];
  return { packs, kept, repacked, deleted, unindexed, toRemove, rewritesIndex: repacked.length + deleted.length > 0 };
}

/** Chooses one copy of every used blob and decides each indexed pack's fate. */
function planPacks(
  listings: Map<string, Listed[]>,
  stored: Map<string, number>,
  used: Set<string>,
  maxUnused: number,
): PackPlan[] {
  // A blob in several packs is kept where the largest share of the pack is used, so that
  // the other copies free whole packs where possible (ties: the smaller pack id).
  const share = new Map<string, number>();
  for (const [pack, blobs] of listings) {
    let total = 0;
    let wanted = 0;
    const seen = new Set<string>();
    for (const b of blobs) {
      total += b.length;
      const k = blobKey(b.type, b.id);
      if (used.has(k) && !seen.has(k)) {
        seen.add(k);
        wanted += b.length;
      }
    }
    share.set(pack, total > 0 ? wanted / total : 0);
  }
  const chosen = new Map<string, string>();
  for (const [pack, blobs] of listings) {
    for (const b of blobs) {
      const k = blobKey(b.type, b.id);
      if (!used.has(k)) continue;
      const cur = chosen.get(k);
      if (cur === undefined || share.get(pack)! > share.get(cur)! || (share.get(pack) === share.get(cur) && pack < cur))
        chosen.set(k, pack);
    }
  }
  const plans: PackPlan[] = [];
  for (const [pack, blobs] of [...listings].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const seen = new Set<string>();
    const keep: Listed[] = [];
    let usedBytes = 0;
    let unusedBytes = 0;
    for (const b of blobs) {
      const k = blobKey(b.type, b.id);
      if (chosen.get(k) === pack && !seen.has(k)) {
        seen.add(k);
        keep.push(b);
        usedBytes += b.length;
      } else unusedBytes += b.length;
    }
    const action = keep.length === blobs.length ? 'keep' : keep.length === 0 ? 'delete' : 'repack';
    plans.push({ id: pack, size: stored.get(pack)!, blobs, used: keep, usedBytes, unusedBytes, action });
  }
  // Partly used packs: keep as many as the unused limit allows; repack the most wasteful first.
  const partly = plans.filter((p) => p.action === 'repack');
  const totalUsed = plans.reduce((n, p) => n + p.usedBytes, 0);
  const limit = maxUnused >= 1 ? Infinity : (maxUnused / (1 - maxUnused)) * totalUsed;
  let unused = partly.reduce((n, p) => n + p.unusedBytes, 0);
  const waste = (p: PackPlan) => p.unusedBytes / (p.usedBytes + p.unusedBytes);
  partly.sort((a, b) => waste(b) - waste(a) || (a.id < b.id ? -1 : 1));
  for (const p of partly) {
    if (unused > limit) unused -= p.unusedBytes;
    else p.action = 'keep';
  }
  return plans;
}

/** Packs and bytes that repacking these blobs would write (the same packing rule as repack). */
export function estimatePacks(blobs: Listed[], packSize: number): { count: number; bytes: number } {
  let count = 0;
  let bytes = 0;
  for (const type of ['data', 'tree'] as const) {
    let size = 0;
    let n = 0;
    const close = () => {
      if (n > 0) {
        count++;
        bytes += size + n * PACK_ENTRY_BYTES + OVERHEAD + 4;
      }
      size = 0;
      n = 0;
    };
    for (const b of blobs) {
      if (b.type !== type) continue;
      size += b.length;
      n++;
      if (size >= packSize) close();
    }
    close();
  }
  return { count, bytes };
}

/** The statistics known from the plan; finishStats adds what was (or would be) written. */
export function baseStats(
  dryRun: boolean,
  snapshots: number,
  used: Set<string>,
  indexFiles: number,
  stored: Map<string, number>,
  plans: PackPlan[],
  unindexed: string[],
): PruneStats {
  const copies = plans.reduce((n, p) => n + p.blobs.filter((b) => used.has(blobKey(b.type, b.id))).length, 0);
  const allBlobs = plans.reduce((n, p) => n + p.blobs.length, 0);
  const gone = plans.filter((p) => p.action !== 'keep');
  const before = [...stored.values()].reduce((n, s) => n + s, 0);
  return {
    dryRun,
    snapshots,
    blobs: {
      used: used.size,
      unused: allBlobs - used.size,
      duplicates: copies - used.size,
      repacked: gone.reduce((n, p) => n + (p.action === 'repack' ? p.used.length : 0), 0),
      removed: gone.reduce((n, p) => n + p.blobs.length - (p.action === 'repack' ? p.used.length : 0), 0),
    },
    packs: {
      before: stored.size,
      deleted: plans.filter((p) => p.action === 'delete').length + unindexed.length,
      unindexed: unindexed.length,
      repacked: plans.filter((p) => p.action === 'repack').length,
      kept: plans.filter((p) => p.action === 'keep').length,
      written: 0,
      after: 0,
    },
    bytes: {
      before,
      after: 0,
      removed: 0,
      repacked: gone.reduce((n, p) => n + (p.action === 'repack' ? p.usedBytes : 0), 0),
      unusedAfter: 0,
    },
    indexFiles: { before: indexFiles, after: indexFiles },
  };
}

export function finishStats(
  s: PruneStats,
  kept: PackPlan[],
  written: { count: number; bytes: number },
  indexBefore: number,
  indexRewritten: boolean,
): PruneStats {
  s.packs.written = written.count;
  s.packs.after = kept.length + written.count;
  s.bytes.after = kept.reduce((n, p) => n + p.size, 0) + written.bytes;
  s.bytes.removed = s.bytes.before - s.bytes.after;
  s.bytes.unusedAfter = kept.reduce((n, p) => n + p.unusedBytes, 0);
  s.indexFiles.after = indexRewritten ? (s.packs.after > 0 ? 1 : 0) : indexBefore;
  return s;
}

/** The blobs a repacked pack keeps, in the order they are copied. */
export function inPackOrder(p: PackPlan): Listed[] {
  return [...p.used].sort((x, y) => x.offset - y.offset);
}
