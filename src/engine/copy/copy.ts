// Copying snapshots from one repository to another (SPEC S1 "copy snapshots
// to another repository", S2/issue 4 offsite copies). Blob ids are keyed by
// each repository's own MAC key, so in general every blob is re-identified
// in the destination: data blobs get dst.blobId(plaintext), trees are
// rewritten bottom-up with the mapped ids, and the snapshot is saved again
// naming the new root tree, with `original`/`originalRepo` recording where it
// came from. When both repositories share the MAC key (a cloned repository),
// ids are the same and sealed blobs are passed through (re-sealed when the
// encryption keys differ).
//
// Order per snapshot: blobs, dst.flush() (packs, then one index file), then
// the snapshot file (the commit point), then verification, which reads every
// tree and data blob of the new snapshot back through a freshly loaded
// destination index; on a mismatch the new snapshot file is removed again
// and the copy fails with CORRUPT. Snapshots already copied (same original
// in the same source repository, or the same snapshot file) are skipped.
//
// Locks: the caller holds a shared lock on both repositories for the whole
// call (the copy only adds files to dst, and removes only a snapshot file it
// wrote itself when that fails verification).
//
// Here: the run over the snapshots, what dst already holds (KnownCopies), one
// snapshot's copy and its verification or removal. The trees and blobs are
// copied by copier.ts, read back by copy-verify.ts.

import type { Repository } from '../../repo/repository.ts';
import { listSnapshots, saveSnapshot } from '../../repo/snapshot.ts';
import type { Snapshot, SnapshotWithId } from '../../repo/snapshot.ts';
import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import { removeLeftovers } from '../shared/leftovers.ts';
import { newVerifyState, verifyCopy } from './copy-verify.ts';
import type { VerifyState } from './copy-verify.ts';
import type { CopyProgress } from './copy-progress.ts';
import { Copier, copyMode } from './copier.ts';
import type { CopyMode, Pair } from './copier.ts';

export type { CopyMode } from './copier.ts';

export interface CopyOptions {
  /** Source snapshots to copy, in order (those already in dst are skipped). */
  snapshots: SnapshotWithId[];
  /** Read the copied snapshot back from dst and compare it with the source (default true). */
  verify?: boolean;
  /** Called with the (same, updated) progress object as work advances. */
  onProgress?: (p: Readonly<CopyProgress>) => void;
}

export interface SnapshotCopy {
  /** Source snapshot id. */
  source: string;
  /** The new snapshot's id in dst; null when skipped. */
  copied: string | null;
  skipped?: 'already copied';
  /** Blobs (data and tree) and sealed bytes this copy added to dst. */
  blobsCopied: number;
  bytesCopied: number;
  /** Source data blobs read for this copy (unchanged data known from an earlier copy is not read). */
  blobsRead: number;
  /** True when the copy was read back from dst and matched. */
  verified: boolean;
  /** Root tree of the new snapshot (null when skipped). */
  tree: string | null;
}

export interface CopyResult {
  /** reidentify: keys differ; passthrough: same keys, sealed blobs copied as they are; reseal: same MAC key, other encryption key. */
  mode: CopyMode;
  snapshots: SnapshotCopy[];
}

export async function copySnapshots(src: Repository, dst: Repository, opts: CopyOptions): Promise<CopyResult> {
  await Promise.all([src.loadIndex(), dst.loadIndex()]);
  await removeLeftovers(dst);
  const mode = copyMode(src, dst);
  const verify = opts.verify ?? true;
  const progress = newProgress(opts.snapshots.length);
  const report = () => opts.onProgress?.(progress);
  const known = await KnownCopies.load(src, dst);
  const copier = new Copier(src, dst, mode, progress, report);
  const verifyState = newVerifyState();
  const out: SnapshotCopy[] = [];
  for (const s of opts.snapshots) {
    Object.assign(progress, { phase: 'copy', snapshot: s.id, position: progress.position + 1 });
    report();
    if (known.has(s)) {
      out.push(skipped(s));
      continue;
    }
    const r = await named(s, () => copyOne(src, dst, s, copier, known.hintFor(s)));
    if (verify) {
      progress.phase = 'verify';
      report();
      await verifyOrRemove(src, dst, s, r, { state: verifyState, progress, report, completed: out });
      r.verified = true;
    }
    known.add(s, r.copied!, r.tree!);
    out.push(r);
  }
  return { mode, snapshots: out };
}

function newProgress(total: number): CopyProgress {
  return {
    phase: 'copy',
    snapshot: '',
    position: 0,
    total,
    blobsCopied: 0,
    bytesCopied: 0,
    bytesRead: 0,
    blobsVerified: 0,
    bytesVerified: 0,
  };
}

/** The result for a snapshot dst already holds. */
function skipped(s: SnapshotWithId): SnapshotCopy {
  return {
    source: s.id,
    copied: null,
    skipped: 'already copied',
    blobsCopied: 0,
    bytesCopied: 0,
    blobsRead: 0,
    verified: false,
    tree: null,
  };
}

