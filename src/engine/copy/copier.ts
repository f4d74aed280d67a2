// The copier of copy.ts: copies a source tree and everything below it into
// the destination, remembering source id → destination id for the run. In
// 'reidentify' mode (MAC keys differ) data blobs get dst.blobId(plaintext)
// and trees are rewritten bottom-up with the mapped ids; an earlier copy's
// trees (a hint) let unchanged subtrees and files be reused without reading
// them. With the same MAC key ids do not change: sealed blobs are passed
// through ('passthrough') or re-sealed ('reseal'). Members of the source's
// groups are regrouped in the destination. Also which of the three modes two
// repositories need (copyMode).

import crypto from 'node:crypto';
import type { Repository } from '../../repo/repository.ts';
import { encodeTree, loadTree, parseTree } from '../../repo/tree.ts';
import type { Tree, TreeNode } from '../../repo/tree.ts';
import { openBlob, sealBlob } from '../../repo/pack.ts';
import { decompress } from '../../repo/encoding.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { GROUP_BYTES, OrderedSaver } from '../backup/ordered-saver.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { CopyProgress } from './copy-progress.ts';

export type CopyMode = 'reidentify' | 'passthrough' | 'reseal';

/** A source tree and the dst tree an earlier copy made of it (for skipping unchanged subtrees). */
export interface Pair {
  src: string;
  dst: string;
}

const BLOBS_IN_FLIGHT = 4;
const MAC_PROBE = Buffer.from('safehold/copy/mac-probe/v1');

/** Compares MAC keys through the ids of a fixed probe, and encryption keys in constant time; no key leaves the process. */
export function copyMode(src: Repository, dst: Repository): CopyMode {
  if (src.blobId(MAC_PROBE) !== dst.blobId(MAC_PROBE)) return 'reidentify';
  return crypto.timingSafeEqual(src.key.encrypt, dst.key.encrypt) ? 'passthrough' : 'reseal';
}

/** Copies trees and data blobs, remembering source id → dst id for the run. */
export class Copier {
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
