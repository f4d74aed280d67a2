// The restorer: recreates a snapshot (or some of its subtrees) under a target
// directory. It reads each needed pack once, writes blobs at their offsets,
// leaves zero-filled ranges as holes (sparse files), links hard links, makes
// symlinks last (so no restored link is ever followed), then applies
// modes, ownership (as root) and times, directories deepest first.
// Every call that sets metadata or removes an entry never follows a symlink
// (no-follow.ts), and the target is resolved to its real path once: nothing
// outside the target is created, changed or deleted, whatever the snapshot
// holds or the target already contains. Directories above an --include that
// already exist keep their own attributes.

import fs from 'node:fs';
import { execFileSync } from 'node:child_process';
import type { Repository } from '../../repo/repository.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { plainLength } from '../../repo/index.ts';
import type { IndexEntry } from '../../repo/index.ts';
import type { TreeNode } from '../../repo/tree.ts';
import { planRestore } from './restore-plan.ts';
import { WorkerPool, workerCount } from '../shared/worker-pool.ts';
import { ownBuffer } from '../shared/own-buffer.ts';
import type { RestoreJob, RestoreJobFile, RestoreWorkerInit, RestoreWorkerMessage } from './restore-worker.ts';
import type { PlannedNode } from './restore-plan.ts';
import { SafeholdError, fromSystemError, sysCode } from '../../core/errors.ts';
import { snapshotPathProblem } from '../../repo/snapshot.ts';
import { applyMeta, realTarget, removeInside } from './no-follow.ts';

export interface RestoreOptions {
  target: string;
  include?: string[];
  /**
   * Snapshot paths (absolute, normalised, not '/') removed under the target
   * once the restore is planned and before anything is written, so that no
   * stale file survives.
   */
  clean?: readonly string[];
  /** Restore ownership; defaults to true when running as root. */
  owner?: boolean;
  progress?: RestoreProgress;
}

export interface RestoreProgress {
  files: number;
  totalFiles: number;
  bytes: number;
  totalBytes: number;
}

export interface RestoreResult {
  files: number;
  dirs: number;
  symlinks: number;
  bytes: number;
  errors: { path: string; message: string }[];
}

interface BlobUse {
  id: string;
  entry: IndexEntry;
}

/** One read of a pack span and the file writes it serves. */
interface Group {
  pack: string;
  blobs: BlobUse[];
  files: RestoreJobFile[];
}

/** A file whose blobs come from several groups: created first, finished when its last group is done. */
interface SplitFile {
  item: PlannedNode;
  remaining: number;
}

/** Read a pack's needed span in one go unless less than this fraction of it is needed. */
const SPAN_DENSITY = 0.4;
/** Upper bound of one read (and of one worker job's bytes). */
const MAX_SPAN = 8 * 1024 * 1024;

export function newRestoreProgress(): RestoreProgress {
  return { files: 0, totalFiles: 0, bytes: 0, totalBytes: 0 };
}

