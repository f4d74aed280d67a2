// `pg check`: for each cluster in the repository, whether the archived WAL
// runs without a gap from every base backup to the newest segment, and the
// recoverable window: from the end of the oldest base backup that reaches
// the newest WAL to the last commit in that WAL.

import type { Repository } from '../../repo/repository.ts';
import { loadWalFile } from '../../repo/wal-file.ts';
import { analyseChain } from '../../drivers/pg-wal/wal-chain.ts';
import type { ChainReport, WalGap } from '../../drivers/pg-wal/wal-chain.ts';
import { storedWalName } from '../../drivers/pg-wal/wal-push.ts';
import { lastCommitTime } from '../../drivers/pg-wal/wal-dump.ts';
import { archiveInventory, histories } from './archive-inventory.ts';
import type { ClusterArchive } from './archive-inventory.ts';

export interface ClusterCheck {
  cluster: string;
  ok: boolean;
  baseBackups: {
    snapshot: string;
    time: string;
    timeline: number;
    startLsn: string;
    stopLsn: string;
    reachesLatest: boolean;
    firstGap: WalGap | null;
  }[];
  walFiles: number;
  walBytes: number;
  gaps: WalGap[];
  newestSegment: string | null;
  /** Earliest and latest moments a restore can reach (null when none can). */
  window: { earliest: string | null; latest: string | null };
  problems: string[];
}

function gapText(g: WalGap): string {
  return g.from === g.to ? `segment ${g.from} is missing` : `segments ${g.from} to ${g.to} are missing`;
}

function problemsOf(a: ClusterArchive, chain: ChainReport): string[] {
  const out = chain.gaps.map((g) => `timeline ${g.timeline}: ${gapText(g)}`);
  if (a.backups.length === 0) out.push('no base backup: the archived WAL cannot be restored from anything');
  if (a.backups.length > 0 && !chain.backups.some((b) => b.reachesLatest))
    out.push('no base backup reaches the newest WAL without a gap');
  return out;
}

async function latestTime(repo: Repository, a: ClusterArchive, chain: ChainReport): Promise<string | null> {
  const newest = chain.newestSegment;
  if (!newest) return null;
  // The newest segment may hold no commit (an idle server's switch): look one further back then.
  const i = a.files.indexOf(newest);
  for (const file of [newest, ...(i > 0 ? [a.files[i - 1]!] : [])]) {
    if (!/^[0-9A-F]{24}$/.test(file)) continue;
    const t = await lastCommitTime(file, await loadWalFile(repo, storedWalName(a.cluster, file)));
    if (t) return t;
  }
  return null;
}

export async function checkCluster(repo: Repository, a: ClusterArchive): Promise<ClusterCheck> {
  const chain = analyseChain(a.files, a.backups, { histories: await histories(repo, a) });
  const reaching = a.backups.filter((b) => chain.backups.find((c) => c.id === b.id)?.reachesLatest);
  const problems = problemsOf(a, chain);
  return {
    cluster: a.cluster,
    ok: problems.length === 0,
    baseBackups: a.backups.map((b) => {
      const c = chain.backups.find((x) => x.id === b.id)!;
      return {
        snapshot: b.id,
        time: b.snapshot.time,
        timeline: b.timeline,
        startLsn: b.startLsn,
        stopLsn: b.stopLsn,
        reachesLatest: c.reachesLatest,
        firstGap: c.firstGap,
      };
    }),
    walFiles: a.files.length,
    walBytes: [...a.sizes.values()].reduce((n, s) => n + s, 0),
    gaps: chain.gaps,
    newestSegment: chain.newestSegment,
    window: {
      earliest: reaching[0]?.pitr.stopTime ?? null,
      latest: reaching.length > 0 ? await latestTime(repo, a, chain) : null,
    },
    problems,
  };
}

/** Checks every cluster (or the one named). */
export async function checkArchive(repo: Repository, o: { cluster?: string } = {}): Promise<ClusterCheck[]> {
  const all = await archiveInventory(repo);
  const chosen = o.cluster === undefined ? all : all.filter((a) => a.cluster === o.cluster);
  const out: ClusterCheck[] = [];
  for (const a of chosen) out.push(await checkCluster(repo, a));
  return out;
}
