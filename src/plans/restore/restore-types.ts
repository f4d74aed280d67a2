// The types of the group restore (restore-flow.ts): its steps, its options
// and its result. Apart so that restore-items.ts, which chooses what the
// restore writes, can take the options without importing the flow.

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
}

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
}
