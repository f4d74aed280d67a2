// Test helper: forges hostile repositories with the project's own writer
// modules (the repository, tree and snapshot encoders), as an attacker who
// can write to a repository would: any tree nodes, any snapshot record. Also
// a sentinel tree to prove that nothing outside a restore target changed, and
// raw tar archives for the tar reader.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { LocalBackend } from '../../src/repo/backend/local-backend.ts';
import { Repository } from '../../src/repo/repository.ts';
import { saveSnapshot } from '../../src/repo/snapshot.ts';
import type { Snapshot } from '../../src/repo/snapshot.ts';
import { encodeTree } from '../../src/repo/tree.ts';
import type { TreeNode } from '../../src/repo/tree.ts';
import { BLOCK, encodeHeader } from '../../src/engine/directory/tar-format.ts';
import type { TarEntry } from '../../src/engine/directory/tar-format.ts';
import { snapshotRecord } from './snapshot-record.ts';

export const FORGER_PASSWORD = 'forger password';
const KDF = { N: 1024, r: 8, p: 1 };
const NS = (BigInt(Date.parse('2026-01-02T03:04:05Z')) * 1_000_000n).toString();

export interface Forger {
  repo: Repository;
  repoDir: string;
  /** Stores bytes as a data blob; returns its id. */
  data(bytes: string | Buffer): Promise<string>;
  /** Stores any list of nodes (unchecked) as a tree blob; returns its id. */
  tree(nodes: unknown[]): Promise<string>;
  /** Saves a snapshot record of `tree` (fields overridable, unchecked). */
  snapshot(tree: string, over?: Partial<Snapshot> & Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function forgeRepository(dir: string): Promise<Forger> {
  const repoDir = path.join(dir, 'repo');
  return forger(await Repository.init(new LocalBackend(repoDir), FORGER_PASSWORD, { kdf: KDF }), repoDir);
}

/** A forger writing into an open repository (e.g. a plan's destination). */
export async function forger(repo: Repository, repoDir: string): Promise<Forger> {
  await repo.loadIndex();
  return {
    repo,
    repoDir,
    async data(bytes) {
      return (await repo.saveBlob('data', Buffer.from(bytes))).id;
    },
    async tree(nodes) {
      const id = (await repo.saveBlob('tree', encodeTree({ nodes: nodes as TreeNode[] }))).id;
      await repo.flush();
      return id;
    },
    async snapshot(tree, over = {}) {
      await repo.flush();
      return saveSnapshot(
        repo,
        snapshotRecord({
          tree,
          paths: ['/x'],
          hostname: 'evil',
          username: 'evil',
          program: 'forger',
          ...over,
        } as Snapshot),
      );
    },
    close: () => repo.close(),
  };
}

/** Tree node builders: a regular file of `content` blobs, a directory, a symlink. */
export function fileNode(name: string, content: string[], size: number, over: Partial<TreeNode> = {}): TreeNode {
  return {
    name,
    type: 'file',
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtime: NS,
    ctime: NS,
    inode: 0,
    device: 0,
    links: 1,
    size,
    content,
    ...over,
  };
}

export function dirNode(name: string, subtree: string, over: Partial<TreeNode> = {}): TreeNode {
  return {
    name,
    type: 'dir',
    mode: 0o777,
    uid: 0,
    gid: 0,
    mtime: NS,
    ctime: NS,
    inode: 0,
    device: 0,
    links: 1,
    size: 0,
    subtree,
    ...over,
  };
}

export function symlinkNode(name: string, linkTarget: string): TreeNode {
  return {
    name,
    type: 'symlink',
    mode: 0o777,
    uid: 0,
    gid: 0,
    mtime: NS,
    ctime: NS,
    inode: 0,
    device: 0,
    links: 1,
    size: 0,
    linkTarget,
  };
}

/**
 * A small tree outside every restore target: files, a directory, a file with
 * mode 0600. `listing()` is a stat+hash listing of it (mode, owner, size,
 * times, content hash, link target) to compare before and after.
 */
export function sentinel(dir: string): { root: string; listing(): Record<string, string> } {
  const root = path.join(dir, 'sentinel');
  fs.mkdirSync(path.join(root, 'inner'), { recursive: true, mode: 0o755 });
  fs.writeFileSync(path.join(root, 'secret'), 'do not touch\n', { mode: 0o600 });
  fs.writeFileSync(path.join(root, 'inner', 'file'), 'inner\n');
  fs.chmodSync(path.join(root, 'secret'), 0o600);
  return { root, listing: () => statListing(root) };
}

export function statListing(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (p: string) => {
    const st = fs.lstatSync(p, { bigint: true });
    const kind = st.isSymbolicLink()
      ? `link:${fs.readlinkSync(p)}`
      : st.isFile()
        ? `file:${createHash('sha256').update(fs.readFileSync(p)).digest('hex')}`
        : st.isDirectory()
          ? 'dir'
          : 'other';
    out[path.relative(root, p) || '.'] =
      `${kind} mode=${(st.mode & 0o7777n).toString(8)} uid=${st.uid} gid=${st.gid} size=${st.size} mtime=${st.mtimeNs}`;
    if (st.isDirectory()) for (const n of fs.readdirSync(p).sort()) walk(path.join(p, n));
  };
  walk(root);
  return out;
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A plain (uncompressed) tar of the given members and their contents, unchecked. */
export function forgeTar(
  members: { entry: Partial<TarEntry> & Pick<TarEntry, 'path' | 'type'>; content?: string }[],
): Buffer {
  const parts: Buffer[] = [];
  for (const m of members) {
    const content = Buffer.from(m.content ?? '');
    const e: TarEntry = {
      size: content.length,
      mode: 0o755,
      uid: 0,
      gid: 0,
      uname: '',
      gname: '',
      mtimeNs: BigInt(NS),
      ...m.entry,
    };
    parts.push(encodeHeader(e), content, Buffer.alloc((BLOCK - (content.length % BLOCK)) % BLOCK));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
