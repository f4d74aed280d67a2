// Prune: removes the data no snapshot needs any more (SPEC S1, S5 purge),
// in restic's crash-safe order. The caller holds the EXCLUSIVE repository
// lock (checked at the start: no other process may add or use data while
// packs disappear). Steps:
//   (a) load every index file and snapshot and walk every tree to find the
//       used blobs; anything unreadable aborts before anything is written or
//       removed (the repository is damaged: run check);
//   (b) classify packs: fully used are kept, fully unused deleted, partly
//       used repacked (most unused first, until at most `maxUnusedFraction`
//       of the bytes left are unused); a blob stored in several packs keeps
//       one copy (in the pack with the largest used share), the other copies
//       count as unused; packs no index names are deleted;
//   (c) copy the used blobs of repacked packs into new packs, sealed bytes
//       as they are (verified, not re-encrypted), each pack durable;
//   (d) write ONE index file listing every pack that stays (kept + new);
//   (e) remove the old index files; (f) remove the deleted and repacked packs.
// A crash between any two steps leaves a sound repository (extra packs no
// index names, or packs indexed twice), and the next prune finishes the job:
// see docs/repository-format.md, "Forget and prune".

import type { Repository } from '../../repo/repository.ts';
import { Index, blobKey, indexFileFor } from '../../repo/index.ts';
import type { IndexFile, Member } from '../../repo/index.ts';
import { PACK_ENTRY_BYTES, PackBuilder } from '../../repo/pack.ts';
import type { BlobType, PackEntry } from '../../repo/pack.ts';
import { OVERHEAD, fileId } from '../../repo/crypto.ts';
import { parseTree } from '../../repo/tree.ts';
import type { TreeNode } from '../../repo/tree.ts';
import { listSnapshots } from '../../repo/snapshot.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import { requireExclusiveLock } from './forget.ts';

/** Default for maxUnusedFraction: like restic's --max-unused 5%. */
export const DEFAULT_MAX_UNUSED = 0.05;

/** The points between steps that change the repository, in order. */
export type PruneStep = 'repack' | 'write-index' | 'delete-index' | 'delete-packs' | 'delete-packs-half';

export interface PruneProgress {
  phase: 'index' | 'trees' | 'repack' | 'delete';
  done: number;
  total: number;
}

export interface PruneOptions {
  /** Work out and report what would be done; change nothing. */
  dryRun?: boolean;
  /**
   * Largest share (0..1) of the bytes left in the packs that may be unused
   * blobs after prune; partly used packs are repacked, most unused first,
   * until it holds. 0 repacks every pack with an unused blob; 1 never repacks.
   */
  maxUnusedFraction?: number;
  /** Mutated while prune runs; read it for progress. */
  progress?: PruneProgress;
  /** Snapshots to count as removed already (to preview forget + prune without forgetting). */
  ignoreSnapshots?: ReadonlySet<string>;
  /** Awaited before each step that changes the repository (tests stop or fail here to simulate a crash). */
  beforeStep?: (step: PruneStep) => void | Promise<void>;
}

export interface PruneStats {
  dryRun: boolean;
  snapshots: number;
  blobs: { used: number; unused: number; duplicates: number; repacked: number; removed: number };
  /** deleted: packs removed whole (unused ones, including `unindexed`, those no index named); repacked: removed after copying their used blobs into `written`. */
  packs: {
    before: number;
    deleted: number;
    unindexed: number;
    repacked: number;
    kept: number;
    written: number;
    after: number;
  };
  /** Pack file bytes; `repacked` counts the blob bytes copied, `unusedAfter` the unused blob bytes left in kept packs. */
  bytes: { before: number; after: number; removed: number; repacked: number; unusedAfter: number };
  indexFiles: { before: number; after: number };
}

/** One blob as an index file lists it. */
interface Listed {
  id: string;
  type: BlobType;
  offset: number;
  length: number;
  raw: number;
}

interface PackPlan {
  id: string;
  size: number;
  blobs: Listed[];
  /** The copies this pack holds that prune keeps (used, chosen, once each). */
  used: Listed[];
  usedBytes: number;
  unusedBytes: number;
  action: 'keep' | 'delete' | 'repack';
}

interface Loaded {
  names: string[];
  index: Index;
  /** Every pack an index file names, with its full listing (from the first file read that names it). */
  listings: Map<string, Listed[]>;
}

