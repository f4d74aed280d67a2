// The `safehold` step of a runbook: runs one of Safehold's own jobs in this
// process and waits for it — a plan (all its activities), the copy
// activities of a plan (or one of them), a group restore plan, or a plan's
// drill activities — and hands its run id, status and counts to later steps.
// Anything but a full success fails the step (a refusal, e.g. another run
// holding the scope, is retryable). Its dry run says what would run, from the
// configuration only: it opens no repository and runs nothing.

import type { Activity, Config, Plan, RestorePlan } from '../../../config/types.ts';
import { SafeholdError } from '../../../core/errors.ts';
import { buildTargets } from '../../../drivers/target/targets.ts';
import { runPlan } from '../../run/runner.ts';
import type { PlanRunResult } from '../../run/runner.ts';
import { restoreGroup } from '../../restore/restore-flow.ts';
import type { SafeholdParams } from '../../../config/runbook-params.ts';
import type { StepContext, StepKind, StepOutputs } from '../step-kind.ts';

/** A plan run to start: the whole plan, or the plan narrowed to some of its activities. */
interface PlanJob {
  readonly type: 'plan' | 'copy' | 'drill';
  readonly plan: Plan;
  readonly activities: readonly Activity[];
}

type Job = PlanJob | { readonly type: 'restore'; readonly restore: RestorePlan };

export const safeholdStep: StepKind<SafeholdParams> = {
  kind: 'safehold',
  idempotent: false,
  async plan(params, ctx) {
    const job = jobOf(params, ctx.config);
    return job.type === 'restore' ? describeRestore(job.restore, ctx.config) : describePlanJob(job, ctx.config);
  },
  async run(params, ctx) {
    const job = jobOf(params, ctx.config);
    return job.type === 'restore' ? runRestore(job.restore, ctx) : runPlanJob(job, ctx);
  },
};

/** The job the params name, checked against the configuration in force. */
export function jobOf(params: SafeholdParams, config: Config): Job {
  if ('restorePlan' in params) {
    const restore = config.restorePlans[params.restorePlan];
    if (!restore)
      throw new SafeholdError(
        'NOT_FOUND',
        `no restore plan '${params.restorePlan}' in ${config.file} (restore plans: ${names(config.restorePlans)})`,
      );
    return { type: 'restore', restore };
  }
  if ('plan' in params) {
    const plan = planOf(params.plan, config);
    return { type: 'plan', plan, activities: plan.activities };
  }
  if ('copy' in params) {
    const plan = planOf(params.copy.plan, config);
    const wanted = params.copy.activity;
    const copies = plan.activities.filter((a) => a.kind === 'copy' && (wanted === undefined || a.name === wanted));
    if (copies.length === 0)
      throw new SafeholdError(
        'USAGE',
        wanted === undefined
          ? `plan '${plan.name}' has no copy activity: there is no copy to run`
          : `plan '${plan.name}' has no copy activity '${wanted}' (copy activities: ${kindNames(plan, 'copy')})`,
      );
    return { type: 'copy', plan, activities: copies };
  }
  const plan = planOf(params.drill.plan, config);
  const drills = plan.activities.filter((a) => a.kind === 'drill');
  if (drills.length === 0)
    throw new SafeholdError('USAGE', `plan '${plan.name}' has no drill activity: there is no drill to run`);
  return { type: 'drill', plan, activities: drills };
}

function planOf(name: string, config: Config): Plan {
  const plan = config.plans[name];
  if (!plan)
    throw new SafeholdError('NOT_FOUND', `no plan '${name}' in ${config.file} (plans: ${names(config.plans)})`);
  return plan;
}

function names(o: Readonly<Record<string, unknown>>): string {
  return Object.keys(o).join(', ') || 'none';
}

function kindNames(plan: Plan, kind: Activity['kind']): string {
  return (
    plan.activities
      .filter((a) => a.kind === kind)
      .map((a) => a.name)
      .join(', ') || 'none'
  );
}

function describeActivity(a: Activity): string {
  const what = a.group ? `group ${a.group}` : `${a.targets.join(', ')}${a.units ? ` / ${a.units}` : ''}`;
  return `${a.name}: ${a.kind} of ${what}${a.kind === 'copy' && a.to ? ` to ${a.to}` : ''}`;
}