/** Copies the blobs of one snapshot, flushes dst, then saves the snapshot there (the commit point). */
async function copyOne(
  src: Repository,
  dst: Repository,
  s: SnapshotWithId,
  copier: Copier,
  hint: Pair | undefined,
): Promise<SnapshotCopy> {
  copier.resetCounts();
  const tree = await copier.copyTree(s.tree, hint);
  await dst.flush();
  const copied = await saveSnapshot(dst, copiedSnapshot(s, tree, src.config.id));
  const c = copier.counts;
  return { source: s.id, copied, blobsCopied: c.blobs, bytesCopied: c.bytes, blobsRead: c.read, verified: false, tree };
}

/** The destination's record: the source's, with the new tree, where it came from, and no parent (it names a source snapshot). */
export function copiedSnapshot(s: SnapshotWithId, tree: string, sourceRepo: string): Snapshot {
  const out: Snapshot & { id?: string } = { ...s, tree, original: s.id, originalRepo: sourceRepo };
  delete out.id;
  delete out.parent;
  return out;
}

/** Reads the new copy back (copy-verify.ts); on a mismatch removes its snapshot file from dst and fails with CORRUPT. */
async function verifyOrRemove(
  src: Repository,
  dst: Repository,
  s: SnapshotWithId,
  r: SnapshotCopy,
  run: { state: VerifyState; progress: CopyProgress; report: () => void; completed: SnapshotCopy[] },
): Promise<void> {
  try {
    await verifyCopy(src, dst, { source: s, copy: r.copied!, tree: r.tree! }, run.state, run.progress, run.report);
  } catch (e) {
    await dst.backend.remove({ type: 'snapshots', name: r.copied! });
    const msg = e instanceof Error ? e.message : String(e);
    throw new SafeholdError(
      'CORRUPT',
      `the copy of snapshot ${short(s.id)} failed verification and was removed from ${dst.backend.location}: ${msg}`,
      {
        cause: e,
        details: { snapshot: s.id, completed: run.completed },
      },
    );
  }
}

/** Rethrows a failure while copying one snapshot with the snapshot named (same code). */
async function named<T>(s: SnapshotWithId, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (!isSafeholdError(e)) throw e;
    throw new SafeholdError(e.code, `copying snapshot ${short(s.id)}: ${e.message}`, {
      cause: e,
      retryable: e.retryable,
      ...(e.details ? { details: e.details } : {}),
    });
  }
}

/**
 * What dst already holds: copies by (source repository, source snapshot),
 * its own snapshot ids (a clone of the source holds the same files), and
 * for each copy the pair of root trees, used as a hint so that a new
 * snapshot's unchanged subtrees are not read again.
 */
class KnownCopies {
  private readonly srcRepo: string;
  private readonly dstRepo: string;
  private readonly dstIds = new Set<string>();
  private readonly copies = new Map<string, string>();
  /** Source snapshots that have a copy in dst, with the copy's root tree. */
  private readonly hints: { snap: SnapshotWithId; dstTree: string }[] = [];

  private constructor(srcRepo: string, dstRepo: string) {
    this.srcRepo = srcRepo;
    this.dstRepo = dstRepo;
  }

  static async load(src: Repository, dst: Repository): Promise<KnownCopies> {
    const k = new KnownCopies(src.config.id, dst.config.id);
    const dstSnaps = await listSnapshots(dst);
    for (const d of dstSnaps) {
      k.dstIds.add(d.id);
      if (d.original && d.originalRepo === k.srcRepo) k.copies.set(d.original, d.tree);
    }
    if (k.copies.size > 0) {
      for (const s of await listSnapshots(src)) {
        const dstTree = k.copies.get(s.id);
        if (dstTree) k.hints.push({ snap: s, dstTree });
      }
    }
    return k;
  }

  has(s: SnapshotWithId): boolean {
    if (this.dstIds.has(s.id) || this.copies.has(s.id)) return true;
    // A snapshot that was itself copied from dst (a copy back).
    return s.originalRepo === this.dstRepo && s.original !== undefined && this.dstIds.has(s.original);
  }

  add(s: SnapshotWithId, copied: string, dstTree: string): void {
    this.dstIds.add(copied);
    this.copies.set(s.id, dstTree);
    this.hints.push({ snap: s, dstTree });
  }

  /** The newest copied snapshot with the same paths (same host preferred). */
  hintFor(s: SnapshotWithId): Pair | undefined {
    const samePaths = this.hints.filter((h) => h.snap.paths.join('\n') === s.paths.join('\n'));
    const pick = (l: typeof samePaths) =>
      l.reduce<(typeof l)[number] | undefined>((a, b) => (!a || b.snap.time > a.snap.time ? b : a), undefined);
    const h = pick(samePaths.filter((x) => x.snap.hostname === s.hostname)) ?? pick(samePaths);
    return h && { src: h.snap.tree, dst: h.dstTree };
  }
}

function short(id: string): string {
  return id.slice(0, 8);
}
