// Trees: the directory listings stored as 'tree' blobs. A node records one
// file system entry with its metadata; a directory node points at its subtree,
// a file node at the ordered list of its data blobs.

import type { Repository } from './repository.ts';
import { SafeholdError } from '../core/errors.ts';

export type NodeType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev';

export interface TreeNode {
  name: string;
  type: NodeType;
  /** Permission bits and set-id/sticky bits (mode & 0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /**
   * Times as nanoseconds since the epoch, in decimal. Access time is not
   * stored: reading files changes it, and every backup would write new trees.
   */
  mtime: string;
  ctime: string;
  inode: number;
  device: number;
  links: number;
  size: number;
  /** Data blob ids, in order (files). */
  content?: string[];
  /** Tree blob id (directories). */
  subtree?: string;
  /** Link target (symlinks). */
  linkTarget?: string;
  /** Device number (character and block devices). */
  rdev?: number;
}

export interface Tree {
  nodes: TreeNode[];
}

export function encodeTree(t: Tree): Buffer {
  return Buffer.from(JSON.stringify(t));
}

export async function loadTree(repo: Repository, id: string): Promise<Tree> {
  const raw = await repo.loadBlob('tree', id);
  return parseTree(raw, id);
}

export function parseTree(raw: Uint8Array, id: string): Tree {
  let t: Tree;
  try {
    t = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.length).toString('utf8')) as Tree;
  } catch (e) {
    throw new SafeholdError('CORRUPT', `tree ${id.slice(0, 12)}: not valid JSON`, { cause: e });
  }
  if (!t || !Array.isArray(t.nodes)) throw new SafeholdError('CORRUPT', `tree ${id.slice(0, 12)}: no node list`);
  return t;
}

/** True when a node name could escape its directory on restore. */
export function unsafeName(name: string): boolean {
  return name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0');
}
