// The types of the group restore (restore-flow.ts): its steps, its options,
// its plan (what it will do, group-restore-plan.ts) and its result. Apart so
// that restore-items.ts, which chooses what the restore writes, can take the
// options without importing the flow.

import type { Config } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';
import type { LiveHit } from './live-data.ts';

export type RestoreStep = 'select' | 'stop' | 'check' | 'safety-backup' | 'databases' | 'files' | 'cleanup' | 'start';

export interface GroupRestoreOptions {
  config: Config;
  group: string;
  /** The repository destination the group was backed up to. */
  from: string;
  /** 'latest' or a group run id (or a unique prefix of one). */
  snapshot: string;
  safetyBackup: boolean;
  intoSuffix: string | null;
  filesTo: string | null;
  force: boolean;
  /** Whether this caller may overwrite live data (an admin, or the local CLI). */
  allowLive: boolean;
  targets: PlanTarget[];
  clock: Clock;
  log(step: RestoreStep, msg: string, level?: 'info' | 'warn' | 'error'): void;
  /** Only work out the plan and return it: nothing is stopped, saved, written or deleted, no hook runs. */
  dryRun?: boolean;
  /**
   * Asked with the plan, before anything is touched, when the restore touches
   * live data; false (or a throw) stops the restore with nothing changed.
   */
  confirm?(plan: GroupRestorePlan): Promise<boolean>;
}

/** A hook step of the plan: whether it runs, and why (or why not). */
export interface PlannedHook {
  step: 'stop' | 'check' | 'cleanup' | 'start';
  /** The hook's name; null when the group has none. */
  hook: string | null;
  runs: boolean;
  why: string;
}

export interface PlannedDatabase {
  target: string;
  unit: string | null;
  snapshot: string;
  /** The database name restored into; for a physical backup, the new data directory. */
  into: string;
  /** Whether it exists now (and is replaced). */
  replaces: boolean;
  physical: boolean;
}

export interface PlannedFiles {
  target: string;
  unit: string | null;
  snapshot: string;
  /** The real places emptied first and then restored. */
  places: string[];
  /** Those of `places` that exist now. */
  existing: string[];
  /** Entries the snapshot writes, and how many of them exist now (replaced). */
  writes: number;
  replaces: number;
  /** Entries that exist now under `places` but not in the snapshot, which the restore removes (first 100; a directory ends in '/'). */
  deletes: string[];
  deleteCount: number;
}

/** What a group restore will do, worked out from the configuration and the chosen group run before anything is touched. */
export interface GroupRestorePlan {
  group: string;
  from: string;
  groupRun: string;
  /** When the group run was taken (its first snapshot). */
  takenAt: string;
  snapshots: string[];
  /** Whether it writes over live data: then the hooks run, the CLI asks first, and the API needs the admin role. */
  touchesLive: boolean;
  overLiveData: LiveHit[];
  /** Why this restore would be refused (a dry run reports it; a real run stops with it before anything is touched). */
  refusal: string | null;
  /** stop, check, cleanup, start. */
  hooks: PlannedHook[];
  safetyBackup: { requested: boolean; runs: boolean; saves: string[]; why: string };
  databases: PlannedDatabase[];
  files: PlannedFiles[];
}

/**
 * What became of the safety backup: taken; not needed (asked for, but
 * nothing that exists now is overwritten); off (--no-safety-backup); not
 * reached (a dry run, or the restore stopped before that step).
 */
export type SafetyState = 'taken' | 'not-needed' | 'off' | 'not-reached';

export interface RestoredItem {
  target: string;
  unit: string | null;
  snapshot: string;
  into: string;
}

export interface GroupRestoreResult {
  ok: boolean;
  /** The group run restored (`<group>/<run id>`). */
  groupRun: string | null;
  failedStep: RestoreStep | null;
  reason: string | null;
  /** The safety backup's group run and snapshots, when one was taken. */
  safety: { groupRun: string; snapshots: string[] } | null;
  restored: RestoredItem[];
  /** The command that restores the safety backup, when a later step failed. */
  rollback: string | null;
  /** The live data this restore overwrote (empty: it went to new names and places only). */
  overLiveData: LiveHit[];
  safetyState: SafetyState;
  /** Whether this was a dry run (nothing was touched). */
  dryRun: boolean;
  /** What the restore does (or did); null when it stopped before it was worked out. */
  plan: GroupRestorePlan | null;
}
