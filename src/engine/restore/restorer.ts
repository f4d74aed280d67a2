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
import type { Repository } from '../../repo/repository.ts';
import { mapLimit } from '../../core/concurrency.ts';
import { planRestore } from './restore-plan.ts';
import type { RestorePlan } from './restore-plan.ts';
import { WorkerPool, workerCount } from '../shared/worker-pool.ts';
import { ownBuffer } from '../shared/own-buffer.ts';
import type { RestoreJob, RestoreWorkerInit, RestoreWorkerMessage } from './restore-worker.ts';
import type { PlannedNode } from './restore-plan.ts';
import { SafeholdError, fromSystemError } from '../../core/errors.ts';
import { realTarget } from './no-follow.ts';
import { cleanPath, createFile, finishNode, makeDir, makeSpecial, prepareTarget, replace } from './restore-entries.ts';
import { groupWrites } from './write-groups.ts';
import type { WriteGroup, Writes } from './write-groups.ts';

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

export function newRestoreProgress(): RestoreProgress {
  return { files: 0, totalFiles: 0, bytes: 0, totalBytes: 0 };
}

export async function restore(repo: Repository, rootTree: string, opts: RestoreOptions): Promise<RestoreResult> {
  const target = realTarget(opts.target);
  await prepareTarget(target);
  await repo.loadIndex();
  const plan = await planRestore(repo, rootTree, target, opts.include ?? []);
  for (const p of opts.clean ?? []) cleanPath(target, p);
  const run = startRun(plan, opts);
  const keepMeta = makeDirs(plan, target);
  const { contentFiles, links } = splitHardLinks(plan.files);
  const writes = groupWrites(repo, contentFiles);
  createUpFront(writes, run);
  await writeContents(repo, writes, run);
  linkHardLinks(links, run);
  makeSpecials(plan.special, run);
  makeSymlinks(plan.symlinks, run.owner);
  for (const d of [...plan.dirs].reverse()) if (!keepMeta.has(d.dest)) finishNode(d.dest, d.node, run.owner);
  return run.result;
}

/** What the steps of one restore share. */
interface Run {
  progress: RestoreProgress;
  result: RestoreResult;
  owner: boolean;
}

function startRun(plan: RestorePlan, opts: RestoreOptions): Run {
  const progress = opts.progress ?? newRestoreProgress();
  progress.totalFiles = plan.files.length;
  progress.totalBytes = plan.totalBytes;
  const result: RestoreResult = {
    files: 0,
    dirs: plan.dirs.length,
    symlinks: plan.symlinks.length,
    bytes: 0,
    errors: [],
  };
  return { progress, result, owner: opts.owner ?? process.getuid?.() === 0 };
}

function filesDone(run: Run, n: number): void {
  run.progress.files += n;
  run.result.files += n;
}

/** Creates the directories, parents first; returns those above an --include that existed (they keep their attributes). */
function makeDirs(plan: RestorePlan, target: string): Set<string> {
  const keepMeta = new Set<string>();
  for (const d of plan.dirs) if (!makeDir(d.dest, target) && d.ancestor) keepMeta.add(d.dest);
  return keepMeta;
}

/** Hard links: the first file of each (device, inode) gets the content, the others are linked to it. */
function splitHardLinks(files: PlannedNode[]): {
  contentFiles: PlannedNode[];
  links: { item: PlannedNode; to: PlannedNode }[];
} {
  const firstOfInode = new Map<string, PlannedNode>();
  const links: { item: PlannedNode; to: PlannedNode }[] = [];
  const contentFiles: PlannedNode[] = [];
  for (const f of files) {
    if (f.node.links > 1) {
      const key = `${f.node.device}:${f.node.inode}`;
      const first = firstOfInode.get(key);
      if (first) {
        links.push({ item: f, to: first });
        continue;
      }
      firstOfInode.set(key, f);
    }
    contentFiles.push(f);
  }
  return { contentFiles, links };
}