export async function restore(repo: Repository, rootTree: string, opts: RestoreOptions): Promise<RestoreResult> {
  const target = realTarget(opts.target);
  await prepareTarget(target);
  await repo.loadIndex();
  const plan = await planRestore(repo, rootTree, target, opts.include ?? []);
  for (const p of opts.clean ?? []) cleanPath(target, p);
  const progress = opts.progress ?? newRestoreProgress();
  progress.totalFiles = plan.files.length;
  progress.totalBytes = plan.totalBytes;
  const owner = opts.owner ?? process.getuid?.() === 0;
  const result: RestoreResult = { files: 0, dirs: plan.dirs.length, symlinks: plan.symlinks.length, bytes: 0, errors: [] };

  // Directories above an --include that exist already keep their attributes.
  const keepMeta = new Set<string>();
  for (const d of plan.dirs) if (!makeDir(d.dest, target) && d.ancestor) keepMeta.add(d.dest);

  // Hard links: the first file of each (device, inode) gets the content, the others are linked to it.
  const firstOfInode = new Map<string, PlannedNode>();
  const links: { item: PlannedNode; to: PlannedNode }[] = [];
  const contentFiles: PlannedNode[] = [];
  for (const f of plan.files) {
    if (f.node.links > 1) {
      const key = `${f.node.device}:${f.node.inode}`;
      const first = firstOfInode.get(key);
      if (first) { links.push({ item: f, to: first }); continue; }
      firstOfInode.set(key, f);
    }
    contentFiles.push(f);
  }

  const { groups, split, empty } = groupWrites(repo, contentFiles);
  for (const item of empty) {
    createFile(item.dest, 0);
    finishNode(item.dest, item.node, owner);
  }
  for (const sf of split.values()) createFile(sf.item.dest, sf.item.node.size);
  result.files += empty.length;
  progress.files += empty.length;

  const workers = workerCount(1);
  const pool = new WorkerPool<RestoreWorkerMessage>(new URL('./restore-worker.ts', import.meta.url), workers, {
    encrypt: repo.key.encrypt, mac: repo.key.mac, owner,
  } satisfies RestoreWorkerInit);
  try {
    // Two reads per worker in flight: one being written, one ready.
    await mapLimit(groups, 2 * workers, async (g) => {
      const start = g.blobs[0]!.entry.offset;
      const last = g.blobs.at(-1)!.entry;
      const loaded = await repo.backend.load({ type: 'data', name: g.pack }, start, last.offset + last.length - start);
      const bytes = ownBuffer(loaded);
      const job: RestoreJob = {
        bytes,
        blobs: g.blobs.map((b) => {
          const m = b.entry.member;
          return { id: m ? m.group : b.id, offset: b.entry.offset - start, length: b.entry.length, rawLength: b.entry.rawLength, ...(m ? { slice: { id: b.id, start: m.start, length: m.length } } : {}) };
        }),
        files: g.files,
      };
      let res: RestoreWorkerMessage | undefined;
      await pool.run(job, (m) => { res = m; }, [bytes.buffer as ArrayBuffer]);
      if (!res) throw new SafeholdError('INTERNAL', 'restore worker gave no result');
      if (res.error) throw fromSystemError(Object.assign(new Error(res.error), { code: res.errorCode }), `restoring ${res.path}`);
      progress.bytes += res.bytes;
      result.bytes += res.bytes;
      progress.files += res.wholeFiles;
      result.files += res.wholeFiles;
      for (const f of g.files) {
        if (f.whole) continue;
        const sf = split.get(f.dest)!;
        if (--sf.remaining === 0) {
          finishNode(sf.item.dest, sf.item.node, owner);
          progress.files++;
          result.files++;
        }
      }
    });
  } finally {
    await pool.close();
  }

  for (const l of links) {
    replace(l.item.dest, () => fs.linkSync(l.to.dest, l.item.dest));
    progress.files++;
    result.files++;
  }
  for (const s of plan.special) {
    try {
      makeSpecial(s);
      finishNode(s.dest, s.node, owner);
    } catch (e) {
      result.errors.push({ path: s.snapPath, message: e instanceof Error ? e.message : String(e) });
    }
  }
  for (const s of plan.symlinks) {
    replace(s.dest, () => fs.symlinkSync(s.node.linkTarget ?? '', s.dest));
    finishNode(s.dest, s.node, owner);
  }
  for (const d of [...plan.dirs].reverse()) if (!keepMeta.has(d.dest)) finishNode(d.dest, d.node, owner);
  return result;
}

/**
 * Splits the needed blobs into pack-span reads and assigns each file's pieces
 * to them. Files served by one read are written whole by the worker; the
 * others are created up front and finished after their last read.
 */
function groupWrites(repo: Repository, files: PlannedNode[]): { groups: Group[]; split: Map<string, SplitFile>; empty: PlannedNode[] } {
  const byPack = new Map<string, Map<string, BlobUse>>();
  const empty: PlannedNode[] = [];
  for (const item of files) {
    const content = item.node.content ?? [];
    if (content.length === 0) { empty.push(item); continue; }
    let offset = 0;
    for (const id of content) {
      const entry = repo.lookup('data', id);
      let uses = byPack.get(entry.pack);
      if (!uses) byPack.set(entry.pack, (uses = new Map()));
      if (!uses.has(id)) uses.set(id, { id, entry });
      offset += plainLength(entry);
    }
    if (offset !== item.node.size) {
      throw new SafeholdError('CORRUPT', `${item.snapPath}: blobs add up to ${offset} bytes, the tree says ${item.node.size}`);
    }
  }
  const groups: Group[] = [];
  const where = new Map<string, { group: Group; index: number }>();
  for (const [pack, uses] of byPack) {
    for (const blobs of readGroups([...uses.values()].sort((a, b) => a.entry.offset - b.entry.offset))) {
      const g: Group = { pack, blobs, files: [] };
      blobs.forEach((b, index) => where.set(b.id, { group: g, index }));
      groups.push(g);
    }
  }
  const split = new Map<string, SplitFile>();
  for (const item of files) {
    const content = item.node.content ?? [];
    if (content.length === 0) continue;
    const perGroup = new Map<Group, RestoreJobFile>();
    let offset = 0;
    for (const id of content) {
      const w = where.get(id)!;
      let jf = perGroup.get(w.group);
      if (!jf) {
        const n = item.node;
        jf = { dest: item.dest, whole: false, size: n.size, mode: n.mode, uid: n.uid, gid: n.gid, mtime: nsToSeconds(n.mtime), pieces: [] };
        perGroup.set(w.group, jf);
      }
      jf.pieces.push({ blob: w.index, offset });
      offset += plainLength(w.group.blobs[w.index]!.entry);
    }
    if (perGroup.size === 1) {
      const [[g, jf]] = [...perGroup];
      jf.whole = true;
      g.files.push(jf);
    } else {
      split.set(item.dest, { item, remaining: perGroup.size });
      for (const [g, jf] of perGroup) g.files.push(jf);
    }
  }
  return { groups, split, empty };
}

