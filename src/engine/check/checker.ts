// The checker: proves a repository is sound. Structure: every index and
// snapshot file opens and matches its name, every pack the index names
// exists and is large enough, every tree of every snapshot loads and every
// blob it references is indexed. With readData: every pack is read whole,
// its name (SHA-256) verified, its header parsed, every blob decrypted,
// decompressed and checked against its id, and the header compared with the
// index. Each problem is reported with the object it affects.

import type { GroupMember, Repository } from '../../repo/repository.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { Index, plainLength } from '../../repo/index.ts';
import type { IndexFile } from '../../repo/index.ts';
import { OVERHEAD } from '../../repo/crypto.ts';
import { PACK_ENTRY_BYTES } from '../../repo/pack.ts';
import type { PackEntry } from '../../repo/pack.ts';
import { WorkerPool, workerCount } from '../shared/worker-pool.ts';
import { ownBuffer } from '../shared/own-buffer.ts';
import type { CheckJob, CheckWorkerInit, CheckWorkerMessage } from './check-worker.ts';
import { parseTree } from '../../repo/tree.ts';
import { loadSnapshot } from '../../repo/snapshot.ts';
import { isSafeholdError } from '../../core/errors.ts';

export interface CheckProblem {
  /** The object affected, e.g. 'pack 1a2b3c…', 'snapshot 9f8e…', 'tree …'. */
  object: string;
  message: string;
}

export interface CheckProgress {
  phase: 'index' | 'packs' | 'snapshots' | 'trees' | 'data';
  done: number;
  total: number;
}

export interface CheckResult {
  ok: boolean;
  errors: CheckProblem[];
  /** Not errors: e.g. packs no index names (left by an interrupted backup). */
  warnings: CheckProblem[];
  stats: { snapshots: number; trees: number; blobs: number; packs: number; packsRead: number; bytesRead: number };
}

export async function check(
  repo: Repository,
  opts: { readData?: boolean; progress?: CheckProgress } = {},
): Promise<CheckResult> {
  const progress = opts.progress ?? { phase: 'index', done: 0, total: 0 };
  const res: CheckResult = {
    ok: true,
    errors: [],
    warnings: [],
    stats: { snapshots: 0, trees: 0, blobs: 0, packs: 0, packsRead: 0, bytesRead: 0 },
  };
  const err = (object: string, e: unknown) => {
    const message = e instanceof Error ? e.message : String(e);
    // Messages from lower layers may start with the object's name already.
    res.errors.push({
      object,
      message: message.startsWith(`${object}: `) ? message.slice(object.length + 2) : message,
    });
  };

  // Index files: each must open; together they form the index used below.
  const index = new Index();
  /** Exact size of each indexed pack, from the index files' full listings. */
  const packSizes = new Map<string, number>();
  const packBlobs = new Map<string, number>();
  const indexFiles = await repo.backend.list('index');
  Object.assign(progress, { phase: 'index', done: 0, total: indexFiles.length });
  await mapLimit(indexFiles, 8, async (f) => {
    try {
      const file = await repo.loadFile<IndexFile>('index', f.name);
      index.addFile(file);
      for (const p of file.packs) {
        packSizes.set(p.id, expectedPackSize(p.blobs));
        packBlobs.set(p.id, p.blobs.length);
      }
    } catch (e) {
      err(`index ${short(f.name)}`, e);
    }
    progress.done++;
  });
  res.stats.blobs = index.size;
  const membersByGroup = checkMembers(index, err);

  // Packs: every indexed pack must exist and hold its blobs' ranges. Every pack an index file
  // names counts, also one whose blobs all have copies in other packs (byPack, built from the
  // deduplicated index, leaves such a pack out).
  const stored = new Map((await repo.backend.list('data')).map((f) => [f.name, f.size]));
  const byPack = index.byPack();
  res.stats.packs = stored.size;
  Object.assign(progress, { phase: 'packs', done: 0, total: packSizes.size });
  for (const [pack, expected] of packSizes) {
    const size = stored.get(pack);
    const blobs = byPack.get(pack) ?? [];
    if (size === undefined) err(`pack ${short(pack)}`, `missing: the index names it for ${packBlobs.get(pack)} blobs`);
    else {
      const end = Math.max(0, ...blobs.map((b) => b.offset + b.length));
      if (end > size) err(`pack ${short(pack)}`, `truncated: ${size} bytes, the index needs ${end}`);
      else if (expected !== size)
        err(`pack ${short(pack)}`, `has ${size} bytes, the index says ${expected} (truncated or extended)`);
    }
    progress.done++;
  }
  for (const pack of stored.keys()) {
    if (!packSizes.has(pack))
      res.warnings.push({
        object: `pack ${short(pack)}`,
        message: 'not in any index (left by an interrupted backup or prune; harmless, prune removes it)',
      });
  }

  // Snapshots and their trees.
  const snapFiles = await repo.backend.list('snapshots');
  Object.assign(progress, { phase: 'snapshots', done: 0, total: snapFiles.length });
  const roots: { tree: string; snap: string }[] = [];
  await mapLimit(snapFiles, 16, async (f) => {
    try {
      const s = await loadSnapshot(repo, f.name);
      roots.push({ tree: s.tree, snap: f.name });
      res.stats.snapshots++;
    } catch (e) {
      err(`snapshot ${short(f.name)}`, e);
    }
    progress.done++;
  });
  await checkTrees(repo, index, roots, res, progress, err);

  if (opts.readData) await readData(repo, index, byPack, membersByGroup, stored, res, progress, err);
  res.ok = res.errors.length === 0;
  return res;
}

