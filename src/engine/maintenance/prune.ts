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
//
// Here: prune() as those steps, and the steps that read or change the
// repository. The plan of (b) and the statistics are in prune-plan.ts, the
// public types in prune-types.ts (re-exported here).

import type { Repository } from '../../repo/repository.ts';
import { removeFiles } from '../../repo/backend/backend.ts';
import { Index, blobKey, indexFileFor } from '../../repo/index.ts';
import type { IndexFile, Member } from '../../repo/index.ts';
import { PackBuilder } from '../../repo/pack.ts';
import type { BlobType, PackEntry } from '../../repo/pack.ts';
import { fileId } from '../../repo/crypto.ts';
import { parseTree } from '../../repo/tree.ts';
import type { TreeNode } from '../../repo/tree.ts';
import { listSnapshots } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import { requireExclusiveLock } from './forget.ts';
import { baseStats, estimatePacks, finishStats, inPackOrder, planPrune } from './prune-plan.ts';
import type { Listed, PackPlan } from './prune-plan.ts';
import { DEFAULT_MAX_UNUSED } from './prune-types.ts';
import type { PruneOptions, PruneProgress, PruneStats, PruneStep, WalRetention } from './prune-types.ts';
import { listWalFiles, removeWalFiles } from '../../repo/wal-file.ts';

/** Packs removed per removeFiles call: a few S3 batch deletes in parallel, progress counted between. */
const REMOVE_CHUNK = 4000;

export { DEFAULT_MAX_UNUSED } from './prune-types.ts';
export type { PruneOptions, PruneProgress, PruneStats, PruneStep } from './prune-types.ts';

interface Loaded {
  names: string[];
  index: Index;
  /** Every pack an index file names, with its full listing (from the first file read that names it). */
  listings: Map<string, Listed[]>;
}

/** What step (a) read: the index files, the pack files stored, the snapshots that stay and the blobs they use. */
interface Analysis {
  loaded: Loaded;
  stored: Map<string, number>;
  snapshots: SnapshotWithId[];
  used: Set<string>;
}

type Written = { id: string; entries: PackEntry[]; size: number };

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
  const { loaded, stored, snapshots, used } = await refuseOnDamage(() => analyse(repo, opts.ignoreSnapshots, progress));

  // (b) The plan.
  const plan = planPrune(loaded.listings, stored, used, maxUnused);
  const indexFiles = loaded.names.length;
  const stats = baseStats(opts.dryRun === true, snapshots.length, used, indexFiles, stored, plan.packs, plan.unindexed);
  const wal = await walToRemove(repo, snapshots, opts.walRetention);
  stats.wal = { before: wal.before, removed: wal.remove.length };
  if (plan.toRemove.length === 0) {
    if (!opts.dryRun) await removeWal(repo, wal.remove, step);
    return finishStats(stats, plan.kept, { count: 0, bytes: 0 }, indexFiles, false);
  }
  if (opts.dryRun) {
    const est = estimatePacks(plan.repacked.flatMap(inPackOrder), repo.config.packSize);
    return finishStats(stats, plan.kept, est, indexFiles, plan.rewritesIndex);
  }

  // (c) Used blobs of partly used packs into new packs (durable before the index names them).
  await step('repack');
  const written = await repack(repo, plan.repacked, progress);

  // (d) One index for every pack that stays, then (e) the old index files go.
  if (plan.rewritesIndex) await replaceIndex(repo, loaded, plan.kept, written, step);

  // (f) Packs no index names any more.
  await step('delete-packs');
  await removePacks(repo, plan.toRemove, progress, step);
  await removeWal(repo, wal.remove, step);
  const bytes = written.reduce((n, w) => n + w.size, 0);
  return finishStats(stats, plan.kept, { count: written.length, bytes }, indexFiles, plan.rewritesIndex);
}

/** The archived WAL files no kept snapshot needs any more (none without a retention rule). */
async function walToRemove(
  repo: Repository,
  kept: readonly SnapshotWithId[],
  rule: WalRetention | undefined,
): Promise<{ before: number; remove: string[] }> {
  const files = (await listWalFiles(repo)).map((f) => f.name);
  return { before: files.length, remove: rule && files.length > 0 ? rule(kept, files) : [] };
}

