// The archiver: backs up file system paths into a snapshot. It walks the
// paths, reuses the content of files unchanged since the parent snapshot
// (size, mtime, ctime and inode all equal), sends the other files to worker
// threads that chunk, hash, compress and seal them, stores trees bottom-up,
// then writes packs, the index and finally the snapshot (the commit point).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BigIntStats } from 'node:fs';
import type { Repository } from '../../repo/repository.ts';
import { encodeTree, loadTree } from '../../repo/tree.ts';
import type { TreeNode } from '../../repo/tree.ts';
import { saveSnapshot } from '../../repo/snapshot.ts';
import type { Snapshot, SnapshotMeta, SnapshotSummary, SnapshotWithId } from '../../repo/snapshot.ts';
import { WorkerPool, workerCount } from '../shared/worker-pool.ts';
import type { FileJob, FileWorkerInit, FileWorkerMessage } from './file-worker.ts';
import { nodeFromStat } from './node-meta.ts';
import { Excluder } from './excluder.ts';
import { ExcludeMarkers } from './exclude-markers.ts';
import type { MarkerOptions } from './exclude-markers.ts';
import { PROGRAM } from '../shared/program.ts';
import { SafeholdError } from '../../core/errors.ts';
import { Semaphore } from '../../core/semaphore.ts';
import { removeLeftovers } from '../shared/leftovers.ts';
import { resolvePaths } from './source-paths.ts';

const FILES_IN_FLIGHT = 64;
const EXTRA_WALKERS = 8;

export interface BackupOptions {
  paths: string[];
  excludes?: string[];
  /** Directories left out by a file inside them (--exclude-if-present, --exclude-caches). */
  markers?: MarkerOptions;
  tags?: string[];
  parent?: SnapshotWithId | null;
  oneFileSystem?: boolean;
  workers?: number;
  /** Mutated while the backup runs; read it for progress. */
  progress?: BackupProgress;
  /** Stops the walk (the snapshot is not saved; the reason is thrown). */
  signal?: AbortSignal;
  /** Recorded with the snapshot (its consistency group run). */
  meta?: SnapshotMeta;
}

export interface BackupProgress {
  files: number;
  dirs: number;
  bytesRead: number;
  errors: number;
}

export interface BackupError {
  path: string;
  message: string;
}

export interface BackupResult {
  id: string;
  snapshot: Snapshot;
  errors: BackupError[];
}

interface PathTrie {
  /** Backed up whole from here. */
  target: boolean;
  children: Map<string, PathTrie>;
}

export function newProgress(): BackupProgress {
  return { files: 0, dirs: 0, bytesRead: 0, errors: 0 };
}

export async function backup(repo: Repository, opts: BackupOptions): Promise<BackupResult> {
  const started = repo.clock.now();
  const paths = await resolvePaths(opts.paths);
  await repo.loadIndex();
  await removeLeftovers(repo);
  const a = new Archiver(repo, opts);
  try {
    const rootParent = opts.parent ? opts.parent.tree : undefined;
    const tree = await a.trieTree('/', buildTrie(paths), rootParent);
    opts.signal?.throwIfAborted();
    await repo.flush();
    const summary: SnapshotSummary = {
      ...a.summary,
      bytesAdded: repo.added.bytes,
      durationMs: repo.clock.now() - started,
    };
    const snapshot: Snapshot = {
      version: 1,
      time: new Date(started).toISOString(),
      tree,
      paths,
      hostname: os.hostname(),
      username: safeUser(),
      uid: process.getuid?.() ?? 0,
      gid: process.getgid?.() ?? 0,
      tags: opts.tags ?? [],
      excludes: opts.excludes ?? [],
      ...(opts.parent ? { parent: opts.parent.id } : {}),
      kind: 'files',
      ...(opts.meta ? { meta: opts.meta } : {}),
      program: PROGRAM,
      summary,
    };
    const id = await saveSnapshot(repo, snapshot);
    return { id, snapshot, errors: a.errors };
  } finally {
    await a.close();
  }
}

class Archiver {
  readonly repo: Repository;
  readonly errors: BackupError[] = [];
  readonly summary = {
    filesNew: 0,
    filesChanged: 0,
    filesUnchanged: 0,
    filesFailed: 0,
    dirs: 0,
    bytesRead: 0,
    totalSize: 0,
    totalFiles: 0,
  };
  private readonly progress: BackupProgress;
  private readonly excluder: Excluder;
  private readonly markers: ExcludeMarkers;
  private readonly oneFs: boolean;
  private readonly signal: AbortSignal | undefined;
  private pool: WorkerPool<FileWorkerMessage> | null = null;
  private readonly workers: number;
  /** Files handed to workers and not yet stored. */
  private readonly slots = new Semaphore(FILES_IN_FLIGHT);
  /** Extra directory walkers beside the main one. */
  private readonly walkers = new Semaphore(EXTRA_WALKERS);

