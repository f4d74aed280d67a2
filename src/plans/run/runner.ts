// S3: one run of a plan. Admission in the manual's order (global switch,
// maintenance window, destination reachable and initialised, free space),
// then expansion into tasks, stop if all are skipped, the S5 locks (with the
// trigger's retry policy), the pre-plan hook, and the tasks in creation order
// (S4, task-flow.ts), each within its timeout, the whole within the run's.
// Every refusal and outcome is recorded in the catalog with its reason; each
// step logs a line saying in plain words what it checked or did ("inside the
// maintenance window"), never the step's number. Failures, exhausted
// retries, cleared locks and low space raise alerts through `alert`.

import type { Config } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import { systemClock } from '../../core/clock.ts';
import type { AlertEvent } from '../../core/alert-event.ts';
import type { Catalog } from '../../catalog/catalog.ts';
import type { PlanRunRecord, PlanRunStatus, RunTrigger, TaskRecord } from '../../catalog/plan-runs.ts';
import { taskScope } from '../../catalog/leases.ts';
import { openDestinationRepo } from './destination-repo.ts';
import { Repository } from '../../repo/repository.ts';
import { SafeholdError } from '../../core/errors.ts';
import { inWindow, outsideWindowReason } from './window.ts';
import { describeHookResult, hookFailed, runHook } from '../hooks/hooks.ts';
import { checkFreeSpace, checkReachable, lowSpaceAlert } from './destination-checks.ts';
import { expandActivities } from './expand.ts';
import { buildTargets } from '../../drivers/target/targets.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';
import { quiesceRepairedAlert, recoverAbandoned } from './recover.ts';
import { runTask } from '../task/task-flow.ts';
import { acquireRunLocks } from './run-locks.ts';
import { abortReason, deadline } from './deadline.ts';
import { GroupHooks } from '../hooks/group-hooks.ts';

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
}

export interface PlanRunResult {
  id: string;
  status: Exclude<PlanRunStatus, 'running'>;
  reason: string | null;
  tasks: TaskRecord[];
}

