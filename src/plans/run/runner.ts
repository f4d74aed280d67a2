// S3: one run of a plan, as a list of steps. Admission in the manual's order
// (global switch, maintenance window, destination reachable and initialised,
// free space), then expansion into tasks, stop if none is to run (failed
// when a pattern matched nothing), the S5 locks (with the trigger's retry
// policy), then the locked part
// (run-tasks.ts: the pre-plan hook and the tasks in creation order, each
// within its timeout, the whole within the run's).
// Every refusal and outcome is recorded in the catalog with its reason; each
// step logs a line saying in plain words what it checked or did ("inside the
// maintenance window"), never the step's number. Failures, exhausted
// retries, cleared locks and low space raise alerts through `alert`.

import { systemClock } from '../../core/clock.ts';
import type { Catalog } from '../../catalog/catalog.ts';
import type { PlanRunRecord } from '../../catalog/plan-runs.ts';
import { taskScope } from '../../catalog/leases.ts';
import { openDestinationRepo } from './destination-repo.ts';
import type { Repository } from '../../repo/repository.ts';
import { SafeholdError } from '../../core/errors.ts';
import { inWindow, outsideWindowReason } from './window.ts';
import { checkFreeSpace, checkReachable, lowSpaceAlert } from './destination-checks.ts';
import { expandActivities } from './expand.ts';
import type { ExpandedTask } from './expand.ts';
import { buildTargets } from '../../drivers/target/targets.ts';
import { quiesceRepairedAlert, recoverAbandoned } from './recover.ts';
import { acquireRunLocks, holderActivity, leaseKindOf } from './run-locks.ts';
import type { RunLockResult } from './run-locks.ts';
import { abortReason } from './deadline.ts';
import { recordRun } from './plan-run.ts';
import type { PlanRun, PlanRunResult, RunPlanOptions } from './plan-run.ts';
import { runLocked } from './run-tasks.ts';

export type { PlanRunResult, RunPlanOptions } from './plan-run.ts';

export async function runPlan(opts: RunPlanOptions): Promise<PlanRunResult> {
  const run = await startRun(opts);
  let locks: RunLockResult | null = null;
  let repo: Repository | null = null;
  try {
    if (opts.signal?.aborted) return run.end('cancelled', abortReason(opts.signal));
    const refusal = await admit(run);
    if (refusal !== null) return run.end('refused', refusal);
    const pending = await createTasks(run);
    if (pending.length === 0) return endWithoutTasks(run);
    repo = await openRepo(run);
    locks = await lockScopes(run, pending, repo);
    if (!locks) return run.end('cancelled', abortReason(opts.signal!));
    if (!locks.ok) return notLocked(run, pending, locks);
    return await runLocked(run, repo);
  } catch (e) {
    if (opts.signal?.aborted) return run.end('cancelled', abortReason(opts.signal));
    run.end('failed', e instanceof Error ? e.message : String(e));
    throw e;
  } finally {
    if (locks?.ok) await locks.locks.release();
    await repo?.close().catch(() => {});
  }
}

/** Finds the plan, repairs what crashed runs left behind, and records the run's start. */
async function startRun(opts: RunPlanOptions): Promise<PlanRun> {
  const { config, catalog } = opts;
  const alert = opts.alert ?? (() => {});
  const plan = config.plans[opts.plan];
  if (!plan) {
    const names = Object.keys(config.plans).join(', ') || 'none';
    throw new SafeholdError('NOT_FOUND', `no plan '${opts.plan}' in ${config.file} (plans: ${names})`);
  }
  if (opts.ignoreWindow && (opts.trigger !== 'on-demand' || opts.retryOf))
    throw new SafeholdError('USAGE', 'only an on-demand run may ignore the maintenance window (--ignore-window)');
  const store = catalog.planRuns();
  const s = config.settings;
  const leases = catalog.leases({ maxAgeMs: s.lockMaxAgeMs, heartbeatTimeoutMs: s.lockHeartbeatTimeoutMs });
  const targets = opts.targets ?? buildTargets(config);
  if (!opts.skipRecovery) {
    const rec = await recoverAbandoned(store, targets, leases);
    for (const q of rec.repaired) alert(quiesceRepairedAlert(q));
  }
  const root = opts.retryOf ? rootOf(store, opts.retryOf) : null;
  const scheduledFor = opts.scheduledFor ?? root?.scheduledFor ?? undefined;
  const run = recordRun({
    opts,
    config,
    catalog,
    plan,
    clock: opts.clock ?? systemClock,
    alert,
    store,
    leases,
    targets,
    root,
    scheduledFor,
  });
  if (opts.retryOf)
    run.log(`retry of run ${opts.retryOf.id.slice(0, 8)} (${opts.retryOf.reason ?? opts.retryOf.status})`);
  return run;
}

/** Admission in the manual's order; the reason the run is refused, or null. */
async function admit(run: PlanRun): Promise<string | null> {
  const { config, plan, clock, log } = run;
  if (!config.settings.backupsEnabled) return 'backups are disabled (settings.backups)';
  log('backups are enabled');
  if (run.opts.ignoreWindow) ignoreWindow(run, run.opts.ignoreWindow.by);
  else if (!inWindow(plan.window, clock.now())) return outsideWindowReason(plan.window, clock.now());
  else log('inside the maintenance window');
  const destination = config.destinations[plan.destination]!;
  const reach = await checkReachable(destination, config.file);
  if (!reach.ok) return reach.reason;
  log(`destination ${destination.name} is reachable${destination.type === 'repository' ? ' and initialised' : ''}`);
  const space = checkFreeSpace(destination);
  if (!space.ok) {
    if (space.space) run.alert(lowSpaceAlert(destination, space.space, space.reason));
    return space.reason;
  }
  log('destination has enough free space');
  return null;
}

