// The locked part of a plan run: the pre-plan hook, the tasks in creation
// order (a group's tasks between its stop and start hooks), each within its
// own time limit and the whole within the run's, the post-plan hook, and the
// run's outcome from the tasks' outcomes.

import type { Repository } from '../../repo/repository.ts';
import type { ExpandedTask } from './expand.ts';
import { describeHookResult, hookFailed, runHook } from '../hooks/hooks.ts';
import { runTask } from '../task/task-flow.ts';
import { abortReason, deadline } from './deadline.ts';
import type { Deadline } from './deadline.ts';
import { GroupHooks } from '../hooks/group-hooks.ts';
import type { PlanRun, PlanRunResult } from './plan-run.ts';

type PendingTask = ExpandedTask & { id: string };
interface Counts {
  succeeded: number;
  failed: number;
  cancelled: number;
}

export async function runLocked(run: PlanRun, repo: Repository | null): Promise<PlanRunResult> {
  const runLimit = deadline(run.clock, run.plan.timeoutMs, `run of plan ${run.plan.name}`, run.opts.signal);
  try {
    const tasks = pendingTasks(run);
    const refused = await prePlanHook(run, tasks);
    if (refused) return refused;
    // Tasks that failed at expansion (a pattern matching nothing) count as failed.
    const failedEarly = run.store.tasks(run.runId).filter((t) => t.status === 'failed').length;
    const counts: Counts = { succeeded: 0, failed: failedEarly, cancelled: 0 };
    const groups = new GroupHooks(run.config, run.plan.name, run.runId, run.clock, run.log);
    for (const [i, t] of tasks.entries()) {
      try {
        await runOne(run, repo, t, runLimit, groups, counts);
      } finally {
        await groups.leaveIfLast(t.activity, tasks[i + 1]?.activity);
      }
    }
    await postPlanHook(run);
    return outcome(run, counts, runLimit);
  } finally {
    runLimit.clear();
  }
}

/** The run's pending tasks with their activities, in creation order. */
function pendingTasks(run: PlanRun): PendingTask[] {
  return run.store
    .tasks(run.runId)
    .filter((t) => t.status === 'pending')
    .map((r) => ({
      id: r.id,
      seq: r.seq,
      target: r.target,
      unit: r.unit,
      status: 'pending' as const,
      reason: r.reason,
      activity: run.plan.activities.find((a) => a.name === r.activity)!,
    }));
}

/** Runs the pre-plan hook; a failing one that fails the run ends it (its result is returned). */
async function prePlanHook(run: PlanRun, tasks: PendingTask[]): Promise<PlanRunResult | null> {
  const hook = run.plan.prePlan;
  if (!hook) return null;
  const r = await runHook(
    hook,
    { plan: run.plan.name, run: run.runId, phase: 'pre-plan' },
    {
      clock: run.clock,
      log: (l) => run.log(`pre-plan ${l.stream}: ${l.line}`),
    },
  );
  if (hookFailed(r) && hook.failOnError) {
    for (const t of tasks) run.store.finishTask(t.id, { status: 'cancelled', reason: 'the pre-plan hook failed' });
    return run.end('failed', describeHookResult(hook.name, r));
  }
  run.log(describeHookResult(hook.name, r));
  return null;
}

/** One task: failed if its group could not be stopped, cancelled past the run's limit, else run within its own. */
async function runOne(
  run: PlanRun,
  repo: Repository | null,
  t: PendingTask,
  runLimit: Deadline,
  groups: GroupHooks,
  counts: Counts,
): Promise<void> {
  const stopped = await groups.enter(t.activity);
  if (stopped) {
    run.store.finishTask(t.id, { status: 'failed', reason: stopped });
    counts.failed++;
    return;
  }
  if (runLimit.signal.aborted) {
    run.store.finishTask(t.id, { status: 'cancelled', reason: abortReason(runLimit.signal) });
    counts.cancelled++;
    return;
  }
  run.store.startTask(t.id);
  const what = `${t.activity.kind} ${t.target}${t.unit ? `/${t.unit}` : ''}`;
  run.log(`task ${t.seq}: ${what}`);
  const target = run.targets.find((x) => x.name === t.target)!;
  const taskLimit = deadline(run.clock, t.activity.timeoutMs, `task ${t.seq} (${what})`, runLimit.signal);
  try {
    const { config, plan, root, store } = run;
    const r = await runTask(
      {
        runId: run.runId,
        rootRunId: root?.id ?? run.runId,
        rootStartedAt: root?.startedAt ?? store.getRun(run.runId)!.startedAt,
        retrying: root !== null,
        ignoreWindow: run.opts.ignoreWindow !== undefined,
        config,
        plan,
        destination: config.destinations[plan.destination]!,
        repo,
        store,
        drills: run.catalog.drills(),
        clock: run.clock,
        quiesceGraceMs: config.settings.quiesceGraceMs,
        pollMs: run.opts.pollMs ?? 500,
        signal: taskLimit.signal,
        alert: run.alert,
      },
      t,
      target,
    );
    store.finishTask(t.id, r);
    if (r.status === 'succeeded' || r.status === 'failed' || r.status === 'cancelled') counts[r.status]++;
  } finally {
    taskLimit.clear();
  }
}

async function postPlanHook(run: PlanRun): Promise<void> {
  const hook = run.plan.postPlan;
  if (!hook) return;
  const r = await runHook(
    hook,
    { plan: run.plan.name, run: run.runId, phase: 'post-plan' },
    {
      clock: run.clock,
      log: (l) => run.log(`post-plan ${l.stream}: ${l.line}`),
    },
  );
  run.log(describeHookResult(hook.name, r), hookFailed(r) ? 'warn' : 'info');
}

/** succeeded, partial (something skipped, failed or cancelled but something succeeded), failed or cancelled. */
function outcome(run: PlanRun, counts: Counts, runLimit: Deadline): PlanRunResult {
  const total = run.store.tasks(run.runId).length;
  const { succeeded, failed, cancelled } = counts;
  const skipped = total - succeeded - failed - cancelled;
  if (runLimit.signal.aborted) {
    return run.end(
      'cancelled',
      `${abortReason(runLimit.signal)}: ${succeeded} task(s) succeeded, ${failed} failed, ${cancelled} cancelled`,
    );
  }
  if (failed === 0 && cancelled === 0) {
    return run.end(
      skipped > 0 ? 'partial' : 'succeeded',
      skipped > 0 ? `${succeeded} succeeded, ${skipped} skipped` : null,
    );
  }
  return run.end(
    succeeded > 0 ? 'partial' : 'failed',
    `${failed} task(s) failed, ${cancelled} cancelled, ${succeeded} succeeded, ${skipped} skipped`,
  );
}
