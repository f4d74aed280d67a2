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

import crypto from 'node:crypto';
import type { Repository } from '../../repo/repository.ts';
import { encodeTree, loadTree, parseTree } from '../../repo/tree.ts';
import type { Tree, TreeNode } from '../../repo/tree.ts';
import { listSnapshots, saveSnapshot } from '../../repo/snapshot.ts';
import type { Snapshot, SnapshotWithId } from '../../repo/snapshot.ts';
import { openBlob, sealBlob } from '../../repo/pack.ts';
import { decompress } from '../../repo/encoding.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { GROUP_BYTES, OrderedSaver } from '../backup/ordered-saver.ts';
import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import { removeLeftovers } from '../shared/leftovers.ts';
import { newVerifyState, verifyCopy } from './copy-verify.ts';
import type { CopyProgress } from './copy-progress.ts';

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

export type CopyMode = 'reidentify' | 'passthrough' | 'reseal';

export interface CopyResult {
  /** reidentify: keys differ; passthrough: same keys, sealed blobs copied as they are; reseal: same MAC key, other encryption key. */
  mode: CopyMode;
  snapshots: SnapshotCopy[];
}

/** A source tree and the dst tree an earlier copy made of it (for skipping unchanged subtrees). */
interface Pair {
  src: string;
  dst: string;
}

const BLOBS_IN_FLIGHT = 4;
const MAC_PROBE = Buffer.from('safehold/copy/mac-probe/v1');

