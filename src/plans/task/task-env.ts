// What a task's steps share (task-flow.ts runs them; task-backup.ts,
// task-work.ts and task-drill.ts do the work of one step): the task's
// environment, the early stop with its status, a task's label, the result
// of its work, its outcome and the log of one task. Its own file so that the steps and
// the flow do not import each other.

import type { Config, Destination, Plan } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import type { AlertEvent } from '../../core/alert-event.ts';
import type { Repository } from '../../repo/repository.ts';
import type { PlanRunStore, TaskStatus } from '../../catalog/plan-runs.ts';
import type { DrillStore } from '../../catalog/drills.ts';
import type { ExpandedTask } from '../run/expand.ts';

/** How a task ended, as recorded in the catalog. */
export interface TaskOutcome {
  status: Exclude<TaskStatus, 'pending' | 'running'>;
  reason: string | null;
  snapshots: string[];
  bytes: number;
}

export interface TaskEnv {
  runId: string;
  /** The first run of a retry chain: its id tags every snapshot, so a retry finds what was already saved. */
  rootRunId: string;
  /** The start of the first run of the chain (a directory generation newer than this is already done). */
  rootStartedAt: number;
  /** True for a retry: completed work of the chain is looked up and not repeated. */
  retrying: boolean;
  /** The run was asked to ignore the maintenance window (an on-demand emergency run): tasks do not check it. */
  ignoreWindow?: boolean;
  config: Config;
  plan: Plan;
  destination: Destination;
  /** The destination's repository (open, index loaded), or null for a directory destination. */
  repo: Repository | null;
  store: PlanRunStore;
  /** Where restore drills leave their reports. */
  drills: DrillStore;
  clock: Clock;
  quiesceGraceMs: number;
  /** How often quiesce states are polled. */
  pollMs: number;
  /** Fires on the task's timeout or when the run is cancelled. */
  signal: AbortSignal;
  /** Raises an alert (stored and sent; never throws). */
  alert(e: AlertEvent): void;
}

/** Ends a task early with its status and reason. */
export class TaskStop extends Error {
  readonly status: 'failed' | 'skipped' | 'cancelled';
  constructor(status: 'failed' | 'skipped' | 'cancelled', reason: string) {
    super(reason);
    this.status = status;
  }
}

export interface WorkResult {
  snapshots: string[];
  bytes: number;
  /** A one-line summary for the task's reason (null: nothing to add). */
  note: string | null;
}

/** One task's log line writer. */
export type Log = (msg: string, level?: 'info' | 'warn' | 'error') => void;

/** `target/unit`, or the target alone. */
export function label(task: ExpandedTask): string {
  return task.unit ? `${task.target}/${task.unit}` : task.target;
}
