// Verification of a copied snapshot: the destination's index is loaded again
// from its index files (not taken from memory), the new snapshot file is read
// back, and its trees are walked side by side with the source's: same names,
// types, metadata and sizes, the same number of blobs per file, and every
// tree and data blob of the copy read from the destination's packs,
// decrypted, decompressed and checked against its id. Data blobs are not
// read from the source again: the copy's id is the destination's keyed hash
// of the source plaintext, so a blob that matches its id is that plaintext.

import { memberOf } from '../../repo/repository.ts';
import type { Repository } from '../../repo/repository.ts';
import { Index } from '../../repo/index.ts';
import type { IndexEntry, IndexFile, Member } from '../../repo/index.ts';
import type { BlobType } from '../../repo/pack.ts';
import { loadTree, parseTree } from '../../repo/tree.ts';
import type { Tree, TreeNode } from '../../repo/tree.ts';
import { loadSnapshot } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { CopyProgress } from './copy-progress.ts';

/** What verification has already established in this run (shared by the snapshots of one copy). */
export interface VerifyState {
  index: Index;
  indexFiles: Set<string>;
  /** Source/copy tree pairs found equal. */
  trees: Set<string>;
  /** Copy data blobs read back intact, with their plaintext length. */
  data: Map<string, number>;
}

export interface CopiedSnapshot {
  source: SnapshotWithId;
  /** Id of the new snapshot in dst and the root tree it must name. */
  copy: string;
  tree: string;
}

const READS_IN_FLIGHT = 8;
/** Node fields that hold blob ids, which differ between the repositories. */
const ID_FIELDS = new Set(['content', 'subtree']);

export function newVerifyState(): VerifyState {
  return { index: new Index(), indexFiles: new Set(), trees: new Set(), data: new Map() };
}

/** Throws CORRUPT at the first difference or unreadable blob. */
export async function verifyCopy(
  src: Repository,
  dst: Repository,
  c: CopiedSnapshot,
  state: VerifyState,
  progress: CopyProgress,
  report: () => void,
): Promise<void> {
  await reloadIndex(dst, state);
  const snap = await loadSnapshot(dst, c.copy);
  if (snap.tree !== c.tree || snap.original !== c.source.id) {
    throw new SafeholdError('CORRUPT', `snapshot ${c.copy.slice(0, 8)} as stored does not name the copied tree`);
  }
  const v = new Verifier(src, dst, state, progress, report);
  await v.compareTrees(c.source.tree, snap.tree, '');
}

async function reloadIndex(dst: Repository, state: VerifyState): Promise<void> {
  for (const f of await dst.backend.list('index')) {
    if (state.indexFiles.has(f.name)) continue;
    state.index.addFile(await dst.loadFile<IndexFile>('index', f.name));
    state.indexFiles.add(f.name);
  }
}

class Verifier {
  private readonly src: Repository;
  private readonly dst: Repository;
  private readonly state: VerifyState;
  private readonly progress: CopyProgress;
  private readonly report: () => void;

  constructor(src: Repository, dst: Repository, state: VerifyState, progress: CopyProgress, report: () => void) {
    this.src = src;
    this.dst = dst;
    this.state = state;
    this.progress = progress;
    this.report = report;
  }