async function prepareTarget(target: string): Promise<void> {
  try {
    const st = await fs.promises.stat(target);
    if (!st.isDirectory()) throw new SafeholdError('RESTORE_TARGET', `restore target ${target} exists and is not a directory`);
  } catch (e) {
    if (sysCode(e) !== 'ENOENT') throw e instanceof SafeholdError ? e : fromSystemError(e, `restore target ${target}`);
    await fs.promises.mkdir(target, { recursive: true, mode: 0o700 }).catch((err) => { throw fromSystemError(err, `creating restore target ${target}`); });
  }
}

// The steps below run on the main thread while it has nothing else to do
// (before and after the workers write file contents): synchronous calls
// avoid a thread-pool round trip for each of tens of thousands of entries.

/** Removes one snapshot path under the target before the restore writes (never the target itself). */
function cleanPath(target: string, p: string): void {
  const problem = snapshotPathProblem(p);
  if (problem) throw new SafeholdError('UNSAFE_PATH', `refusing to clean ${JSON.stringify(p)}: it ${problem}`);
  if (p === '/') throw new SafeholdError('USAGE', `refusing to clean the whole target ${target}: the snapshot is of '/'; restore into an empty directory instead`);
  removeInside(target, p);
}

/**
 * Creates a directory, refusing to go through a symlink or replace a
 * non-directory silently. Returns whether it was created.
 */
function makeDir(dest: string, target: string): boolean {
  try {
    const st = fs.lstatSync(dest);
    if (st.isDirectory()) return false;
    if (st.isSymbolicLink()) throw new SafeholdError('UNSAFE_PATH', `refusing to restore into ${dest}: it is a symlink (it could lead outside ${target})`);
    fs.unlinkSync(dest);
  } catch (e) {
    if (e instanceof SafeholdError) throw e;
    if (sysCode(e) !== 'ENOENT') throw fromSystemError(e, `restoring ${dest}`);
  }
  try {
    fs.mkdirSync(dest, { mode: 0o700 });
  } catch (e) {
    throw fromSystemError(e, `creating ${dest}`);
  }
  return true;
}

/** Removes whatever is at `dest` (never following a link), then creates the new entry. */
function replace(dest: string, make: () => void): void {
  try {
    make();
  } catch (e) {
    if (sysCode(e) !== 'EEXIST') throw fromSystemError(e, `restoring ${dest}`);
    try {
      if (fs.lstatSync(dest).isDirectory()) fs.rmSync(dest, { recursive: true });
      else fs.unlinkSync(dest);
      make();
    } catch (err) {
      throw fromSystemError(err, `restoring ${dest}`);
    }
  }
}

const CREATE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

function createFile(dest: string, size: number): void {
  replace(dest, () => {
    const fd = fs.openSync(dest, CREATE_FLAGS, 0o600);
    try {
      if (size > 0) fs.ftruncateSync(fd, size);
    } finally {
      fs.closeSync(fd);
    }
  });
}

function makeSpecial(s: PlannedNode): void {
  if (s.node.type === 'fifo') {
    replace(s.dest, () => { execFileSync('mkfifo', ['-m', '600', s.dest], { stdio: 'ignore' }); });
    return;
  }
  throw new SafeholdError('IO', `${s.node.type} entries are not restored (only files, directories, links and fifos)`);
}

function finishNode(dest: string, node: TreeNode, owner: boolean): void {
  try {
    const type = node.type === 'dir' || node.type === 'symlink' || node.type === 'fifo' ? node.type : 'file';
    applyMeta(dest, { type, mode: node.mode, uid: node.uid, gid: node.gid, mtime: nsToSeconds(node.mtime) }, owner);
  } catch (e) {
    throw fromSystemError(e, `setting metadata of ${dest}`);
  }
}

function nsToSeconds(ns: string): number {
  const b = BigInt(ns);
  return Number(b / 1_000_000_000n) + Number(b % 1_000_000_000n) / 1e9;
}


/** Splits a pack's needed blobs (sorted by offset) into runs worth reading in one request. */
function readGroups(blobs: BlobUse[]): BlobUse[][] {
  const groups: BlobUse[][] = [];
  let cur: BlobUse[] = [];
  let needed = 0;
  for (const b of blobs) {
    // Members of one group share its stored bytes: count them once.
    const more = cur.length > 0 && cur.at(-1)!.entry.offset === b.entry.offset ? 0 : b.entry.length;
    if (cur.length > 0 && more > 0) {
      const start = cur[0]!.entry.offset;
      const end = b.entry.offset + b.entry.length;
      if ((needed + more) / (end - start) < SPAN_DENSITY || end - start > MAX_SPAN) {
        groups.push(cur);
        cur = [];
        needed = 0;
      }
    }
    cur.push(b);
    needed += cur.length === 1 ? b.entry.length : more;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}