  constructor(repo: Repository, opts: BackupOptions) {
    this.repo = repo;
    this.progress = opts.progress ?? newProgress();
    this.excluder = new Excluder(opts.excludes ?? []);
    this.markers = new ExcludeMarkers(opts.markers);
    this.oneFs = opts.oneFileSystem ?? false;
    this.signal = opts.signal;
    this.workers = opts.workers ?? workerCount(2);
  }

  private getPool(): WorkerPool<FileWorkerMessage> {
    if (!this.pool) {
      const init: FileWorkerInit = {
        encrypt: this.repo.key.encrypt,
        mac: this.repo.key.mac,
        chunkerSeed: this.repo.key.chunkerSeed,
        chunker: this.repo.config.chunker,
      };
      this.pool = new WorkerPool(new URL('./file-worker.ts', import.meta.url), this.workers, init);
    }
    return this.pool;
  }

  async close(): Promise<void> {
    await this.pool?.close();
  }

  private fail(p: string, e: unknown): void {
    this.errors.push({ path: p, message: e instanceof Error ? e.message : String(e) });
    this.progress.errors++;
  }

  /**
   * A directory that leads to backed-up paths but is not backed up whole.
   * Resolves once its tree is stored.
   */
  async trieTree(dir: string, trie: PathTrie, parentTree: string | undefined): Promise<string> {
    const parent = await this.parentNodes(parentTree);
    const parts: Promise<TreeNode | null>[] = [];
    for (const name of [...trie.children.keys()].sort()) {
      const child = trie.children.get(name)!;
      const p = path.join(dir, name);
      const st = await fs.promises.lstat(p, { bigint: true });
      if (child.target) {
        parts.push((await this.entry(p, name, st, parent.get(name), st.dev)).done);
      } else {
        const node = nodeFromStat(name, st);
        node.subtree = await this.trieTree(p, child, parent.get(name)?.subtree);
        parts.push(Promise.resolve(node));
      }
    }
    return this.saveTree(parts);
  }

  /** Stores a tree once all its nodes are complete; failed entries (null) are left out. */
  private async saveTree(parts: Promise<TreeNode | null>[]): Promise<string> {
    const nodes = (await Promise.all(parts)).filter((n): n is TreeNode => n !== null);
    return (await this.repo.saveBlob('tree', encodeTree({ nodes }))).id;
  }

  private async parentNodes(id: string | undefined): Promise<Map<string, TreeNode>> {
    const m = new Map<string, TreeNode>();
    if (!id) return m;
    try {
      for (const n of (await loadTree(this.repo, id)).nodes) m.set(n.name, n);
    } catch {
      // A damaged parent only costs re-reading; the new snapshot stays complete.
    }
    return m;
  }

  /**
   * Walks one entry. Resolves when the entry has been walked (files handed to
   * workers, directories listed recursively); `done` resolves when its node is
   * complete. One walker moves depth-first while workers finish earlier files,
   * and `slots` bounds the files in flight, so memory stays flat on any tree.
   */
  private async entry(
    p: string,
    name: string,
    st: BigIntStats,
    prev: TreeNode | undefined,
    rootDev: bigint,
  ): Promise<Walked> {
    const node = nodeFromStat(name, st);
    switch (node.type) {
      case 'file':
        return this.file(p, node, prev);
      case 'dir': {
        this.summary.dirs++;
        this.progress.dirs++;
        const setSubtree = (id: string) => {
          node.subtree = id;
          return node;
        };
        if (this.oneFs && st.dev !== rootDev) return { done: this.saveTree([]).then(setSubtree) };
        const walk = () => this.dir(p, prev?.type === 'dir' ? prev.subtree : undefined, rootDev);
        // Walk the subdirectory alongside this one when a walker is free (listing
        // and stat calls overlap on a cold cache); else walk it here. Never waits.
        if (this.walkers.tryAcquire()) {
          const walked = walk().finally(() => this.walkers.release());
          return { done: walked.then((sub) => sub.done).then(setSubtree) };
        }
        return { done: (await walk()).done.then(setSubtree) };
      }
      case 'symlink':
        return {
          done: fs.promises.readlink(p).then(
            (target) => {
              node.linkTarget = target;
              return node;
            },
            (e) => {
              this.fail(p, e);
              return null;
            },
          ),
        };
      default:
        return { done: Promise.resolve(node) };
    }
  }