/** Removes archived WAL files (after the packs: a crash before leaves them for the next prune). */
async function removeWal(repo: Repository, names: readonly string[], step: (s: PruneStep) => Promise<void>) {
  if (names.length === 0) return;
  await step('delete-wal');
  await removeWalFiles(repo, names);
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

/** Step (a): reads the index files, the stored packs (every indexed one must be there), the snapshots and their trees. */
async function analyse(
  repo: Repository,
  ignoreSnapshots: ReadonlySet<string> | undefined,
  progress: PruneProgress,
): Promise<Analysis> {
  const loaded = await loadIndexFiles(repo, progress);
  const stored = new Map((await repo.backend.list('data')).map((f) => [f.name, f.size]));
  for (const [pack, blobs] of loaded.listings) {
    if (!stored.has(pack))
      throw new SafeholdError(
        'CORRUPT',
        `pack ${short(pack)} is missing: the index names it for ${blobs.length} blobs`,
      );
  }
  const snapshots = (await listSnapshots(repo)).filter((s) => !ignoreSnapshots?.has(s.id));
  const used = await usedBlobs(
    repo,
    loaded.index,
    snapshots.map((s) => ({ tree: s.tree, snap: s.id })),
    progress,
  );
  return { loaded, stored, snapshots, used };
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

/** Copies the chosen blobs of the packs into new packs, verifying each (GCM tag, size, id) on the way. */
async function repack(repo: Repository, packs: PackPlan[], progress: PruneProgress): Promise<Written[]> {
  Object.assign(progress, { phase: 'repack', done: 0, total: packs.length });
  const builders: Record<BlobType, PackBuilder> = { data: new PackBuilder(), tree: new PackBuilder() };
  const written: Written[] = [];
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

/** Steps (d) and (e): one index file naming every pack that stays (none when none stays), then the old index files go. */
async function replaceIndex(
  repo: Repository,
  loaded: Loaded,
  kept: PackPlan[],
  written: Written[],
  step: (s: PruneStep) => Promise<void>,
): Promise<void> {
  await step('write-index');
  const remaining = [...kept.map((p) => ({ id: p.id, entries: p.blobs.map(toEntry) })), ...written];
  if (remaining.length > 0)
    await repo.saveFile('index', indexFileFor(remaining, membersOfGroupsIn(loaded.index, remaining)));
  await step('delete-index');
  await removeFiles(
    repo.backend,
    loaded.names.map((name) => ({ type: 'index', name })),
  );
}

/** Step (f): removes the pack files (a test point halfway). */
async function removePacks(
  repo: Repository,
  packs: string[],
  progress: PruneProgress,
  step: (s: PruneStep) => Promise<void>,
): Promise<void> {
  Object.assign(progress, { phase: 'delete', done: 0, total: packs.length });
  const half = packs.length >= 2 ? Math.floor(packs.length / 2) : packs.length;
  await removeInChunks(repo, packs.slice(0, half), progress);
  if (half < packs.length) await step('delete-packs-half');
  await removeInChunks(repo, packs.slice(half), progress);
}

/** Removes packs a chunk at a time (batch deletes where the backend has them), counting progress per chunk. */
async function removeInChunks(repo: Repository, packs: string[], progress: PruneProgress): Promise<void> {
  for (let i = 0; i < packs.length; i += REMOVE_CHUNK) {
    const chunk = packs.slice(i, i + REMOVE_CHUNK);
    await removeFiles(
      repo.backend,
      chunk.map((name) => ({ type: 'data', name })),
    );
    progress.done += chunk.length;
  }
}

/** The members of every group the remaining packs hold (a kept group keeps all its members listed). */
function membersOfGroupsIn(index: Index, packs: { entries: readonly PackEntry[] }[]): ({ id: string } & Member)[] {
  const groups = new Set<string>();
  for (const p of packs) for (const e of p.entries) if (e.type === 'data') groups.add(e.id);
  const out: ({ id: string } & Member)[] = [];
  for (const [id, m] of index.members()) if (groups.has(m.group)) out.push({ id, ...m });
  return out;
}

function toEntry(b: Listed): PackEntry {
  return { id: b.id, type: b.type, offset: b.offset, length: b.length, rawLength: b.raw };
}

function short(id: string): string {
  return id.slice(0, 12);
}