export async function copySnapshots(src: Repository, dst: Repository, opts: CopyOptions): Promise<CopyResult> {
  await Promise.all([src.loadIndex(), dst.loadIndex()]);
  await removeLeftovers(dst);
  const mode = copyMode(src, dst);
  const verify = opts.verify ?? true;
  const progress: CopyProgress = {
    phase: 'copy',
    snapshot: '',
    position: 0,
    total: opts.snapshots.length,
    blobsCopied: 0,
    bytesCopied: 0,
    bytesRead: 0,
    blobsVerified: 0,
    bytesVerified: 0,
  };
  const report = () => opts.onProgress?.(progress);
  const known = await KnownCopies.load(src, dst);
  const copier = new Copier(src, dst, mode, progress, report);
  const verifyState = newVerifyState();
  const out: SnapshotCopy[] = [];
  for (const s of opts.snapshots) {
    Object.assign(progress, { phase: 'copy', snapshot: s.id, position: progress.position + 1 });
    report();
    if (known.has(s)) {
      out.push({
        source: s.id,
        copied: null,
        skipped: 'already copied',
        blobsCopied: 0,
        bytesCopied: 0,
        blobsRead: 0,
        verified: false,
        tree: null,
      });
      continue;
    }
    const r = await named(s, () => copyOne(src, dst, s, copier, known.hintFor(s)));
    if (verify) {
      progress.phase = 'verify';
      report();
      try {
        await verifyCopy(src, dst, { source: s, copy: r.copied!, tree: r.tree! }, verifyState, progress, report);
      } catch (e) {
        await dst.backend.remove({ type: 'snapshots', name: r.copied! });
        const msg = e instanceof Error ? e.message : String(e);
        throw new SafeholdError(
          'CORRUPT',
          `the copy of snapshot ${short(s.id)} failed verification and was removed from ${dst.backend.location}: ${msg}`,
          {
            cause: e,
            details: { snapshot: s.id, completed: out },
          },
        );
      }
      r.verified = true;
    }
    known.add(s, r.copied!, r.tree!);
    out.push(r);
  }
  return { mode, snapshots: out };
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

/** Compares MAC keys through the ids of a fixed probe, and encryption keys in constant time; no key leaves the process. */
function copyMode(src: Repository, dst: Repository): CopyMode {
  if (src.blobId(MAC_PROBE) !== dst.blobId(MAC_PROBE)) return 'reidentify';
  return crypto.timingSafeEqual(src.key.encrypt, dst.key.encrypt) ? 'passthrough' : 'reseal';
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

/** Copies trees and data blobs, remembering source id → dst id for the run. */
class Copier {
  private readonly src: Repository;
  private readonly dst: Repository;
  private readonly mode: CopyMode;
  private readonly progress: CopyProgress;
  private readonly report: () => void;
  private readonly trees = new Map<string, string>();
  private readonly data = new Map<string, string>();
  private readonly inFlight = new Map<string, Promise<string>>();
  /** Members of src's groups are regrouped in dst (drained before the tree that needs them). */
  private readonly grouper: OrderedSaver;
  counts = { blobs: 0, bytes: 0, read: 0 };

  constructor(src: Repository, dst: Repository, mode: CopyMode, progress: CopyProgress, report: () => void) {
    this.src = src;
    this.dst = dst;
    this.mode = mode;
    this.progress = progress;
    this.report = report;
    this.grouper = new OrderedSaver(dst, 'dump', GROUP_BYTES, (bytes) => this.note(bytes));
  }

  resetCounts(): void {
    this.counts = { blobs: 0, bytes: 0, read: 0 };
  }

  /** Copies a source tree and everything below it; returns its id in dst. */
  async copyTree(id: string, hint?: Pair): Promise<string> {
    const done = this.trees.get(id);
    if (done) return done;
    // Unchanged since a verified earlier copy: reuse that copy's subtree without reading anything.
    if (hint && hint.src === id && this.dst.knows('tree', hint.dst)) {
      this.trees.set(id, hint.dst);
      return hint.dst;
    }
    const raw = await this.src.loadBlob('tree', id);
    let dstId: string;
    if (this.mode === 'reidentify') {
      const tree = parseTree(raw, id);
      const hints = await this.loadHint(hint);
      const nodes: TreeNode[] = [];
      for (const n of tree.nodes) nodes.push(await this.copyNode(n, hints?.get(n.name)));
      const copy: Tree = { ...tree, nodes };
      dstId = await this.storeTree(encodeTree(copy));
    } else {
      // Same MAC key: ids do not change, so the tree's bytes do not either.
      for (const n of parseTree(raw, id).nodes) {
        if (n.subtree) await this.copyTree(n.subtree);
        if (n.content) await this.copyContent(n.content);
      }
      dstId = await this.storeTree(raw, id);
    }
    this.trees.set(id, dstId);
    return dstId;
  }

  /** A node with its blob ids mapped (any node that has a subtree or content, whatever its type). */
  private async copyNode(n: TreeNode, hint: { src: TreeNode; dst: TreeNode } | undefined): Promise<TreeNode> {
    if (n.subtree) {
      const sub = hint?.src.subtree && hint.dst.subtree ? { src: hint.src.subtree, dst: hint.dst.subtree } : undefined;
      return { ...n, subtree: await this.copyTree(n.subtree, sub) };
    }
    if (n.content) {
      const reused = hint && this.reuseContent(n.content, hint.src, hint.dst);
      return { ...n, content: reused ?? (await this.copyContent(n.content)) };
    }
    return { ...n };
  }

  /** The earlier copy's content ids when the file's content is unchanged (and still indexed in dst). */
  private reuseContent(content: string[], hs: TreeNode, hd: TreeNode): string[] | undefined {
    const a = hs.content;
    const b = hd.content;
    if (!a || !b || a.length !== content.length || b.length !== a.length) return undefined;
    if (!a.every((x, i) => x === content[i]) || !b.every((x) => this.dst.knows('data', x))) return undefined;
    a.forEach((x, i) => this.data.set(x, b[i]!));
    return [...b];
  }

  /** Loads the hint's two trees and pairs their nodes by name; none when they do not correspond. */
  private async loadHint(hint: Pair | undefined): Promise<Map<string, { src: TreeNode; dst: TreeNode }> | undefined> {
    if (!hint) return undefined;
    let a: Tree;
    let b: Tree;
    try {
      [a, b] = await Promise.all([loadTree(this.src, hint.src), loadTree(this.dst, hint.dst)]);
    } catch {
      return undefined; // a damaged hint only costs reading the data again
    }
    const m = new Map<string, { src: TreeNode; dst: TreeNode }>();
    const byName = new Map(b.nodes.map((n) => [n.name, n]));
    for (const n of a.nodes) {
      const d = byName.get(n.name);
      if (d && d.type === n.type && d.size === n.size) m.set(n.name, { src: n, dst: d });
    }
    return m;
  }

  /** Copies a file's data blobs; returns their ids in dst, every one stored (groups included). */
  private async copyContent(content: string[]): Promise<string[]> {
    const ids = await mapLimit(content, BLOBS_IN_FLIGHT, (b) => this.copyData(b));
    await this.grouper.drain();
    return ids;
  }

  /** Copies one data blob (once per run); returns its id in dst. */
  private copyData(id: string): Promise<string> {
    const done = this.data.get(id);
    if (done) return Promise.resolve(done);
    let p = this.inFlight.get(id);
    if (!p) {
      p = this.transferData(id)
        .then((dstId) => {
          this.data.set(id, dstId);
          return dstId;
        })
        .finally(() => this.inFlight.delete(id));
      this.inFlight.set(id, p);
    }
    return p;
  }

  /**
   * Reads the sealed blob from src and stores it in dst. The stored
   * (compressed or raw) bytes are re-sealed as they are: the compression
   * decision depends only on the plaintext, so dst would store the same.
   */
  private async transferData(id: string): Promise<string> {
    if (this.mode !== 'reidentify' && this.dst.knows('data', id)) return id;
    const e = this.src.lookup('data', id);
    if (e.member) return this.transferMember(id);
    const sealed = await this.src.backend.load({ type: 'data', name: e.pack }, e.offset, e.length);
    const stored = openBlob(this.src.key.encrypt, id, sealed);
    this.counts.read++;
    this.progress.bytesRead += e.rawLength > 0 ? e.rawLength : stored.length;
    if (this.mode === 'passthrough') {
      // Same keys: the sealed bytes are valid in dst as they are (their GCM tag was just checked).
      this.note(await this.dst.addSealed('data', id, sealed, e.rawLength));
      return id;
    }
    const plain = e.rawLength > 0 ? decompress(stored, e.rawLength, `data blob ${id.slice(0, 12)}`) : stored;
    if (this.src.blobId(plain) !== id)
      throw new SafeholdError('CORRUPT', `data blob ${id.slice(0, 12)}: content does not match its id`);
    const dstId = this.mode === 'reseal' ? id : this.dst.blobId(plain);
    if (!this.dst.knows('data', dstId))
      this.note(await this.dst.addSealed('data', dstId, sealBlob(this.dst.key.encrypt, dstId, stored), e.rawLength));
    return dstId;
  }

  /**
   * A member of a group in src: read through src's group cache (id checked)
   * and regrouped in dst with the other new members of the file, like a dump.
   */
  private async transferMember(id: string): Promise<string> {
    const plain = await this.src.loadBlob('data', id);
    this.counts.read++;
    this.progress.bytesRead += plain.length;
    return this.grouper.save(plain);
  }

  /** Stores a tree in dst unless known there; returns its dst id. */
  private async storeTree(plain: Uint8Array, id?: string): Promise<string> {
    const r = await this.dst.saveBlob('tree', plain, id);
    this.note(r.added);
    return r.id;
  }

  private note(added: number): void {
    if (added > 0) {
      this.counts.blobs++;
      this.counts.bytes += added;
      this.progress.blobsCopied++;
      this.progress.bytesCopied += added;
    }
    this.report();
  }
}

function short(id: string): string {
  return id.slice(0, 8);
}