async function checkTrees(
  repo: Repository,
  index: Index,
  roots: { tree: string; snap: string }[],
  res: CheckResult,
  progress: CheckProgress,
  err: (object: string, e: unknown) => void,
): Promise<void> {
  const seen = new Set<string>();
  Object.assign(progress, { phase: 'trees', done: 0, total: 0 });
  const visit = async (id: string, where: string): Promise<void> => {
    if (seen.has(id)) return;
    seen.add(id);
    progress.total++;
    if (!index.has('tree', id)) {
      err(
        `tree ${short(id)}`,
        index.has('data', id)
          ? `indexed as a data blob, not a tree (referenced by ${where})`
          : `missing from the index (referenced by ${where})`,
      );
      return;
    }
    const e = index.get('tree', id)!;
    if (e.type !== 'tree') {
      err(`tree ${short(id)}`, `is indexed as a ${e.type} blob, not a tree (referenced by ${where})`);
      return;
    }
    let nodes;
    try {
      const sealed = await repo.backend.load({ type: 'data', name: e.pack }, e.offset, e.length);
      nodes = parseTree(repo.decodeBlob(id, e, sealed), id).nodes;
    } catch (e) {
      err(`tree ${short(id)}`, isSafeholdError(e) ? e.message : e);
      return;
    }
    res.stats.trees++;
    progress.done++;
    const subs: Promise<void>[] = [];
    for (const n of nodes) {
      const p = `${where}/${n.name}`;
      if (n.type === 'dir') {
        subs.push(visit(n.subtree!, p));
      } else if (n.type === 'file') {
        for (const b of n.content ?? []) {
          if (!index.has('data', b)) {
            err(
              `blob ${short(b)}`,
              index.has('tree', b)
                ? `indexed as a tree blob, not data (file ${p})`
                : `missing from the index (file ${p})`,
            );
          }
        }
      }
    }
    await Promise.all(subs);
  };
  await mapLimit(roots, 4, (r) => visit(r.tree, `snapshot ${short(r.snap)}:`));
}

