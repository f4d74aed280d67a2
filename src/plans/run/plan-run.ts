// One plan run's shared state, handed to each of its steps (runner.ts for
// admission and locks, run-tasks.ts for the hooks and tasks): the plan, the
// catalog's record of the run, its log, and `end`, which records how the run
// ended (cancelling what had not run) and raises the failure alert; the
// run-started and run-succeeded events go to the channels that ask for them.

import type { Config, Plan } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import type { AlertEvent } from '../../core/alert-event.ts';
import type { Catalog } from '../../catalog/catalog.ts';
import type { PlanRunRecord, PlanRunStatus, PlanRunStore, RunTrigger, TaskRecord } from '../../catalog/plan-runs.ts';
import type { LeaseStore } from '../../catalog/leases.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';
import { runStarted, runSucceeded } from '../../alerts/events.ts';

export interface RunPlanOptions {
  config: Config;
  plan: string;
  trigger: RunTrigger;
  catalog: Catalog;
  clock?: Clock;
  /** Targets to use instead of the configured ones' drivers (tests). */
  targets?: PlanTarget[];
  /** Poll interval of quiesce states, ms. */
  pollMs?: number;
  /** Cancels the run (server shutdown): running tasks stop and clean up, the rest are cancelled. */
  signal?: AbortSignal;
  /** Raises an alert; default: none (the caller that has channels passes them). */
  alert?: (e: AlertEvent) => void;
  /** Scheduled runs: when the run was due (the retry window counts from here). */
  scheduledFor?: number;
  /** A retry after a crash: the failed run it retries. */
  retryOf?: PlanRunRecord;
  /** Called with the run's id as soon as it is recorded. */
  onStart?: (runId: string) => void;
  /** Skip recovery of abandoned runs (the server did it at start). */
  skipRecovery?: boolean;
  /**
   * An emergency run outside the maintenance window (`plan run --ignore-window`):
   * on-demand runs only; `by` is who asked (the audit log and the run's log say so).
   */
  ignoreWindow?: { by: string };
}

export type EndStatus = Exclude<PlanRunStatus, 'running'>;

export interface PlanRunResult {
  id: string;
  status: EndStatus;
  reason: string | null;
  tasks: TaskRecord[];
}

export interface PlanRun {
  readonly opts: RunPlanOptions;
  readonly config: Config;
  readonly catalog: Catalog;
  readonly plan: Plan;
  readonly clock: Clock;
  readonly alert: (e: AlertEvent) => void;
  readonly store: PlanRunStore;
  readonly leases: LeaseStore;
  readonly targets: PlanTarget[];
  /** The first run of the retry chain this run continues, or null. */
  readonly root: PlanRunRecord | null;
  /** When the run (or the run it retries) was due, for scheduled runs. */
  readonly scheduledFor: number | undefined;
  readonly runId: string;
  log(msg: string, level?: 'info' | 'warn' | 'error'): void;
  /** Records the end: unfinished tasks cancelled, the reason logged, a failed run alerted. */
  end(status: EndStatus, reason: string | null): PlanRunResult;
}

type Recorded = Omit<PlanRun, 'runId' | 'log' | 'end'>;

/** Records the run's start in the catalog and returns its shared state. */
export function recordRun(r: Recorded): PlanRun {
  const { store, plan, config, opts } = r;
  const runId = store.startRun({
    plan: plan.name,
    trigger: opts.trigger,
    configFile: config.file,
    scheduledFor: r.scheduledFor ?? null,
    retryOf: opts.retryOf?.id ?? null,
  });
  opts.onStart?.(runId);
  r.alert(runStarted({ plan: plan.name, runId, trigger: opts.trigger }));
  const log: PlanRun['log'] = (msg, level = 'info') => store.log(runId, level, msg);
  const end: PlanRun['end'] = (status, reason) => {
    // A refusal is the run's reason, said once; its tasks only say they did not run.
    const taskReason = status === 'refused' ? 'not run: the run was refused' : (reason ?? 'the run ended');
    for (const t of store.tasks(runId)) {
      if (t.status === 'pending' || t.status === 'running') {
        store.finishTask(t.id, { status: 'cancelled', reason: taskReason });
      }
    }
    store.finishRun(runId, status, reason);
    if (reason) log(`run ${status}: ${reason}`, status === 'failed' || status === 'refused' ? 'error' : 'info');
    const tasks = store.tasks(runId);
    if (status === 'succeeded') r.alert(runSucceeded({ plan: plan.name, runId, tasks: tasks.length }));
    else if (status !== 'cancelled') r.alert(endAlert(plan.name, runId, status, reason, tasks));
    return { id: runId, status, reason, tasks };
  };
  return { ...r, runId, log, end };
}

/** The most task reasons an alert's summary names (all of them are in its details). */
const SUMMARY_TASKS = 3;

/**
 * The alert for a run that did not fully succeed: run-failed (critical), or
 * run-incomplete (warning) for a partial, skipped or refused run; the summary
 * names the first unfinished tasks' reasons, the details list every one.
 */
export function endAlert(
  plan: string,
  runId: string,
  status: Exclude<EndStatus, 'succeeded' | 'cancelled'>,
  reason: string | null,
  tasks: readonly TaskRecord[],
): AlertEvent {
  const unfinished = tasks
    .filter((t) => t.status !== 'succeeded')
    .map((t) => ({
      seq: t.seq,
      activity: t.activity,
      target: t.target,
      unit: t.unit,
      status: t.status,
      reason: t.reason,
    }));
  const named = unfinished
    .slice(0, SUMMARY_TASKS)
    .map((t) => `${t.target}${t.unit ? `/${t.unit}` : ''} ${t.status}${t.reason ? `: ${t.reason}` : ''}`);
  const more = unfinished.length > SUMMARY_TASKS ? `; and ${unfinished.length - SUMMARY_TASKS} more` : '';
  const why = [reason, ...named].filter((x) => x).join('; ');
  return {
    event: status === 'failed' ? 'run-failed' : 'run-incomplete',
    severity: status === 'failed' ? 'critical' : 'warning',
    summary: `plan ${plan}: run ${runId.slice(0, 8)} ${status}: ${why}${more}`,
    details: { plan, runId, status, reason, tasks: unfinished },
  };
}
