// The public shapes of prune (prune.ts): its options, progress, the steps
// that change the repository, and the statistics it reports. Their own file
// so that prune.ts and prune-plan.ts (which builds the statistics) do not
// import each other; prune.ts re-exports them, import them from there.

import type { SnapshotWithId } from '../../repo/snapshot.ts';

/** Default for maxUnusedFraction: like restic's --max-unused 5%. */
export const DEFAULT_MAX_UNUSED = 0.05;

/** The points between steps that change the repository, in order. */
export type PruneStep = 'repack' | 'write-index' | 'delete-index' | 'delete-packs' | 'delete-packs-half' | 'delete-wal';

/**
 * Which archived WAL files (stored names) the kept snapshots no longer need:
 * the database driver's rule (drivers/pg-wal/wal-retention.ts). Without one,
 * prune leaves every WAL file alone.
 */
export type WalRetention = (kept: readonly SnapshotWithId[], walFiles: readonly string[]) => string[];

export interface PruneProgress {
  phase: 'index' | 'trees' | 'repack' | 'delete';
  done: number;
  total: number;
}

export interface PruneOptions {
  /** Work out and report what would be done; change nothing. */
  dryRun?: boolean;
  /**
   * Largest share (0..1) of the bytes left in the packs that may be unused
   * blobs after prune; partly used packs are repacked, most unused first,
   * until it holds. 0 repacks every pack with an unused blob; 1 never repacks.
   */
  maxUnusedFraction?: number;
  /** Mutated while prune runs; read it for progress. */
  progress?: PruneProgress;
  /** Snapshots to count as removed already (to preview forget + prune without forgetting). */
  ignoreSnapshots?: ReadonlySet<string>;
  /** Awaited before each step that changes the repository (tests stop or fail here to simulate a crash). */
  beforeStep?: (step: PruneStep) => void | Promise<void>;
  /** Removes the archived WAL the kept base backups no longer need (see WalRetention). */
  walRetention?: WalRetention;
}

export interface PruneStats {
  dryRun: boolean;
  snapshots: number;
  blobs: { used: number; unused: number; duplicates: number; repacked: number; removed: number };
  /** deleted: packs removed whole (unused ones, including `unindexed`, those no index named); repacked: removed after copying their used blobs into `written`. */
  packs: {
    before: number;
    deleted: number;
    unindexed: number;
    repacked: number;
    kept: number;
    written: number;
    after: number;
  };
  /** Pack file bytes; `repacked` counts the blob bytes copied, `unusedAfter` the unused blob bytes left in kept packs. */
  bytes: { before: number; after: number; removed: number; repacked: number; unusedAfter: number };
  indexFiles: { before: number; after: number };
  /** Archived WAL files before prune, and those removed (or, in a dry run, that would be). */
  wal?: { before: number; removed: number };
}