async function readData(
  repo: Repository,
  index: Index,
  byPack: Map<string, { id: string; type: string }[]>,
  membersByGroup: Map<string, GroupMember[]>,
  stored: Map<string, number>,
  res: CheckResult,
  progress: CheckProgress,
  err: (object: string, e: unknown) => void,
): Promise<void> {
  const packs = [...stored.keys()];
  Object.assign(progress, { phase: 'data', done: 0, total: packs.length });
  const workers = workerCount(1);
  const pool = new WorkerPool<CheckWorkerMessage>(new URL('./check-worker.ts', import.meta.url), workers, {
    encrypt: repo.key.encrypt,
    mac: repo.key.mac,
  } satisfies CheckWorkerInit);
  try {
    // Two packs per worker in flight: one being verified, one read and waiting.
    await mapLimit(packs, 2 * workers, async (pack) => {
      const what = `pack ${short(pack)}`;
      let loaded: Buffer;
      try {
        loaded = await repo.backend.load({ type: 'data', name: pack });
      } catch (e) {
        err(what, e);
        progress.done++;
        return;
      }
      res.stats.bytesRead += loaded.length;
      res.stats.packsRead++;
      const bytes = ownBuffer(loaded);
      let result: CheckWorkerMessage | undefined;
      const members: CheckJob['members'] = {};
      for (const b of byPack.get(pack) ?? []) {
        const ms = b.type === 'data' ? membersByGroup.get(b.id) : undefined;
        if (ms) members[b.id] = ms;
      }
      await pool.run(
        { pack, bytes, members } satisfies CheckJob,
        (m) => {
          result = m;
        },
        [bytes.buffer as ArrayBuffer],
      );
      for (const p of result!.problems) err(p.object, p.message);
      comparePackWithIndex(pack, result!.entries, index, byPack, err);
      progress.done++;
    });
  } finally {
    await pool.close();
  }
}

/** Members of groups: each must lie inside its group's plaintext. Returns the members of indexed groups, by group. */
function checkMembers(index: Index, err: (object: string, e: unknown) => void): Map<string, GroupMember[]> {
  const byGroup = new Map<string, GroupMember[]>();
  for (const [id, m] of index.members()) {
    const g = index.get('data', m.group);
    if (!g || g.member) continue; // a missing group is an error only where a file needs the member (checkTrees)
    if (m.start < 0 || m.length <= 0 || m.start + m.length > plainLength(g)) {
      err(
        `blob ${short(id)}`,
        `lies outside its group ${short(m.group)} (${m.start}+${m.length} of ${plainLength(g)} bytes)`,
      );
      continue;
    }
    let l = byGroup.get(m.group);
    if (!l) byGroup.set(m.group, (l = []));
    l.push({ id, start: m.start, length: m.length });
  }
  return byGroup;
}

/** The pack header (when it could be read) against what the index says of the pack. */
function comparePackWithIndex(
  pack: string,
  entries: PackEntry[],
  index: Index,
  byPack: Map<string, { id: string; type: string }[]>,
  err: (object: string, e: unknown) => void,
): void {
  if (entries.length === 0) return;
  const what = `pack ${short(pack)}`;
  const inHeader = new Set(entries.map((e) => `${e.type}:${e.id}`));
  for (const b of byPack.get(pack) ?? []) {
    if (!inHeader.has(`${b.type}:${b.id}`))
      err(`${what} blob ${short(b.id)}`, `the index places this ${b.type} blob here, the pack header does not list it`);
  }
  for (const e of entries) {
    const ie = index.get(e.type, e.id);
    const other = index.get(e.type === 'tree' ? 'data' : 'tree', e.id);
    if (ie && ie.pack === pack && (ie.offset !== e.offset || ie.length !== e.length)) {
      err(`${what} blob ${short(e.id)}`, 'the index and the pack header disagree on where the blob is');
    } else if (!ie && other?.pack === pack && other.offset === e.offset) {
      err(`${what} blob ${short(e.id)}`, `the index and the pack header disagree on its type (header: ${e.type})`);
    }
  }
}

/** Blobs, then the sealed header (41 bytes an entry + nonce and tag), then its 4-byte length. */
function expectedPackSize(blobs: { length: number }[]): number {
  return blobs.reduce((n, b) => n + b.length, 0) + blobs.length * PACK_ENTRY_BYTES + OVERHEAD + 4;
}

function short(id: string): string {
  return id.slice(0, 12);
}
