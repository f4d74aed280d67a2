// How a restore reads packs: the needed blobs of each pack are split into
// span reads (one request covers neighbouring blobs unless too little of the
// span is needed), and each file's pieces are assigned to the reads that
// hold them. A file served by one read is written whole by a worker; the
// others are created up front and finished after their last read.

import type { Repository } from '../../repo/repository.ts';
import { plainLength } from '../../repo/index.ts';
import type { IndexEntry } from '../../repo/index.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { RestoreJobFile } from './restore-worker.ts';
import type { PlannedNode } from './restore-plan.ts';
import { nsToSeconds } from './restore-entries.ts';

export interface BlobUse {
  id: string;
  entry: IndexEntry;
}

/** One read of a pack span and the file writes it serves. */
export interface WriteGroup {
  pack: string;
  blobs: BlobUse[];
  files: RestoreJobFile[];
}

/** A file whose blobs come from several groups: created first, finished when its last group is done. */
export interface SplitFile {
  item: PlannedNode;
  remaining: number;
}

/** Read a pack's needed span in one go unless less than this fraction of it is needed. */
const SPAN_DENSITY = 0.4;
/** Upper bound of one read (and of one worker job's bytes). */
const MAX_SPAN = 8 * 1024 * 1024;

export interface Writes {
  groups: WriteGroup[];
  split: Map<string, SplitFile>;
  /** Files without content (created empty, no read needed). */
  empty: PlannedNode[];
}

/**
 * Splits the needed blobs into pack-span reads and assigns each file's pieces
 * to them. Files served by one read are written whole by the worker; the
 * others are created up front and finished after their last read.
 */
export function groupWrites(repo: Repository, files: PlannedNode[]): Writes {
  const byPack = new Map<string, Map<string, BlobUse>>();
  const empty: PlannedNode[] = [];
  for (const item of files) {
    const content = item.node.content ?? [];
    if (content.length === 0) {
      empty.push(item);
      continue;
    }
    let offset = 0;
    for (const id of content) {
      const entry = repo.lookup('data', id);
      let uses = byPack.get(entry.pack);
      if (!uses) byPack.set(entry.pack, (uses = new Map()));
      if (!uses.has(id)) uses.set(id, { id, entry });
      offset += plainLength(entry);
    }
    if (offset !== item.node.size) {
      throw new SafeholdError(
        'CORRUPT',
        `${item.snapPath}: blobs add up to ${offset} bytes, the tree says ${item.node.size}`,
      );
    }
  }
  const groups: WriteGroup[] = [];
  const where = new Map<string, { group: WriteGroup; index: number }>();
  for (const [pack, uses] of byPack) {
    for (const blobs of readGroups([...uses.values()].sort((a, b) => a.entry.offset - b.entry.offset))) {
      const g: WriteGroup = { pack, blobs, files: [] };
      blobs.forEach((b, index) => where.set(b.id, { group: g, index }));
      groups.push(g);
    }
  }
  const split = new Map<string, SplitFile>();
  for (const item of files) {
    const content = item.node.content ?? [];
    if (content.length === 0) continue;
    const perGroup = new Map<WriteGroup, RestoreJobFile>();
    let offset = 0;
    for (const id of content) {
      const w = where.get(id)!;
      let jf = perGroup.get(w.group);
      if (!jf) {
        const n = item.node;
        jf = {
          dest: item.dest,
          whole: false,
          size: n.size,
          mode: n.mode,
          uid: n.uid,
          gid: n.gid,
          mtime: nsToSeconds(n.mtime),
          pieces: [],
        };
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