  private async dir(p: string, parentTree: string | undefined, rootDev: bigint): Promise<{ done: Promise<string> }> {
    let names: string[];
    try {
      names = (await fs.promises.readdir(p)).sort();
    } catch (e) {
      this.fail(p, e);
      return { done: this.saveTree([]) };
    }
    const [parent, stats] = await Promise.all([
      this.parentNodes(parentTree),
      Promise.all(
        names.map((name) =>
          fs.promises.lstat(`${p}/${name}`, { bigint: true }).then(
            (st) => ({ st }),
            (error: unknown) => ({ error }),
          ),
        ),
      ),
    ]);
    const parts: Promise<TreeNode | null>[] = [];
    try {
      for (let i = 0; i < names.length; i++) {
        this.signal?.throwIfAborted();
        const name = names[i]!;
        const cp = `${p}/${name}`;
        const r = stats[i]!;
        if ('error' in r) {
          this.fail(cp, r.error);
          continue;
        }
        if (!this.excluder.empty && this.excluder.excludes(cp, name, r.st.isDirectory())) continue;
        if (!this.markers.empty && r.st.isDirectory() && (await this.markers.excludes(cp))) continue;
        parts.push((await this.entry(cp, name, r.st, parent.get(name), rootDev)).done);
      }
    } catch (e) {
      // Cancelled (or failed) mid-directory: what is in flight is dropped, not reported again.
      for (const part of parts) part.catch(() => {});
      throw e;
    }
    return { done: this.saveTree(parts) };
  }

  private async file(p: string, node: TreeNode, prev: TreeNode | undefined): Promise<Walked> {
    this.summary.totalFiles++;
    this.summary.totalSize += node.size;
    if (prev && unchanged(prev, node) && prev.content!.every((id) => this.repo.knows('data', id))) {
      node.content = prev.content;
      this.summary.filesUnchanged++;
      this.progress.files++;
      return { done: Promise.resolve(node) };
    }
    await this.slots.acquire();
    return { done: this.readFile(p, node, prev).finally(() => this.slots.release()) };
  }

  private async readFile(p: string, node: TreeNode, prev: TreeNode | undefined): Promise<TreeNode | null> {
    const content: string[] = [];
    const adds: Promise<number>[] = [];
    let result: { size: number; error?: string } = { size: 0 };
    await this.getPool().run({ path: p, size: node.size } satisfies FileJob, (m) => {
      if (m.done) result = m;
      else {
        content.push(m.id);
        const add = this.repo.addSealed('data', m.id, m.sealed, m.rawLength);
        // Awaited below, once the file is read: until then a failed upload must not count as unhandled.
        add.catch(() => {});
        adds.push(add);
      }
    });
    await Promise.all(adds);
    this.progress.files++;
    if (result.error) {
      this.summary.filesFailed++;
      this.fail(p, new Error(result.error));
      return null;
    }
    this.summary.bytesRead += result.size;
    this.progress.bytesRead += result.size;
    if (prev) this.summary.filesChanged++;
    else this.summary.filesNew++;
    node.size = result.size;
    node.content = content;
    return node;
  }
}

/** An entry that has been walked; `done` resolves to its finished node (null: left out). */
interface Walked {
  done: Promise<TreeNode | null>;
}

function unchanged(prev: TreeNode, cur: TreeNode): boolean {
  return (
    prev.type === 'file' &&
    prev.size === cur.size &&
    prev.mtime === cur.mtime &&
    prev.ctime === cur.ctime &&
    prev.inode === cur.inode &&
    Array.isArray(prev.content)
  );
}

function buildTrie(paths: string[]): PathTrie {
  const root: PathTrie = { target: false, children: new Map() };
  for (const p of paths) {
    let t = root;
    const parts = p.split('/').filter(Boolean);
    if (parts.length === 0) {
      throw new SafeholdError('USAGE', "backing up '/' as a whole is not supported yet: name its directories");
    }
    for (const part of parts) {
      let c = t.children.get(part);
      if (!c) t.children.set(part, (c = { target: false, children: new Map() }));
      t = c;
    }
    t.target = true;
  }
  return root;
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return 'unknown';
  }
}
