// A directory of a snapshot as a pax tar stream (safehold dump of a
// directory), with the tar format of directory destinations (tar-format.ts):
// members named from the directory's own name down ('docs', 'docs/a.txt'; a
// dump of '/' names the snapshot's paths without the leading '/'), with the
// node's mode, owner ids, mtime, link targets and device numbers; names that
// share an inode become hard links to the first; sockets, which tar cannot
// hold, are left out and reported. Every member is planned first (each
// file's length from the index), so a missing blob fails before a byte is
// written.

import type { Writable } from 'node:stream';
import type { Repository } from '../../repo/repository.ts';
import { loadTree } from '../../repo/tree.ts';
import type { TreeNode } from '../../repo/tree.ts';
import { BLOCK, encodeHeader } from '../directory/tar-format.ts';
import type { TarEntry, TarEntryType } from '../directory/tar-format.ts';
import type { ListedNode } from '../walk/tree-walk.ts';
import { contentLength, readContent } from './content-reader.ts';
import { put } from './sink.ts';
import { SafeholdError } from '../../core/errors.ts';

export interface TarDumpResult {
  /** Members written. */
  entries: number;
  /** Bytes of file content written. */
  bytes: number;
  /** Entries tar cannot hold (sockets), left out. */
  skipped: { path: string; type: string }[];
}

interface Member {
  entry: TarEntry;
  content?: readonly string[];
}

const TYPES: Partial<Record<TreeNode['type'], TarEntryType>> = {
  file: 'file',
  dir: 'dir',
  symlink: 'symlink',
  fifo: 'fifo',
  chardev: 'chardev',
  blockdev: 'blockdev',
};
const ZERO = Buffer.alloc(2 * BLOCK);

/** Writes the tar of `start` (a directory, or any entry) to `out`; does not end `out`. */
export async function dumpTar(repo: Repository, start: ListedNode, out: Writable): Promise<TarDumpResult> {
  const skipped: TarDumpResult['skipped'] = [];
  const members = await planMembers(repo, start, skipped);
  let bytes = 0;
  for (const m of members) {
    await put(out, encodeHeader(m.entry));
    if (!m.content || m.entry.type !== 'file') continue;
    let written = 0;
    for await (const b of readContent(repo, m.content)) {
      await put(out, b);
      written += b.length;
    }
    if (written !== m.entry.size)
      throw new SafeholdError(
        'CORRUPT',
        `${m.entry.path}: content is ${written} bytes, the index said ${m.entry.size}`,
      );
    bytes += written;
    const pad = (BLOCK - (m.entry.size % BLOCK)) % BLOCK;
    if (pad > 0) await put(out, ZERO.subarray(0, pad));
  }
  await put(out, ZERO);
  return { entries: members.length, bytes, skipped };
}

/** Every member in archive order (parents first, names in tree order). */
async function planMembers(repo: Repository, start: ListedNode, skipped: TarDumpResult['skipped']): Promise<Member[]> {
  const members: Member[] = [];
  const linked = new Map<string, string>();
  const add = (node: TreeNode, name: string, absPath: string) => {
    const type = TYPES[node.type];
    if (!type) {
      skipped.push({ path: absPath, type: node.type });
      return;
    }
    const entry = tarEntry(node, name, type);
    const key = node.type === 'file' && node.links > 1 && node.inode > 0 ? `${node.device}:${node.inode}` : '';
    const first = key ? linked.get(key) : undefined;
    if (first !== undefined) {
      members.push({ entry: { ...entry, type: 'hardlink', size: 0, linkpath: first } });
      return;
    }
    if (key) linked.set(key, name);
    if (node.type === 'file') {
      const content = node.content ?? [];
      entry.size = contentLength(repo, content);
      members.push({ entry, content });
    } else members.push({ entry });
  };
  const walk = async (treeId: string, prefix: string, dir: string): Promise<void> => {
    for (const node of (await loadTree(repo, treeId)).nodes) {
      const name = prefix ? `${prefix}/${node.name}` : node.name;
      const abs = dir === '/' ? `/${node.name}` : `${dir}/${node.name}`;
      add(node, name, abs);
      if (node.type === 'dir' && node.subtree) await walk(node.subtree, name, abs);
    }
  };
  const top = start.path === '/' ? '' : start.node.name;
  if (top) add(start.node, top, start.path);
  if (start.node.type === 'dir' && start.node.subtree) await walk(start.node.subtree, top, start.path);
  return members;
}

function tarEntry(node: TreeNode, name: string, type: TarEntryType): TarEntry {
  const e: TarEntry = {
    path: name,
    type,
    size: 0,
    mode: node.mode & 0o7777,
    uid: node.uid,
    gid: node.gid,
    uname: '',
    gname: '',
    mtimeNs: BigInt(node.mtime),
  };
  if (type === 'symlink') e.linkpath = node.linkTarget ?? '';
  if (type === 'chardev' || type === 'blockdev') Object.assign(e, deviceNumbers(node.rdev ?? 0));
  return e;
}

/** Major and minor of a Linux device number (glibc's encoding). */
function deviceNumbers(rdev: number): { devmajor: number; devminor: number } {
  const d = BigInt(rdev);
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return { devmajor: Number(major), devminor: Number(minor) };
}
