// Snapshots: one immutable record per completed backup, naming the root tree
// and what was backed up. Stored as sealed files under snapshots/; the id is
// the file name. Lookup by unique id prefix or 'latest'.

import path from 'node:path';
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
  /** A PostgreSQL base backup usable for point-in-time recovery: where its WAL starts and ends. */
  pitr?: BaseBackupMeta;
}

/** What point-in-time recovery needs to know of a PostgreSQL base backup (docs/pitr.md). */
export interface BaseBackupMeta {
  /** The cluster's system identifier (decimal), as in pg_controldata. */
  systemId: string;
  /** The timeline the backup was taken on. */
  timeline: number;
  /** WAL position where the backup starts (its checkpoint's redo point), e.g. '0/2000028'. */
  startLsn: string;
  /** WAL position from which the restored copy is consistent. */
  stopLsn: string;
  /** When the backup had finished: a recovery target at or after it can start from this backup. */
  stopTime: string;
}

export interface SnapshotWithId extends Snapshot {
  id: string;
}

export async function saveSnapshot(repo: Repository, s: Snapshot): Promise<string> {
  return repo.saveFile('snapshots', s);
}

/** Reads one snapshot file and checks it (see validateSnapshot). */
export async function loadSnapshot(repo: Repository, id: string): Promise<SnapshotWithId> {
  const s = await repo.loadFile<Snapshot>('snapshots', id);
  validateSnapshot(s, id);
  return { ...s, id };
}

/** Every snapshot, oldest first. Unreadable or invalid snapshot files raise CORRUPT. */
export async function listSnapshots(repo: Repository): Promise<SnapshotWithId[]> {
  const files = await repo.backend.list('snapshots');
  const snaps = await mapLimit(files, 16, (f) => loadSnapshot(repo, f.name));
  return snaps.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
}

/** Finds a snapshot by 'latest' (optionally among those with the given paths) or a unique id prefix. */
export async function findSnapshot(
  repo: Repository,
  ref: string,
  filter?: { paths?: string[]; hostname?: string },
): Promise<SnapshotWithId> {
  if (ref === 'latest') {
    let all = await listSnapshots(repo);
    if (filter?.paths?.length) all = all.filter((s) => samePaths(s.paths, filter.paths!));
    if (filter?.hostname) all = all.filter((s) => s.hostname === filter.hostname);
    const last = all.at(-1);
    if (!last) throw new SafeholdError('NOT_FOUND', 'no snapshot found (the repository has none yet)');
    return last;
  }
  if (!/^[0-9a-f]{1,64}$/.test(ref))
    throw new SafeholdError('NOT_FOUND', `'${ref}' is not a snapshot id (hex digits, or 'latest')`);
  const files = (await repo.backend.list('snapshots')).filter((f) => f.name.startsWith(ref));
  if (files.length === 0) throw new SafeholdError('NOT_FOUND', `no snapshot with id ${ref}`);
  if (files.length > 1) {
    throw new SafeholdError(
      'AMBIGUOUS',
      `snapshot id prefix ${ref} is ambiguous: it matches ${files.map((f) => f.name.slice(0, 8)).join(', ')}`,
    );
  }
  return loadSnapshot(repo, files[0]!.name);
}

/**
 * A snapshot read from a repository is data, not instructions: its `paths`
 * decide what a restore may clean and what a safety backup saves, so each
 * must be absolute and normalised, without '..' or NUL. '/' (a backup of the
 * whole file system) is valid; cleaning it is refused where it would happen.
 */
export function validateSnapshot(s: Snapshot, id: string): void {
  const bad = (what: string) => new SafeholdError('CORRUPT', `snapshot ${id.slice(0, 8)}: ${what}`);
  if (!s || typeof s !== 'object') throw bad('not a snapshot record');
  if (typeof s.tree !== 'string' || !/^[0-9a-f]{64}$/.test(s.tree)) throw bad('has no valid root tree');
  if (s.kind !== 'files' && s.kind !== 'stream') throw bad(`has an unknown kind ${JSON.stringify(s.kind)}`);
  if (typeof s.time !== 'string' || Number.isNaN(Date.parse(s.time))) throw bad('has no valid time');
  if (!Array.isArray(s.tags) || !s.tags.every((t) => typeof t === 'string')) throw bad('has an invalid tag list');
  if (!Array.isArray(s.paths) || s.paths.length === 0) throw bad('has no paths');
  for (const p of s.paths) {
    const problem = snapshotPathProblem(p);
    if (problem) throw bad(`path ${JSON.stringify(p)} ${problem}`);
  }
}

/** Why `p` is not a valid snapshot path, or null. */
export function snapshotPathProblem(p: unknown): string | null {
  if (typeof p !== 'string' || p === '') return 'is empty';
  if (p.includes('\0')) return 'contains a NUL byte';
  if (!p.startsWith('/')) return 'is not absolute';
  if (p.split('/').includes('..')) return "contains '..'";
  if (path.posix.normalize(p) !== p || (p.length > 1 && p.endsWith('/'))) return 'is not normalised';
  return null;
}

function samePaths(a: string[], b: string[]): boolean {
  const x = [...a].sort();
  const y = [...b].sort();
  return x.length === y.length && x.every((p, i) => p === y[i]);
}
