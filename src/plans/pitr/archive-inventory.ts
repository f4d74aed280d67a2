// What the repository holds for point-in-time recovery, by cluster (system
// identifier): the base backups (snapshots with a PITR record) and the
// archived WAL files, with the timeline histories read from the archive.

import type { Repository } from '../../repo/repository.ts';
import { listSnapshots } from '../../repo/snapshot.ts';
import type { BaseBackupMeta, SnapshotWithId } from '../../repo/snapshot.ts';
import { listWalFiles, loadWalFile } from '../../repo/wal-file.ts';
import { SafeholdError } from '../../core/errors.ts';
import { parseStoredWalName, storedWalName } from '../../drivers/pg-wal/wal-push.ts';
import { parseHistory } from '../../drivers/pg-wal/wal-chain.ts';
import type { BaseBackupRef } from '../../drivers/pg-wal/wal-chain.ts';
import { parseLsn } from '../../drivers/pg-ha/lsn.ts';

const compareLsn = (a: string, b: string): number => {
  const d = parseLsn(a) - parseLsn(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
};

export interface BaseBackup extends BaseBackupRef {
  readonly snapshot: SnapshotWithId;
  readonly pitr: BaseBackupMeta;
}

export interface ClusterArchive {
  readonly cluster: string;
  /** Oldest first (by stop position). */
  readonly backups: BaseBackup[];
  /** Archived WAL file names (without the cluster prefix). */
  readonly files: string[];
  /** Stored sizes by file name. */
  readonly sizes: ReadonlyMap<string, number>;
}

export function baseBackupOf(s: SnapshotWithId): BaseBackup | null {
  const p = s.meta?.pitr;
  if (!p) return null;
  // pg_basebackup fetched the WAL from start to stop into the backup itself: consistent on its own.
  return {
    id: s.id,
    timeline: p.timeline,
    startLsn: p.startLsn,
    stopLsn: p.stopLsn,
    walIncluded: true,
    snapshot: s,
    pitr: p,
  };
}

/** Every cluster with base backups or archived WAL in the repository. */
export async function archiveInventory(repo: Repository, snapshots?: SnapshotWithId[]): Promise<ClusterArchive[]> {
  const byCluster = new Map<string, { backups: BaseBackup[]; files: string[]; sizes: Map<string, number> }>();
  const entry = (c: string) => {
    let e = byCluster.get(c);
    if (!e) byCluster.set(c, (e = { backups: [], files: [], sizes: new Map() }));
    return e;
  };
  for (const s of snapshots ?? (await listSnapshots(repo))) {
    const b = baseBackupOf(s);
    if (b) entry(b.pitr.systemId).backups.push(b);
  }
  for (const f of await listWalFiles(repo)) {
    const p = parseStoredWalName(f.name);
    if (!p) continue;
    const e = entry(p.cluster);
    e.files.push(p.file);
    e.sizes.set(p.file, f.size);
  }
  return [...byCluster.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([cluster, e]) => ({
      cluster,
      backups: e.backups.sort(
        (a, b) => compareLsn(a.stopLsn, b.stopLsn) || a.snapshot.time.localeCompare(b.snapshot.time),
      ),
      files: e.files.sort(),
      sizes: e.sizes,
    }));
}

/** The archive of `cluster`, or of the only cluster when none is named. */
export function pickCluster(all: readonly ClusterArchive[], cluster: string | undefined): ClusterArchive {
  if (cluster !== undefined) {
    const c = all.find((a) => a.cluster === cluster);
    if (!c) throw new SafeholdError('NOT_FOUND', `the repository holds no base backup or WAL of cluster ${cluster}`);
    return c;
  }
  if (all.length === 1) return all[0]!;
  if (all.length === 0) throw new SafeholdError('NOT_FOUND', 'the repository holds no PostgreSQL base backup or WAL');
  throw new SafeholdError(
    'AMBIGUOUS',
    `the repository holds several clusters (${all.map((a) => a.cluster).join(', ')}): choose one with --cluster`,
  );
}

/** The timeline histories in a cluster's archive: timeline → its ancestry. */
export async function histories(
  repo: Repository,
  a: ClusterArchive,
): Promise<Map<number, ReturnType<typeof parseHistory>>> {
  const out = new Map<number, ReturnType<typeof parseHistory>>();
  for (const f of a.files) {
    const m = /^([0-9A-F]{8})\.history$/.exec(f);
    if (!m) continue;
    const text = (await loadWalFile(repo, storedWalName(a.cluster, f))).toString('utf8');
    out.set(Number.parseInt(m[1]!, 16), parseHistory(text));
  }
  return out;
}
