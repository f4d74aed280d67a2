// S3: one run of a plan. Admission in the manual's order (global switch,
// maintenance window, destination reachable and initialised, free space),
// then expansion into tasks, stop if all are skipped, the pre-plan hook,
// and the tasks in creation order (S4, task-flow.ts). Every refusal and
// outcome is recorded in the catalog with its reason; each step logs a line
// starting with its number ("S3.2 …").

import type { Config, RepositoryDestination } from '../config/types.ts';
import type { Clock } from '../core/clock.ts';
import { systemClock } from '../core/clock.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { PlanRunStatus, RunTrigger, TaskRecord } from '../catalog/plan-runs.ts';
import { LocalBackend } from '../repo/backend/local-backend.ts';
import { Repository } from '../repo/repository.ts';
import { RepoLock } from '../repo/lock.ts';
import { SafeholdError } from '../core/errors.ts';
import { inWindow, outsideWindowReason } from './window.ts';
import { describeHookResult, hookFailed, runHook } from './hooks.ts';
import { checkFreeSpace, checkReachable } from './destination-checks.ts';
import { expandActivities } from './expand.ts';
import { buildTargets } from './targets.ts';
import type { PlanTarget } from './targets.ts';
import { recoverAbandoned } from './recover.ts';
import { runTask } from './task-flow.ts';

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
  const plan = config.plans[opts.plan];
  if (!plan) throw new SafeholdError('NOT_FOUND', `no plan '${opts.plan}' in ${config.file} (plans: ${Object.keys(config.plans).join(', ') || 'none'})`);
  const store = catalog.planRuns();
  const targets = opts.targets ?? buildTargets(config);
  await recoverAbandoned(store, targets);
  const runId = store.startRun({ plan: plan.name, trigger: opts.trigger, configFile: config.file });
  const log = (msg: string, level: 'info' | 'warn' | 'error' = 'info') => store.log(runId, level, msg);
  const end = (status: Exclude<PlanRunStatus, 'running'>, reason: string | null): PlanRunResult => {
    store.finishRun(runId, status, reason);
    if (reason) log(`run ${status}: ${reason}`, status === 'failed' || status === 'refused' ? 'error' : 'info');
    return { id: runId, status, reason, tasks: store.tasks(runId) };
  };
  try {
    // 1. The global switch.
    if (!config.settings.backupsEnabled) return end('refused', 'backups are disabled (settings.backups)');
    log('S3.1 backups are enabled');
    // 2. The maintenance window.
    if (!inWindow(plan.window, clock.now())) return end('refused', outsideWindowReason(plan.window, clock.now()));
    log('S3.2 inside the maintenance window');
    // 3. The destination is reachable (mounted) and initialised.
    const destination = config.destinations[plan.destination] as RepositoryDestination;
    const reach = checkReachable(destination);
    if (!reach.ok) return end('refused', reach.reason);
    log(`S3.3 destination ${destination.name} is reachable and initialised`);
    // 4. Free space above the threshold.
    const space = checkFreeSpace(destination);
    if (!space.ok) return end('refused', space.reason);
    log('S3.4 destination has enough free space');
    // 5. Activities → tasks, in definition order, against the live inventory.
    const expanded = await expandActivities(plan.activities, targets);
    const tasks = expanded.map((t) => ({ ...t, id: store.addTask(runId, { seq: t.seq, activity: t.activity.name, kind: t.activity.kind, target: t.target, unit: t.unit, status: t.status, reason: t.reason }) }));
    const pending = tasks.filter((t) => t.status === 'pending');
    log(`S3.5 ${tasks.length} task(s) created, ${tasks.length - pending.length} skipped`);
    // 6. Nothing to do: stop.
    if (pending.length === 0) return end('skipped', `all ${tasks.length} task(s) were skipped`);
    // 7. The pre-plan hook.
    if (plan.prePlan) {
      const r = await runHook(plan.prePlan, { plan: plan.name, run: runId, phase: 'pre-plan' }, { clock, log: (l) => log(`pre-plan ${l.stream}: ${l.line}`) });
      if (hookFailed(r) && plan.prePlan.failOnError) {
        for (const t of pending) store.finishTask(t.id, { status: 'cancelled', reason: 'the pre-plan hook failed' });
        return end('failed', describeHookResult(plan.prePlan.name, r));
      }
      log(`S3.7 ${describeHookResult(plan.prePlan.name, r)}`);
    }
    // 8. Tasks in creation order, under a shared repository lock.
    const repo = await Repository.open(new LocalBackend(destination.path), destination.password.value, clock);
    await repo.loadIndex();
    const lock = await RepoLock.acquire(repo, false);
    let succeeded = 0;
    let failed = 0;
    try {
      for (const t of pending) {
        store.startTask(t.id);
        log(`S3.8 task ${t.seq}: ${t.activity.kind} ${t.target}${t.unit ? `/${t.unit}` : ''}`);
        const target = targets.find((x) => x.name === t.target)!;
        const r = await runTask({ runId, plan, destination, repo, store, clock, quiesceGraceMs: config.settings.quiesceGraceMs, pollMs: opts.pollMs ?? 500 }, t, target);
        store.finishTask(t.id, r);
        if (r.status === 'succeeded') succeeded++;
        else if (r.status === 'failed') failed++;
      }
    } finally {
      await lock.release().catch(() => {});
    }
    if (plan.postPlan) {
      const r = await runHook(plan.postPlan, { plan: plan.name, run: runId, phase: 'post-plan' }, { clock, log: (l) => log(`post-plan ${l.stream}: ${l.line}`) });
      log(describeHookResult(plan.postPlan.name, r), hookFailed(r) ? 'warn' : 'info');
    }
    const skipped = tasks.length - succeeded - failed;
    if (failed === 0) return end(skipped > 0 ? 'partial' : 'succeeded', skipped > 0 ? `${succeeded} succeeded, ${skipped} skipped` : null);
    return end(succeeded > 0 ? 'partial' : 'failed', `${failed} task(s) failed, ${succeeded} succeeded, ${skipped} skipped`);
  } catch (e) {
    end('failed', e instanceof Error ? e.message : String(e));
    throw e;
  }
}
