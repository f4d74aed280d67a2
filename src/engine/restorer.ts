// The restorer: recreates a snapshot (or some of its subtrees) under a target
// directory. It reads each needed pack once, writes blobs at their offsets,
// leaves zero-filled ranges as holes (sparse files), links hard links, makes
// symlinks last (so no restored link is ever followed), then applies
// modes, ownership (as root) and times, directories deepest first.

import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Repository } from '../repo/repository.ts';
import { mapLimit } from '../repo/repository.ts';
import type { IndexEntry } from '../repo/index.ts';
import { OVERHEAD } from '../repo/crypto.ts';
import type { TreeNode } from '../repo/tree.ts';
import { planRestore } from './restore-plan.ts';
import type { PlannedNode } from './restore-plan.ts';
import { SafeholdError, fromSystemError, sysCode } from '../core/errors.ts';

export interface RestoreOptions {
  target: string;
  include?: string[];
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

interface FileState {
  item: PlannedNode;
  remaining: number;
  created: boolean;
}

interface BlobUse {
  id: string;
  entry: IndexEntry;
  targets: { file: FileState; offset: number }[];
}

const PACK_CONCURRENCY = 4;
/** Read a pack's needed span in one go unless less than this fraction of it is needed. */
const SPAN_DENSITY = 0.4;

export function newRestoreProgress(): RestoreProgress {
  return { files: 0, totalFiles: 0, bytes: 0, totalBytes: 0 };
}

export async function restore(repo: Repository, rootTree: string, opts: RestoreOptions): Promise<RestoreResult> {
  const target = path.resolve(opts.target);
  await prepareTarget(target);
  await repo.loadIndex();
  const plan = await planRestore(repo, rootTree, target, opts.include ?? []);
  const progress = opts.progress ?? newRestoreProgress();
  progress.totalFiles = plan.files.length;
  progress.totalBytes = plan.totalBytes;
  const owner = opts.owner ?? process.getuid?.() === 0;
  const result: RestoreResult = { files: 0, dirs: plan.dirs.length, symlinks: plan.symlinks.length, bytes: 0, errors: [] };

  for (const d of plan.dirs) await makeDir(d.dest, target);

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

  const byPack = new Map<string, Map<string, BlobUse>>();
  const done = async (st: FileState) => {
    await finishNode(st.item.dest, st.item.node, owner);
    progress.files++;
    result.files++;
  };
  for (const item of contentFiles) {
    const content = item.node.content ?? [];
    const st: FileState = { item, remaining: content.length, created: false };
    let offset = 0;
    for (const id of content) {
      const entry = repo.lookup(id);
      let uses = byPack.get(entry.pack);
      if (!uses) byPack.set(entry.pack, (uses = new Map()));
      let use = uses.get(id);
      if (!use) uses.set(id, (use = { id, entry, targets: [] }));
      use.targets.push({ file: st, offset });
      offset += plainLength(entry);
    }
    if (offset !== item.node.size && content.length > 0) {
      throw new SafeholdError('CORRUPT', `${item.snapPath}: blobs add up to ${offset} bytes, the tree says ${item.node.size}`);
    }
  }
  // Create every file at its full size first: holes stay where no data is written.
  await mapLimit(contentFiles, 32, async (item) => {
    await createFile(item.dest, item.node.size);
    if ((item.node.content ?? []).length === 0) await done({ item, remaining: 0, created: true });
  });

  await mapLimit([...byPack], PACK_CONCURRENCY, async ([pack, uses]) => {
    const blobs = [...uses.values()].sort((a, b) => a.entry.offset - b.entry.offset);
    for (const group of readGroups(blobs)) {
      const start = group[0]!.entry.offset;
      const end = group.at(-1)!.entry.offset + group.at(-1)!.entry.length;
      const buf = await repo.backend.load({ type: 'data', name: pack }, start, end - start);
      for (const b of group) {
        const data = repo.decodeBlob(b.id, b.entry, buf.subarray(b.entry.offset - start, b.entry.offset - start + b.entry.length));
        const zero = isZero(data);
        for (const t of b.targets) {
          if (!zero) await writeAt(t.file.item.dest, data, t.offset);
          progress.bytes += data.length;
          result.bytes += data.length;
          if (--t.file.remaining === 0) await done(t.file);
        }
      }
    }
  });

  for (const l of links) {
    await replace(l.item.dest, () => fs.promises.link(l.to.dest, l.item.dest));
    progress.files++;
    result.files++;
  }
  for (const s of plan.special) {
    try {
      await makeSpecial(s);
      await finishNode(s.dest, s.node, owner);
    } catch (e) {
      result.errors.push({ path: s.snapPath, message: e instanceof Error ? e.message : String(e) });
    }
  }
  for (const s of plan.symlinks) {
    await replace(s.dest, () => fs.promises.symlink(s.node.linkTarget ?? '', s.dest));
    await finishNode(s.dest, s.node, owner);
  }
  for (const d of [...plan.dirs].reverse()) await finishNode(d.dest, d.node, owner);
  return result;
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

/** Creates a directory, refusing to go through a symlink or replace a non-directory silently. */
async function makeDir(dest: string, target: string): Promise<void> {
  try {
    const st = await fs.promises.lstat(dest);
    if (st.isDirectory()) return;
    if (st.isSymbolicLink()) throw new SafeholdError('UNSAFE_PATH', `refusing to restore into ${dest}: it is a symlink (it could lead outside ${target})`);
    await fs.promises.unlink(dest);
  } catch (e) {
    if (e instanceof SafeholdError) throw e;
    if (sysCode(e) !== 'ENOENT') throw fromSystemError(e, `restoring ${dest}`);
  }
  await fs.promises.mkdir(dest, { mode: 0o700 }).catch((e) => { throw fromSystemError(e, `creating ${dest}`); });
}

/** Removes whatever is at `dest` (never following a link), then creates the new entry. */
async function replace(dest: string, make: () => Promise<void>): Promise<void> {
  try {
    await make();
  } catch (e) {
    if (sysCode(e) !== 'EEXIST') throw fromSystemError(e, `restoring ${dest}`);
    const st = await fs.promises.lstat(dest);
    if (st.isDirectory()) await fs.promises.rm(dest, { recursive: true });
    else await fs.promises.unlink(dest);
    await make().catch((err) => { throw fromSystemError(err, `restoring ${dest}`); });
  }
}

const CREATE_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW;

async function createFile(dest: string, size: number): Promise<void> {
  await replace(dest, async () => {
    const fh = await fs.promises.open(dest, CREATE_FLAGS, 0o600);
    try {
      if (size > 0) await fh.truncate(size);
    } finally {
      await fh.close();
    }
  });
}

async function writeAt(dest: string, data: Buffer, offset: number): Promise<void> {
  const fh = await fs.promises.open(dest, fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW).catch((e) => { throw fromSystemError(e, `writing ${dest}`); });
  try {
    let done = 0;
    while (done < data.length) done += (await fh.write(data, done, data.length - done, offset + done)).bytesWritten;
  } catch (e) {
    throw fromSystemError(e, `writing ${dest}`);
  } finally {
    await fh.close();
  }
}

async function makeSpecial(s: PlannedNode): Promise<void> {
  if (s.node.type === 'fifo') {
    await replace(s.dest, async () => { await promisify(execFile)('mkfifo', ['-m', '600', s.dest]); });
    return;
  }
  throw new SafeholdError('IO', `${s.node.type} entries are not restored (only files, directories, links and fifos)`);
}

async function finishNode(dest: string, node: TreeNode, owner: boolean): Promise<void> {
  try {
    if (owner) await fs.promises.lchown(dest, node.uid, node.gid);
    if (node.type !== 'symlink') await fs.promises.chmod(dest, node.mode);
    const mtime = nsToSeconds(node.mtime);
    await fs.promises.lutimes(dest, mtime, mtime);
  } catch (e) {
    throw fromSystemError(e, `setting metadata of ${dest}`);
  }
}

function nsToSeconds(ns: string): number {
  const b = BigInt(ns);
  return Number(b / 1_000_000_000n) + Number(b % 1_000_000_000n) / 1e9;
}

export function plainLength(e: IndexEntry): number {
  return e.rawLength > 0 ? e.rawLength : e.length - OVERHEAD;
}

/** Splits a pack's needed blobs (sorted by offset) into runs worth reading in one request. */
function readGroups(blobs: BlobUse[]): BlobUse[][] {
  const groups: BlobUse[][] = [];
  let cur: BlobUse[] = [];
  let needed = 0;
  for (const b of blobs) {
    if (cur.length > 0) {
      const start = cur[0]!.entry.offset;
      const end = b.entry.offset + b.entry.length;
      if ((needed + b.entry.length) / (end - start) < SPAN_DENSITY) {
        groups.push(cur);
        cur = [];
        needed = 0;
      }
    }
    cur.push(b);
    needed += b.entry.length;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}

function isZero(b: Buffer): boolean {
  if (b.length < 4096) return false;
  for (let i = 0; i < b.length; i += 8) if (b[i] !== 0) return false;
  return b.equals(Buffer.alloc(b.length));
}