export async function prune(repo: Repository, opts: PruneOptions = {}): Promise<PruneStats> {
  const maxUnused = opts.maxUnusedFraction ?? DEFAULT_MAX_UNUSED;
  if (!(maxUnused >= 0 && maxUnused <= 1))
    throw new SafeholdError('USAGE', `the unused share must be between 0 and 1 (got ${maxUnused})`);
  await requireExclusiveLock(repo);
  const progress = opts.progress ?? { phase: 'index', done: 0, total: 0 };
  const step = async (s: PruneStep) => {
    await opts.beforeStep?.(s);
  };

  // (a) Everything is read before anything changes; any damage stops here.
  const { loaded, stored, snapshots, used } = await refuseOnDamage(async () => {
    const loaded = await loadIndexFiles(repo, progress);
    const stored = new Map((await repo.backend.list('data')).map((f) => [f.name, f.size]));
    for (const [pack, blobs] of loaded.listings) {
      if (!stored.has(pack))
        throw new SafeholdError(
          'CORRUPT',
          `pack ${short(pack)} is missing: the index names it for ${blobs.length} blobs`,
        );
    }
    const snapshots = (await listSnapshots(repo)).filter((s) => !opts.ignoreSnapshots?.has(s.id));
    const used = await usedBlobs(
      repo,
      loaded.index,
      snapshots.map((s) => ({ tree: s.tree, snap: s.id })),
      progress,
    );
    return { loaded, stored, snapshots, used };
  });

  // (b) The plan.
  const plans = planPacks(loaded.listings, stored, used, maxUnused);
  const unindexed = [...stored.keys()].filter((p) => !loaded.listings.has(p)).sort();
  const kept = plans.filter((p) => p.action === 'keep');
  const repacked = plans.filter((p) => p.action === 'repack');
  const deleted = plans.filter((p) => p.action === 'delete');
  const stats = baseStats(opts.dryRun === true, snapshots.length, used, loaded, stored, plans, unindexed);
  const toRemove = [...deleted.map((p) => p.id), ...unindexed, ...repacked.map((p) => p.id)];
  if (toRemove.length === 0) return finishStats(stats, kept, { count: 0, bytes: 0 }, loaded.names.length, false);
  if (opts.dryRun) {
    const est = estimatePacks(repacked.flatMap(inPackOrder), repo.config.packSize);
    return finishStats(stats, kept, est, loaded.names.length, repacked.length + deleted.length > 0);
  }

  // (c) Used blobs of partly used packs into new packs (durable before the index names them).
  await step('repack');
  const written = await repack(repo, repacked, progress);

  // (d) One index for every pack that stays, then (e) the old index files go.
  const indexChanges = repacked.length + deleted.length > 0;
  if (indexChanges) {
    await step('write-index');
    const remaining = [...kept.map((p) => ({ id: p.id, entries: p.blobs.map(toEntry) })), ...written];
    if (remaining.length > 0)
      await repo.saveFile('index', indexFileFor(remaining, membersOfGroupsIn(loaded.index, remaining)));
    await step('delete-index');
    for (const name of loaded.names) await repo.backend.remove({ type: 'index', name });
  }

  // (f) Packs no index names any more.
  await step('delete-packs');
  Object.assign(progress, { phase: 'delete', done: 0, total: toRemove.length });
  for (const [i, pack] of toRemove.entries()) {
    if (toRemove.length >= 2 && i === Math.floor(toRemove.length / 2)) await step('delete-packs-half');
    await repo.backend.remove({ type: 'data', name: pack });
    progress.done++;
  }
  return finishStats(
    stats,
    kept,
    { count: written.length, bytes: written.reduce((n, w) => n + w.size, 0) },
    loaded.names.length,
    indexChanges,
  );
}

/** Runs the read-only analysis; damage (unreadable, missing or inconsistent data) becomes one clear refusal. */
async function refuseOnDamage<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isSafeholdError(e, 'CORRUPT') || isSafeholdError(e, 'NOT_FOUND')) {
      throw new SafeholdError(
        'CORRUPT',
        `the repository is damaged, prune removed nothing: ${e.message} (run 'safehold check --read-data')`,
        { cause: e },
      );
    }
    throw e;
  }
}

async function loadIndexFiles(repo: Repository, progress: PruneProgress): Promise<Loaded> {
  const files = await repo.backend.list('index');
  Object.assign(progress, { phase: 'index', done: 0, total: files.length });
  const index = new Index();
  const listings = new Map<string, Listed[]>();
  await mapLimit(files, 8, async (f) => {
    const file = await repo.loadFile<IndexFile>('index', f.name);
    index.addFile(file);
    for (const p of file.packs) if (!listings.has(p.id)) listings.set(p.id, p.blobs);
    progress.done++;
  });
  return { names: files.map((f) => f.name), index, listings };
}

