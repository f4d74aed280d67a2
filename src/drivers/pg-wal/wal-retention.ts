// The retention rule for archived WAL (prune's walRetention): per cluster,
// everything before the start of its oldest kept base backup can go; every
// file from there on stays (so each kept base backup reaches consistency and
// every later moment), history files always stay, and a cluster with no kept
// base backup keeps all of its WAL (nothing could restore it, but deleting
// is not prune's call).

import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { removableWal } from './wal-chain.ts';
import type { BaseBackupRef } from './wal-chain.ts';
import { parseStoredWalName, storedWalName } from './wal-push.ts';

export function pgWalRetention(kept: readonly SnapshotWithId[], walFiles: readonly string[]): string[] {
  const byCluster = new Map<string, string[]>();
  for (const name of walFiles) {
    const p = parseStoredWalName(name);
    if (!p) continue;
    const files = byCluster.get(p.cluster) ?? [];
    files.push(p.file);
    byCluster.set(p.cluster, files);
  }
  const out: string[] = [];
  for (const [cluster, files] of byCluster) {
    const backups: BaseBackupRef[] = kept
      .filter((s) => s.meta?.pitr?.systemId === cluster)
      .map((s) => ({
        id: s.id,
        timeline: s.meta!.pitr!.timeline,
        startLsn: s.meta!.pitr!.startLsn,
        stopLsn: s.meta!.pitr!.stopLsn,
      }));
    if (backups.length === 0) continue;
    for (const f of removableWal(files, backups)) out.push(storedWalName(cluster, f));
  }
  return out;
}