/** An emergency run past the window: said in the run's log and in the audit log (who, when, which run). */
function ignoreWindow(run: PlanRun, by: string): void {
  const { plan, clock } = run;
  const now = clock.now();
  const state = inWindow(plan.window, now)
    ? 'inside the maintenance window anyway'
    : outsideWindowReason(plan.window, now);
  const detail = `run ${run.runId}: maintenance window ignored (${state})`;
  run.log(`maintenance window ignored, asked by ${by} (--ignore-window): ${state}`, 'warn');
  run.catalog.audit().record({
    at: now,
    principal: by,
    role: null,
    method: 'RUN',
    path: `plan ${plan.name} --ignore-window`,
    status: 0,
    ip: null,
    requestId: run.runId,
    detail,
  });
}

/** Activities → tasks, in definition order, against the live inventory; returns the pending ones. */
async function createTasks(run: PlanRun): Promise<ExpandedTask[]> {
  const expanded = await expandActivities(run.plan.activities, run.targets, run.config.groups, run.log);
  for (const t of expanded) {
    run.store.addTask(run.runId, {
      seq: t.seq,
      activity: t.activity.name,
      kind: t.activity.kind,
      target: t.target,
      unit: t.unit,
      status: t.status,
      reason: t.reason,
    });
  }
  const pending = expanded.filter((t) => t.status === 'pending');
  const failed = expanded.filter((t) => t.status === 'failed').length;
  const skipped = expanded.length - pending.length - failed;
  run.log(
    `${expanded.length} task(s) created, ${skipped} skipped${failed > 0 ? `, ${failed} failed (nothing matched)` : ''}`,
    failed > 0 ? 'error' : 'info',
  );
  return pending;
}

/**
 * No task to run: failed when a pattern matched nothing, skipped when every
 * target was unavailable, succeeded when there was nothing at all (every
 * activity matched nothing and allows that).
 */
function endWithoutTasks(run: PlanRun): PlanRunResult {
  const tasks = run.store.tasks(run.runId);
  const failed = tasks.filter((t) => t.status === 'failed').length;
  if (failed > 0) return run.end('failed', `${failed} task(s) failed, ${tasks.length - failed} skipped`);
  if (tasks.length === 0) return run.end('succeeded', 'nothing matched, and every activity allows that (allowEmpty)');
  return run.end('skipped', `all ${tasks.length} task(s) were skipped`);
}

async function openRepo(run: PlanRun): Promise<Repository | null> {
  const destination = run.config.destinations[run.plan.destination]!;
  if (destination.type !== 'repository') return null;
  const repo = await openDestinationRepo(destination, run.clock, run.log);
  await repo.loadIndex();
  return repo;
}

/** The locks of every scope the tasks touch, with the trigger's retry policy; null when cancelled. */
async function lockScopes(
  run: PlanRun,
  pending: ExpandedTask[],
  repo: Repository | null,
): Promise<RunLockResult | null> {
  const { opts, root, scheduledFor, config } = run;
  const prunes = pending.some((t) => t.activity.kind === 'purge' && t.activity.purge?.type === 'retention');
  const onDemand = isOnDemand(run);
  const windowStart = root
    ? { windowStart: root.scheduledFor ?? root.startedAt }
    : scheduledFor !== undefined && !onDemand
      ? { windowStart: scheduledFor }
      : {};
  return acquireRunLocks({
    leases: run.leases,
    runId: run.runId,
    scopes: [...new Set(pending.map((t) => taskScope(t.target, t.unit)))],
    // Each scope's lease says what the run does there (its first task on it), so a refusal names the real activity.
    kind: (scope) => leaseKindOf(pending.find((t) => taskScope(t.target, t.unit) === scope)!.activity.kind),
    holderActivity: holderActivity(run.store),
    repo,
    exclusive: prunes,
    policy: retryPolicy(run, pending),
    ...windowStart,
    heartbeatMs: Math.max(1000, Math.min(60_000, Math.floor(config.settings.lockHeartbeatTimeoutMs / 3))),
    clock: run.clock,
    ...(opts.signal ? { signal: opts.signal } : {}),
    log: run.log,
    alert: run.alert,
  }).catch((e: unknown) => {
    if (opts.signal?.aborted) return null;
    throw e;
  });
}

/** Whether the run (or the run it retries) was started on demand. */
function isOnDemand(run: PlanRun): boolean {
  return (run.root?.trigger ?? run.opts.trigger) === 'on-demand';
}

/** A retry keeps the policy of the run it retries (an on-demand run's, if it had one). */
function retryPolicy(run: PlanRun, pending: ExpandedTask[]) {
  if (isOnDemand(run)) return run.plan.retry.onDemand;
  return pending.some((t) => t.activity.kind === 'purge') ? run.plan.retry.purge : run.plan.retry.scheduled;
}

/** The locks were not had: refused (on demand, no retries), or failed (retries exhausted: alerted). */
function notLocked(run: PlanRun, pending: ExpandedTask[], locks: Extract<RunLockResult, { ok: false }>): PlanRunResult {
  if (!retryPolicy(run, pending)) return run.end('refused', `${locks.reason}; on-demand runs are not retried`);
  if (!locks.exhausted) return run.end('failed', locks.reason);
  run.alert({
    event: 'retries-exhausted',
    severity: 'critical',
    summary: `plan ${run.plan.name}: gave up after ${locks.attempts} attempts: ${locks.reason}`,
    details: { plan: run.plan.name, runId: run.runId, attempts: locks.attempts, reason: locks.reason },
  });
  return run.end('failed', `retries exhausted: ${locks.reason}`);
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