  async compareTrees(srcId: string, dstId: string, dir: string): Promise<void> {
    const key = `${srcId}:${dstId}`;
    if (this.state.trees.has(key)) return;
    const [a, b] = await Promise.all([loadTree(this.src, srcId), this.readTree(dstId)]);
    const where = dir || '/';
    if (a.nodes.length !== b.nodes.length) {
      throw new SafeholdError(
        'CORRUPT',
        `${where}: ${a.nodes.length} entries in the source, ${b.nodes.length} in the copy`,
      );
    }
    const files: { path: string; size: number; ids: string[] }[] = [];
    const dirs: { src: string; dst: string; path: string }[] = [];
    a.nodes.forEach((n, i) => {
      const m = b.nodes[i]!;
      const p = `${dir}/${n.name}`;
      if (n.name !== m.name)
        throw new SafeholdError(
          'CORRUPT',
          `${where}: entry ${JSON.stringify(n.name)} in the source, ${JSON.stringify(m.name)} in the copy`,
        );
      const field = differentField(n, m);
      if (field) throw new SafeholdError('CORRUPT', `${p}: ${field} differs between the source and the copy`);
      if (n.subtree) {
        if (!m.subtree) throw new SafeholdError('CORRUPT', `${p}: the copy has no subtree`);
        dirs.push({ src: n.subtree, dst: m.subtree, path: p });
      }
      if (n.content || m.content) {
        const x = n.content ?? [];
        const y = m.content ?? [];
        if (x.length !== y.length)
          throw new SafeholdError('CORRUPT', `${p}: ${x.length} blobs in the source, ${y.length} in the copy`);
        files.push({ path: p, size: m.size, ids: y });
      }
    });
    await this.checkFiles(files);
    for (const d of dirs) await this.compareTrees(d.src, d.dst, d.path);
    this.state.trees.add(key);
  }

  /** Reads every data blob of the files back from dst; their lengths must add up to each file's size. */
  private async checkFiles(files: { path: string; size: number; ids: string[] }[]): Promise<void> {
    const blobs = files.flatMap((f) => f.ids);
    const lengths = await mapLimit(blobs, READS_IN_FLIGHT, (id) => this.readData(id));
    let i = 0;
    for (const f of files) {
      let sum = 0;
      for (let k = 0; k < f.ids.length; k++) sum += lengths[i++]!;
      if (sum !== f.size)
        throw new SafeholdError('CORRUPT', `${f.path}: the copy's blobs hold ${sum} bytes, the file has ${f.size}`);
    }
  }

  private async readTree(id: string): Promise<Tree> {
    return parseTree(await this.read('tree', id), id);
  }

  private async readData(id: string): Promise<number> {
    const known = this.state.data.get(id);
    if (known !== undefined) return known;
    const n = (await this.read('data', id)).length;
    this.state.data.set(id, n);
    return n;
  }

  /** The group last decoded (a file's members come one group after another). */
  private lastGroup: { id: string; plain: Promise<Buffer> } | undefined;

  /** A member of a group in the copy: its slice of the (authenticated) group, whose id must match. */
  private async readMember(id: string, e: IndexEntry, m: Member): Promise<Buffer> {
    if (this.lastGroup?.id !== m.group) {
      const plain = this.dst.backend
        .load({ type: 'data', name: e.pack }, e.offset, e.length)
        .then((sealed) => this.dst.decodeBlob(m.group, e, sealed));
      this.lastGroup = { id: m.group, plain };
    }
    return memberOf(this.dst.key.mac, await this.lastGroup.plain, id, m);
  }

  /** Reads a blob of the copy through the reloaded index; decodeBlob checks the GCM tag, the length and the id. */
  private async read(type: BlobType, id: string): Promise<Buffer> {
    const e = this.state.index.get(type, id);
    if (!e)
      throw new SafeholdError(
        'CORRUPT',
        `${type} blob ${id.slice(0, 12)} of the copy is not in the destination's index files`,
      );
    const plain = e.member
      ? await this.readMember(id, e, e.member)
      : this.dst.decodeBlob(id, e, await this.dst.backend.load({ type: 'data', name: e.pack }, e.offset, e.length));
    this.progress.blobsVerified++;
    this.progress.bytesVerified += plain.length;
    this.report();
    return plain;
  }
}

/** The first node field (other than blob ids) whose value differs, or undefined. */
function differentField(a: TreeNode, b: TreeNode): string | undefined {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) {
    if (ID_FIELDS.has(k)) continue;
    const x = (a as unknown as Record<string, unknown>)[k];
    const y = (b as unknown as Record<string, unknown>)[k];
    if (JSON.stringify(x) !== JSON.stringify(y)) return k;
  }
  return undefined;
}
