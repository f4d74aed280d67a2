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
  validateNodes(t.nodes, id);
  return t;
}

/** True when a node name could escape its directory on restore. */
export function unsafeName(name: string): boolean {
  return name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0');
}

const NODE_TYPES: ReadonlySet<string> = new Set<NodeType>([
  'file',
  'dir',
  'symlink',
  'fifo',
  'socket',
  'chardev',
  'blockdev',
]);
const BLOB_ID = /^[0-9a-f]{64}$/;
const NANOS = /^-?[0-9]{1,30}$/;

/**
 * Every reader of a tree (restore, ls, diff, check, copy) sees only nodes that
 * are safe to act on: a name that stays in its directory and is unique in it
 * (a directory and a symlink of one name would let a restore follow the
 * link), a known type, and the fields that type needs, of the right kinds.
 */
function validateNodes(nodes: unknown[], id: string): void {
  const names = new Set<string>();
  for (const n of nodes) {
    const node = n as TreeNode;
    if (!node || typeof node !== 'object' || typeof node.name !== 'string') {
      throw new SafeholdError('CORRUPT', `tree ${id.slice(0, 12)}: an entry has no name`);
    }
    if (unsafeName(node.name)) {
      throw new SafeholdError(
        'UNSAFE_PATH',
        `tree ${id.slice(0, 12)}: entry ${JSON.stringify(node.name)} would escape its directory`,
      );
    }
    if (names.has(node.name)) {
      throw new SafeholdError(
        'CORRUPT',
        `tree ${id.slice(0, 12)}: the name ${JSON.stringify(node.name)} appears twice`,
      );
    }
    names.add(node.name);
    const problem = nodeProblem(node);
    if (problem)
      throw new SafeholdError('CORRUPT', `tree ${id.slice(0, 12)}: entry ${JSON.stringify(node.name)} ${problem}`);
  }
}

const isCount = (v: unknown): boolean => Number.isSafeInteger(v) && (v as number) >= 0;

/** What is wrong with a node's fields, or null. */
function nodeProblem(n: TreeNode): string | null {
  if (!NODE_TYPES.has(n.type)) return `has an unknown type ${JSON.stringify(n.type)}`;
  if (!Number.isInteger(n.mode) || n.mode < 0 || n.mode > 0o7777) return 'has an invalid mode';
  if (!isCount(n.uid) || !isCount(n.gid)) return 'has an invalid owner';
  if (typeof n.mtime !== 'string' || !NANOS.test(n.mtime)) return 'has an invalid modification time';
  if (!isCount(n.size)) return 'has an invalid size';
  if (n.links !== undefined && !isCount(n.links)) return 'has an invalid link count';
  if (n.type === 'file') {
    if (
      n.content !== undefined &&
      (!Array.isArray(n.content) || !n.content.every((b) => typeof b === 'string' && BLOB_ID.test(b)))
    ) {
      return 'has an invalid content list';
    }
  } else if (n.content !== undefined && n.content.length > 0) return 'is not a file but lists content';
  if (n.type === 'dir' && (typeof n.subtree !== 'string' || !BLOB_ID.test(n.subtree)))
    return 'is a directory without a valid subtree';
  if (n.type === 'symlink' && (typeof n.linkTarget !== 'string' || n.linkTarget.includes('\0')))
    return 'is a symlink without a valid target';
  return null;
}
