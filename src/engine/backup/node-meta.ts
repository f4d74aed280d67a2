// Turns lstat results into tree nodes (metadata only: no content).

import type { BigIntStats } from 'node:fs';
import type { NodeType, TreeNode } from '../../repo/tree.ts';

export function nodeType(st: BigIntStats): NodeType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isSocket()) return 'socket';
  if (st.isCharacterDevice()) return 'chardev';
  return 'blockdev';
}

export function nodeFromStat(name: string, st: BigIntStats): TreeNode {
  const type = nodeType(st);
  const node: TreeNode = {
    name,
    type,
    mode: Number(st.mode & 0o7777n),
    uid: Number(st.uid),
    gid: Number(st.gid),
    mtime: st.mtimeNs.toString(),
    ctime: st.ctimeNs.toString(),
    inode: Number(st.ino),
    device: Number(st.dev),
    links: Number(st.nlink),
    size: type === 'file' ? Number(st.size) : 0,
  };
  if (type === 'chardev' || type === 'blockdev') node.rdev = Number(st.rdev);
  return node;
}
