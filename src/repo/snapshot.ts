// Snapshots: one immutable record per completed backup, naming the root tree
// and what was backed up. Stored as sealed files under snapshots/; the id is
// the file name. Lookup by unique id prefix or 'latest'.

import type { Repository } from './repository.ts';
import { mapLimit } from '../core/concurrency.ts';
import { SafeholdError } from '../core/errors.ts';

export interface SnapshotSummary {
  filesNew: number;
  filesChanged: number;
  filesUnchanged: number;
  filesFailed: number;
  dirs: number;
  bytesRead: number;
  bytesAdded: number;
  totalSize: number;
  totalFiles: number;
  durationMs: number;
}

export interface Snapshot {
  version: 1;
  time: string;
  tree: string;
  paths: string[];
  hostname: string;
  username: string;
  uid: number;
  gid: number;
  tags: string[];
  excludes: string[];
  parent?: string;
  /** Set on a snapshot made by `copy`: the id of the snapshot it was copied from, in the source repository. */
  original?: string;
  /** Set on a snapshot made by `copy`: the config id of the repository it was copied from. */
  originalRepo?: string;
  kind: 'files' | 'stream';
  /**
   * What a database backup needs for its restore and its checks: the dump's format, whether it was
   * taken online, the consistency group run it belongs to, and the content digest at backup time.
   */
  meta?: SnapshotMeta;
  program: string;
  summary: SnapshotSummary;
}

export interface SnapshotMeta {
  /** Format of a stream snapshot's content, e.g. 'pg_dump-custom' (absent: raw bytes). */
  format?: string;
  /** Taken while the application ran (its restore needs the group's cleanup hook, S7). */
  online?: boolean;
  /** The consistency group and the group run (`<group>/<run id>`) this snapshot belongs to. */
  group?: string;
  /** False for a group backed up in 'independent' mode: its members are not from one instant. */
  consistent?: boolean;
  /** Row count and checksum per table at backup time (drills compare a restore with it). */
  digest?: { tables: Record<string, { rows: number; checksum: string }> };
}

export interface SnapshotWithId extends Snapshot {
  id: string;
}

export async function saveSnapshot(repo: Repository, s: Snapshot): Promise<string> {
  return repo.saveFile('snapshots', s);
}

/** Every snapshot, oldest first. Unreadable snapshot files raise CORRUPT. */
export async function listSnapshots(repo: Repository): Promise<SnapshotWithId[]> {
  const files = await repo.backend.list('snapshots');
  const snaps = await mapLimit(files, 16, async (f) => ({ ...(await repo.loadFile<Snapshot>('snapshots', f.name)), id: f.name }));
  return snaps.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
}

/** Finds a snapshot by 'latest' (optionally among those with the given paths) or a unique id prefix. */
export async function findSnapshot(repo: Repository, ref: string, filter?: { paths?: string[]; hostname?: string }): Promise<SnapshotWithId> {
  if (ref === 'latest') {
    let all = await listSnapshots(repo);
    if (filter?.paths?.length) all = all.filter((s) => samePaths(s.paths, filter.paths!));
    if (filter?.hostname) all = all.filter((s) => s.hostname === filter.hostname);
    const last = all.at(-1);
    if (!last) throw new SafeholdError('NOT_FOUND', 'no snapshot found (the repository has none yet)');
    return last;
  }
  if (!/^[0-9a-f]{1,64}$/.test(ref)) throw new SafeholdError('NOT_FOUND', `'${ref}' is not a snapshot id (hex digits, or 'latest')`);
  const files = (await repo.backend.list('snapshots')).filter((f) => f.name.startsWith(ref));
  if (files.length === 0) throw new SafeholdError('NOT_FOUND', `no snapshot with id ${ref}`);
  if (files.length > 1) {
    throw new SafeholdError('AMBIGUOUS', `snapshot id prefix ${ref} is ambiguous: it matches ${files.map((f) => f.name.slice(0, 8)).join(', ')}`);
  }
  const name = files[0]!.name;
  return { ...(await repo.loadFile<Snapshot>('snapshots', name)), id: name };
}

function samePaths(a: string[], b: string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((p, i) => p === y[i]);
}