/** Empty files are made and finished now; files split over several reads are created at their size. */
function createUpFront(writes: Writes, run: Run): void {
  for (const item of writes.empty) {
    createFile(item.dest, 0);
    finishNode(item.dest, item.node, run.owner);
  }
  for (const sf of writes.split.values()) createFile(sf.item.dest, sf.item.node.size);
  filesDone(run, writes.empty.length);
}

/** Reads each span once and has the workers write its pieces; a split file is finished after its last piece. */
async function writeContents(repo: Repository, writes: Writes, run: Run): Promise<void> {
  const workers = workerCount(1);
  const pool = new WorkerPool<RestoreWorkerMessage>(new URL('./restore-worker.ts', import.meta.url), workers, {
    encrypt: repo.key.encrypt,
    mac: repo.key.mac,
    owner: run.owner,
  } satisfies RestoreWorkerInit);
  try {
    // Two reads per worker in flight: one being written, one ready.
    await mapLimit(writes.groups, 2 * workers, async (g) => {
      const res = await writeGroup(repo, pool, g);
      run.progress.bytes += res.bytes;
      run.result.bytes += res.bytes;
      filesDone(run, res.wholeFiles);
      for (const f of g.files) {
        if (f.whole) continue;
        const sf = writes.split.get(f.dest)!;
        if (--sf.remaining > 0) continue;
        finishNode(sf.item.dest, sf.item.node, run.owner);
        filesDone(run, 1);
      }
    });
  } finally {
    await pool.close();
  }
}

/** One span read, written by a worker. */
async function writeGroup(
  repo: Repository,
  pool: WorkerPool<RestoreWorkerMessage>,
  g: WriteGroup,
): Promise<RestoreWorkerMessage> {
  const start = g.blobs[0]!.entry.offset;
  const last = g.blobs.at(-1)!.entry;
  const loaded = await repo.backend.load({ type: 'data', name: g.pack }, start, last.offset + last.length - start);
  const bytes = ownBuffer(loaded);
  const job: RestoreJob = {
    bytes,
    blobs: g.blobs.map((b) => {
      const m = b.entry.member;
      const slice = m ? { slice: { id: b.id, start: m.start, length: m.length } } : {};
      return {
        id: m ? m.group : b.id,
        offset: b.entry.offset - start,
        length: b.entry.length,
        rawLength: b.entry.rawLength,
        ...slice,
      };
    }),
    files: g.files,
  };
  let res: RestoreWorkerMessage | undefined;
  await pool.run(
    job,
    (m) => {
      res = m;
    },
    [bytes.buffer as ArrayBuffer],
  );
  if (!res) throw new SafeholdError('INTERNAL', 'restore worker gave no result');
  if (res.error)
    throw fromSystemError(Object.assign(new Error(res.error), { code: res.errorCode }), `restoring ${res.path}`);
  return res;
}

function linkHardLinks(links: { item: PlannedNode; to: PlannedNode }[], run: Run): void {
  for (const l of links) replace(l.item.dest, () => fs.linkSync(l.to.dest, l.item.dest));
  filesDone(run, links.length);
}

/** Fifos (other special files are reported, not restored); a failure is recorded and the restore goes on. */
function makeSpecials(special: PlannedNode[], run: Run): void {
  for (const s of special) {
    try {
      makeSpecial(s);
      finishNode(s.dest, s.node, run.owner);
    } catch (e) {
      run.result.errors.push({ path: s.snapPath, message: e instanceof Error ? e.message : String(e) });
    }
  }
}

/** Symlinks last, so that no restored link is ever followed. */
function makeSymlinks(symlinks: PlannedNode[], owner: boolean): void {
  for (const s of symlinks) {
    replace(s.dest, () => fs.symlinkSync(s.node.linkTarget ?? '', s.dest));
    finishNode(s.dest, s.node, owner);
  }
}