export async function runPlan(opts: RunPlanOptions): Promise<PlanRunResult> {
  const { config, catalog } = opts;
  const clock = opts.clock ?? systemClock;
  const alert = opts.alert ?? (() => {});
  const plan = config.plans[opts.plan];
  if (!plan) throw new SafeholdError('NOT_FOUND', `no plan '${opts.plan}' in ${config.file} (plans: ${Object.keys(config.plans).join(', ') || 'none'})`);
  const store = catalog.planRuns();
  const leases = catalog.leases({ maxAgeMs: config.settings.lockMaxAgeMs, heartbeatTimeoutMs: config.settings.lockHeartbeatTimeoutMs });
  const targets = opts.targets ?? buildTargets(config);
  if (!opts.skipRecovery) {
    const rec = await recoverAbandoned(store, targets, leases);
    for (const q of rec.repaired) alert(quiesceRepairedAlert(q));
  }
  const root = opts.retryOf ? rootOf(store, opts.retryOf) : null;
  const scheduledFor = opts.scheduledFor ?? root?.scheduledFor ?? undefined;
  const runId = store.startRun({ plan: plan.name, trigger: opts.trigger, configFile: config.file, scheduledFor: scheduledFor ?? null, retryOf: opts.retryOf?.id ?? null });
  opts.onStart?.(runId);
  const log = (msg: string, level: 'info' | 'warn' | 'error' = 'info') => store.log(runId, level, msg);
  const end = (status: Exclude<PlanRunStatus, 'running'>, reason: string | null): PlanRunResult => {
    for (const t of store.tasks(runId)) {
      if (t.status === 'pending' || t.status === 'running') store.finishTask(t.id, { status: 'cancelled', reason: reason ?? 'the run ended' });
    }
    store.finishRun(runId, status, reason);
    if (reason) log(`run ${status}: ${reason}`, status === 'failed' || status === 'refused' ? 'error' : 'info');
    if (status === 'failed') alert({ event: 'run-failed', severity: 'critical', summary: `plan ${plan.name}: run ${runId.slice(0, 8)} failed: ${reason}`, details: { plan: plan.name, runId, reason } });
    return { id: runId, status, reason, tasks: store.tasks(runId) };
  };
  if (opts.retryOf) log(`retry of run ${opts.retryOf.id.slice(0, 8)} (${opts.retryOf.reason ?? opts.retryOf.status})`);
  let locks: Awaited<ReturnType<typeof acquireRunLocks>> | null = null;
  let repo: Repository | null = null;
  try {
    if (opts.signal?.aborted) return end('cancelled', abortReason(opts.signal));
    // 1. The global switch.
    if (!config.settings.backupsEnabled) return end('refused', 'backups are disabled (settings.backups)');
    log('backups are enabled');
    // 2. The maintenance window.
    if (!inWindow(plan.window, clock.now())) return end('refused', outsideWindowReason(plan.window, clock.now()));
    log('inside the maintenance window');
    // 3. The destination is reachable (mounted) and initialised.
    const destination = config.destinations[plan.destination]!;
    const reach = checkReachable(destination);
    if (!reach.ok) return end('refused', reach.reason);
    log(`destination ${destination.name} is reachable${destination.type === 'repository' ? ' and initialised' : ''}`);
    // 4. Free space above the threshold.
    const space = checkFreeSpace(destination);
    if (!space.ok) {
      if (space.space) alert(lowSpaceAlert(destination, space.space, space.reason));
      return end('refused', space.reason);
    }
    log('destination has enough free space');
    // 5. Activities → tasks, in definition order, against the live inventory.
    const expanded = await expandActivities(plan.activities, targets, config.groups);
    const tasks = expanded.map((t) => ({ ...t, id: store.addTask(runId, { seq: t.seq, activity: t.activity.name, kind: t.activity.kind, target: t.target, unit: t.unit, status: t.status, reason: t.reason }) }));
    const pending = tasks.filter((t) => t.status === 'pending');
    log(`${tasks.length} task(s) created, ${tasks.length - pending.length} skipped`);
    // 6. Nothing to do: stop.
    if (pending.length === 0) return end('skipped', `all ${tasks.length} task(s) were skipped`);
    // S5. The locks of every scope the tasks touch, with the trigger's retry policy.
    if (destination.type === 'repository') {
      repo = await openDestinationRepo(destination, clock);
      await repo.loadIndex();
    }
    const purging = pending.some((t) => t.activity.kind === 'purge');
    const prunes = pending.some((t) => t.activity.kind === 'purge' && t.activity.purge?.type === 'retention');
    // A retry keeps the policy of the run it retries (an on-demand run's, if it had one).
    const onDemand = (root?.trigger ?? opts.trigger) === 'on-demand';
    const policy = onDemand ? plan.retry.onDemand : purging ? plan.retry.purge : plan.retry.scheduled;
    locks = await acquireRunLocks({
      leases, runId, scopes: [...new Set(pending.map((t) => taskScope(t.target, t.unit)))],
      kind: purging ? 'purge' : pending.every((t) => t.activity.kind === 'copy') ? 'copy' : 'backup',
      repo, exclusive: prunes, policy, ...(root ? { windowStart: root.scheduledFor ?? root.startedAt } : scheduledFor !== undefined && !onDemand ? { windowStart: scheduledFor } : {}),
      heartbeatMs: Math.max(1000, Math.min(60_000, Math.floor(config.settings.lockHeartbeatTimeoutMs / 3))),
      clock, ...(opts.signal ? { signal: opts.signal } : {}), log, alert,
    }).catch((e: unknown) => {
      if (opts.signal?.aborted) return null;
      throw e;
    });
    if (!locks) return end('cancelled', abortReason(opts.signal!));
    if (!locks.ok) {
      if (!policy) return end('refused', `${locks.reason}; on-demand runs are not retried`);
      if (locks.exhausted) {
        alert({
          event: 'retries-exhausted', severity: 'critical',
          summary: `plan ${plan.name}: gave up after ${locks.attempts} attempts: ${locks.reason}`,
          details: { plan: plan.name, runId, attempts: locks.attempts, reason: locks.reason },
        });
        return end('failed', `retries exhausted: ${locks.reason}`);
      }
      return end('failed', locks.reason);
    }
    return await runLocked();
  } catch (e) {
    if (opts.signal?.aborted) return end('cancelled', abortReason(opts.signal));
    end('failed', e instanceof Error ? e.message : String(e));
    throw e;
  } finally {
    if (locks?.ok) await locks.locks.release();
    await repo?.close().catch(() => {});
  }

  async function runLocked(): Promise<PlanRunResult> {
    const runLimit = deadline(clock, plan!.timeoutMs, `run of plan ${plan!.name}`, opts.signal);
    try {
      const all = store.tasks(runId);
      const pendingIds = new Set(all.filter((t) => t.status === 'pending').map((t) => t.id));
      const expanded = expandedPending();
      // 7. The pre-plan hook.
      if (plan!.prePlan) {
        const r = await runHook(plan!.prePlan, { plan: plan!.name, run: runId, phase: 'pre-plan' }, { clock, log: (l) => log(`pre-plan ${l.stream}: ${l.line}`) });
        if (hookFailed(r) && plan!.prePlan.failOnError) {
          for (const id of pendingIds) store.finishTask(id, { status: 'cancelled', reason: 'the pre-plan hook failed' });
          return end('failed', describeHookResult(plan!.prePlan.name, r));
        }
        log(describeHookResult(plan!.prePlan.name, r));
      }
      // 8. Tasks in creation order; a group's tasks between its stop and start hooks (S6).
      const counts = { succeeded: 0, failed: 0, cancelled: 0 };
      const groups = new GroupHooks(config, plan!.name, runId, clock, log);
      for (const [i, t] of expanded.entries()) {
        const stopped = await groups.enter(t.activity);
        if (stopped) {
          store.finishTask(t.id, { status: 'failed', reason: stopped });
          counts.failed++;
          await groups.leaveIfLast(t.activity, expanded[i + 1]?.activity);
          continue;
        }
        if (runLimit.signal.aborted) {
          store.finishTask(t.id, { status: 'cancelled', reason: abortReason(runLimit.signal) });
          counts.cancelled++;
          await groups.leaveIfLast(t.activity, expanded[i + 1]?.activity);
          continue;
        }
        store.startTask(t.id);
        log(`task ${t.seq}: ${t.activity.kind} ${t.target}${t.unit ? `/${t.unit}` : ''}`);
        const target = targets.find((x) => x.name === t.target)!;
        const taskLimit = deadline(clock, t.activity.timeoutMs, `task ${t.seq} (${t.activity.kind} ${t.target}${t.unit ? `/${t.unit}` : ''})`, runLimit.signal);
        try {
          const r = await runTask({
            runId, rootRunId: root?.id ?? runId, rootStartedAt: root?.startedAt ?? store.getRun(runId)!.startedAt, retrying: root !== null,
            config, plan: plan!, destination: config.destinations[plan!.destination]!, repo, store, drills: catalog.drills(), clock,
            quiesceGraceMs: config.settings.quiesceGraceMs, pollMs: opts.pollMs ?? 500, signal: taskLimit.signal, alert,
          }, t, target);
          store.finishTask(t.id, r);
          if (r.status === 'succeeded' || r.status === 'failed' || r.status === 'cancelled') counts[r.status]++;
        } finally {
          taskLimit.clear();
          await groups.leaveIfLast(t.activity, expanded[i + 1]?.activity);
        }
      }
      if (plan!.postPlan) {
        const r = await runHook(plan!.postPlan, { plan: plan!.name, run: runId, phase: 'post-plan' }, { clock, log: (l) => log(`post-plan ${l.stream}: ${l.line}`) });
        log(describeHookResult(plan!.postPlan.name, r), hookFailed(r) ? 'warn' : 'info');
      }
      const total = store.tasks(runId).length;
      const skipped = total - counts.succeeded - counts.failed - counts.cancelled;
      if (runLimit.signal.aborted) return end('cancelled', `${abortReason(runLimit.signal)}: ${counts.succeeded} task(s) succeeded, ${counts.failed} failed, ${counts.cancelled} cancelled`);
      if (counts.failed === 0 && counts.cancelled === 0) return end(skipped > 0 ? 'partial' : 'succeeded', skipped > 0 ? `${counts.succeeded} succeeded, ${skipped} skipped` : null);
      return end(counts.succeeded > 0 ? 'partial' : 'failed', `${counts.failed} task(s) failed, ${counts.cancelled} cancelled, ${counts.succeeded} succeeded, ${skipped} skipped`);
    } finally {
      runLimit.clear();
    }
  }

  /** The run's pending tasks with their activities, in creation order. */
  function expandedPending() {
    const recs = store.tasks(runId).filter((t) => t.status === 'pending');
    return recs.map((r) => ({ id: r.id, seq: r.seq, target: r.target, unit: r.unit, status: 'pending' as const, reason: r.reason, activity: plan!.activities.find((a) => a.name === r.activity)! }));
  }
}

/** The first run of a retry chain. */
function rootOf(store: ReturnType<Catalog['planRuns']>, run: PlanRunRecord): PlanRunRecord {
  let cur = run;
  for (let i = 0; i < 100 && cur.retryOf; i++) {
    const prev = store.getRun(cur.retryOf);
    if (!prev) break;
    cur = prev;
  }
  return cur;
}