function describePlanJob(job: PlanJob, config: Config): string[] {
  const dest = config.destinations[job.plan.destination];
  const label =
    job.type === 'plan'
      ? `run plan ${job.plan.name}`
      : job.type === 'copy'
        ? `run the copy activit${job.activities.length === 1 ? 'y' : 'ies'} of plan ${job.plan.name}`
        : `run the restore drill of plan ${job.plan.name}`;
  return [
    `${label} (destination ${job.plan.destination}${dest ? `, a ${dest.type}` : ''}) and wait for it`,
    ...job.activities.map((a) => `  ${describeActivity(a)}`),
  ];
}

function describeRestore(r: RestorePlan, config: Config): string[] {
  const group = config.groups[r.group];
  const into = [
    r.filesTo ? `files under ${r.filesTo}` : null,
    r.intoSuffix ? `databases into names ending ${r.intoSuffix}` : null,
  ].filter((x) => x !== null);
  return [
    `restore group ${r.group} (restore plan ${r.name}) from ${r.from}, snapshot ${r.snapshot}, ${
      into.length > 0 ? `into ${into.join(' and ')}` : 'in place: over the live data'
    }${r.safetyBackup ? ', after a safety backup' : ''}`,
    ...(group
      ? [`  members: ${group.members.map((m) => `${m.target}${m.units ? `/${m.units.join(',')}` : ''}`).join(', ')}`]
      : []),
  ];
}

async function runPlanJob(job: PlanJob, ctx: StepContext): Promise<StepOutputs> {
  const narrowed = job.type === 'plan' ? job.plan : { ...job.plan, activities: job.activities };
  const config =
    job.type === 'plan' ? ctx.config : { ...ctx.config, plans: { ...ctx.config.plans, [job.plan.name]: narrowed } };
  const label = job.type === 'plan' ? 'run' : `${job.type} run`;
  const r = await runPlan({
    config,
    plan: job.plan.name,
    trigger: 'on-demand',
    catalog: ctx.catalog,
    clock: ctx.clock,
    signal: ctx.signal,
    alert: (e) => {
      ctx.alert(e).catch(() => {});
    },
    onStart: (id) => ctx.log(`plan ${job.plan.name}: ${label} ${id} started`),
  });
  const outputs = planOutputs(r);
  ctx.log(
    `plan ${job.plan.name}: ${label} ${r.id} ${r.status}${r.reason ? ` (${r.reason})` : ''}; ${outputs.snapshots} snapshot(s)`,
    r.status === 'succeeded' ? 'info' : 'error',
  );
  if (r.status !== 'succeeded')
    throw new SafeholdError(
      'RUNBOOK_STEP_FAILED',
      `plan ${job.plan.name}: ${label} ${r.id} ${r.status}${r.reason ? `: ${r.reason}` : ''}${firstFailure(r)}`,
      { retryable: r.status === 'refused' },
    );
  return outputs;
}

function planOutputs(r: PlanRunResult): StepOutputs {
  return {
    runId: r.id,
    status: r.status,
    snapshots: r.tasks.reduce((n, t) => n + t.snapshots.length, 0),
    tasks: r.tasks.length,
    failedTasks: r.tasks.filter((t) => t.status === 'failed').length,
  };
}

/** The first failed task's unit and reason, to say why without opening the run. */
function firstFailure(r: PlanRunResult): string {
  const t = r.tasks.find((x) => x.status === 'failed');
  return t ? `; ${t.target}${t.unit ? `/${t.unit}` : ''}: ${t.reason ?? 'failed'}` : '';
}

async function runRestore(plan: RestorePlan, ctx: StepContext): Promise<StepOutputs> {
  const r = await restoreGroup({
    config: ctx.config,
    group: plan.group,
    from: plan.from,
    snapshot: plan.snapshot,
    safetyBackup: plan.safetyBackup,
    intoSuffix: plan.intoSuffix,
    filesTo: plan.filesTo,
    force: false,
    // The runbook is the configuration's own procedure (a destructive one is confirmed when it starts).
    allowLive: true,
    targets: buildTargets(ctx.config),
    clock: ctx.clock,
    log: (step, msg, level) => ctx.log(`${step}: ${msg}`, level),
  });
  if (!r.ok)
    throw new SafeholdError(
      'RUNBOOK_STEP_FAILED',
      `restore of group ${plan.group} stopped at step '${r.failedStep ?? 'select'}': ${r.reason ?? 'no reason given'}${
        r.rollback ? `; roll back with: ${r.rollback}` : ''
      }`,
    );
  return {
    runId: r.groupRun,
    status: 'succeeded',
    snapshots: r.restored.length,
    safetyBackup: r.safety?.groupRun ?? null,
  };
}