/** Every blob (as blobKey) reachable from the roots: trees, and the data blobs of files. */
async function usedBlobs(
  repo: Repository,
  index: Index,
  roots: { tree: string; snap: string }[],
  progress: PruneProgress,
): Promise<Set<string>> {
  Object.assign(progress, { phase: 'trees', done: 0, total: 0 });
  const used = new Set<string>();
  let level: string[] = [];
  for (const r of roots) {
    if (typeof r.tree !== 'string') throw new SafeholdError('CORRUPT', `snapshot ${short(r.snap)} has no root tree`);
    if (!used.has(blobKey('tree', r.tree))) {
      used.add(blobKey('tree', r.tree));
      level.push(r.tree);
    }
  }
  while (level.length > 0) {
    progress.total += level.length;
    const next: string[] = [];
    await mapLimit(level, 16, async (id) => {
      for (const n of await loadNodes(repo, index, id)) {
        // Any subtree counts, whatever the node type (older versions stored some under symlink nodes).
        if (typeof n.subtree === 'string' && !used.has(blobKey('tree', n.subtree))) {
          used.add(blobKey('tree', n.subtree));
          next.push(n.subtree);
        }
        for (const c of Array.isArray(n.content) ? n.content : []) {
          // A member of a group keeps its whole group.
          const stored = index.storedId('data', c);
          if (stored === undefined)
            throw new SafeholdError(
              'CORRUPT',
              `data blob ${short(c)} of ${JSON.stringify(n.name)} (tree ${short(id)}) is not in the index`,
            );
          used.add(blobKey('data', stored));
        }
      }
      progress.done++;
    });
    level = next;
  }
  return used;
}

async function loadNodes(repo: Repository, index: Index, id: string): Promise<TreeNode[]> {
  const e = index.get('tree', id);
  if (!e) throw new SafeholdError('CORRUPT', `tree ${short(id)} is not in the index`);
  const sealed = await repo.backend.load({ type: 'data', name: e.pack }, e.offset, e.length);
  return parseTree(repo.decodeBlob(id, e, sealed), id).nodes;
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

/** Copies the chosen blobs of the packs into new packs, verifying each (GCM tag, size, id) on the way. */
async function repack(
  repo: Repository,
  packs: PackPlan[],
  progress: PruneProgress,
): Promise<{ id: string; entries: PackEntry[]; size: number }[]> {
  Object.assign(progress, { phase: 'repack', done: 0, total: packs.length });
  const builders: Record<BlobType, PackBuilder> = { data: new PackBuilder(), tree: new PackBuilder() };
  const written: { id: string; entries: PackEntry[]; size: number }[] = [];
  const flush = async (type: BlobType) => {
    const b = builders[type];
    if (b.count === 0) return;
    builders[type] = new PackBuilder();
    const bytes = b.finish(repo.key.encrypt);
    const id = fileId(bytes);
    await repo.backend.save({ type: 'data', name: id }, bytes);
    written.push({ id, entries: b.entries, size: bytes.length });
  };
  for (const p of packs) {
    const bytes = await repo.backend.load({ type: 'data', name: p.id });
    for (const b of inPackOrder(p)) {
      const sealed = bytes.subarray(b.offset, b.offset + b.length);
      try {
        if (sealed.length !== b.length) throw new SafeholdError('CORRUPT', 'the pack is shorter than the index says');
        repo.decodeBlob(b.id, { rawLength: b.raw }, sealed);
      } catch (e) {
        throw new SafeholdError(
          'CORRUPT',
          `cannot repack ${b.type} blob ${short(b.id)} of pack ${short(p.id)}: ${e instanceof Error ? e.message : String(e)}; no pack or index was removed (run 'safehold check --read-data')`,
          { cause: e },
        );
      }
      builders[b.type].add(b.type, b.id, sealed, b.raw);
      if (builders[b.type].size >= repo.config.packSize) await flush(b.type);
    }
    progress.done++;
  }
  await flush('data');
  await flush('tree');
  return written;
}

/** The members of every group the remaining packs hold (a kept group keeps all its members listed). */
function membersOfGroupsIn(index: Index, packs: { entries: readonly PackEntry[] }[]): ({ id: string } & Member)[] {
  const groups = new Set<string>();
  for (const p of packs) for (const e of p.entries) if (e.type === 'data') groups.add(e.id);
  const out: ({ id: string } & Member)[] = [];
  for (const [id, m] of index.members()) if (groups.has(m.group)) out.push({ id, ...m });
  return out;
}

/** Packs and bytes that repacking these blobs would write (the same packing rule as repack). */
function estimatePacks(blobs: Listed[], packSize: number): { count: number; bytes: number } {
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

function baseStats(
  dryRun: boolean,
  snapshots: number,
  used: Set<string>,
  loaded: Loaded,
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
    indexFiles: { before: loaded.names.length, after: loaded.names.length },
  };
}

function finishStats(
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
function inPackOrder(p: PackPlan): Listed[] {
  return [...p.used].sort((x, y) => x.offset - y.offset);
}

function toEntry(b: Listed): PackEntry {
  return { id: b.id, type: b.type, offset: b.offset, length: b.length, rawLength: b.raw };
}

function short(id: string): string {
  return id.slice(0, 12);
}
