// S4: one task, step by step in the DPOD manual's order. Each step logs a
// line in plain words ("nothing is quiesced already", "… unquiesced") so a
// run's log shows what was checked and done; the log never names the
// specification's step numbers. A unit this task quiesced is unquiesced
// whatever happens after the quiesce (task-quiesce.ts).

import { abortReason } from '../run/deadline.ts';
import { backupOne, completedEarlier } from './task-backup.ts';
import { runTaskWork } from './task-work.ts';
import { inWindow, outsideWindowReason } from '../run/window.ts';
import { describeHookResult, hookFailed, runHook } from '../hooks/hooks.ts';
import type { HookContext } from '../hooks/hooks.ts';
import { checkFreeSpace, lowSpaceAlert } from '../run/destination-checks.ts';
import type { ExpandedTask } from '../run/expand.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';
import { groupTag, unitTags } from '../../repo/snapshot-tags.ts';
import { TaskStop, label } from './task-env.ts';
import type { Log, TaskEnv, TaskOutcome } from './task-env.ts';
import { checkNothingQuiesced, quiesceAndWait, unquiesce } from './task-quiesce.ts';
export type { TaskOutcome } from './task-env.ts';

type State = 'persisted' | 'running';

/** What the steps of one task share. */
interface TaskRun {
  env: TaskEnv;
  task: ExpandedTask & { id: string };
  target: PlanTarget;
  log: Log;
  out: TaskOutcome;
  hookCtx: Omit<HookContext, 'phase'>;
  /** The catalog record of this task's quiesce, once it has one. */
  quiesced: string | null;
}

export async function runTask(
  env: TaskEnv,
  task: ExpandedTask & { id: string },
  target: PlanTarget,
): Promise<TaskOutcome> {
  const t = startTask(env, task, target);
  const device = target.device;
  const quiesce = device !== null && task.activity.quiesce;
  try {
    checkpoint(t);
    checkWindowAndSpace(t);
    if (await savedEarlier(t)) return t.out;
    if (quiesce) await checkNothingQuiesced(device, task, t.log);
    const states = await statesToSave(t);
    await checkStagingSpace(t);
    checkpoint(t);
    await preTaskHook(t);
    if (quiesce)
      await quiesceAndWait(
        env,
        device,
        task,
        (r) => {
          t.quiesced = r;
        },
        t.log,
      );
    checkpoint(t);
    await doWork(t, states);
  } catch (e) {
    recordStop(t, e);
  } finally {
    if (t.quiesced && device) await unquiesce(env, device, task, t.quiesced, t.out, t.log);
  }
  await postTaskHook(t);
  return t.out;
}

function startTask(env: TaskEnv, task: ExpandedTask & { id: string }, target: PlanTarget): TaskRun {
  const log: Log = (msg, level = 'info') => env.store.log(env.runId, level, msg, task.id);
  const hookCtx = {
    plan: env.plan.name,
    run: env.runId,
    task: task.id,
    target: task.target,
    ...(task.unit ? { unit: task.unit } : {}),
  };
  return {
    env,
    task,
    target,
    log,
    out: { status: 'succeeded', reason: null, snapshots: [], bytes: 0 },
    hookCtx,
    quiesced: null,
  };
}

function checkpoint(t: TaskRun): void {
  if (t.env.signal.aborted) throw new TaskStop('cancelled', abortReason(t.env.signal));
}

/** The maintenance window again, and the destination's free space. */
function checkWindowAndSpace(t: TaskRun): void {
  const { plan, clock, destination } = t.env;
  if (t.env.ignoreWindow) t.log('maintenance window not checked (--ignore-window)');
  else if (!inWindow(plan.window, clock.now()))
    throw new TaskStop('skipped', outsideWindowReason(plan.window, clock.now()));
  else t.log('inside the maintenance window');
  const space = checkFreeSpace(destination);
  if (!space.ok) {
    if (space.space) t.env.alert(lowSpaceAlert(destination, space.space, space.reason));
    throw new TaskStop('failed', space.reason);
  }
  t.log('destination has enough free space');
}

/** A retry does not repeat what the run it retries already saved: true when that is the case. */
async function savedEarlier(t: TaskRun): Promise<boolean> {
  const kind = t.task.activity.kind;
  if (!t.env.retrying || (kind !== 'backup' && kind !== 'export')) return false;
  const done = await completedEarlier(t.env, t.task, t.target);
  if (!done) return false;
  t.out.snapshots.push(...done.snapshots);
  t.out.reason = done.reason;
  t.log(done.reason);
  return true;
}

/** Unsaved changes: an export takes the persisted and the running state. */
async function statesToSave(t: TaskRun): Promise<State[]> {
  const { device } = t.target;
  const unit = t.task.unit;
  if (!device || t.task.activity.kind !== 'export' || unit === null || !(await device.unsavedChanges(unit)))
    return ['persisted'];
  t.log(`unit ${unit} has unsaved changes: two exports (persisted and running state)`);
  return ['persisted', 'running'];
}

/** A whole-device backup is staged on the device: it needs the room. */
async function checkStagingSpace(t: TaskRun): Promise<void> {
  const { device } = t.target;
  if (!device || t.task.unit !== null) return;
  const [free, need] = await Promise.all([device.freeSpace(), device.backupSize()]);
  if (free < need)
    throw new TaskStop('failed', `${t.task.target} has ${free} bytes free for staging, the backup needs ${need}`);
  t.log('device has room to stage the backup');
}

async function preTaskHook(t: TaskRun): Promise<void> {
  const hook = t.task.activity.preTask;
  if (!hook) return;
  const r = await runHook(
    hook,
    { ...t.hookCtx, phase: 'pre-task' },
    {
      clock: t.env.clock,
      log: (l) => t.log(`pre-task ${l.stream}: ${l.line}`),
    },
  );
  if (hookFailed(r) && hook.failOnError) throw new TaskStop('failed', describeHookResult(hook.name, r));
  t.log(describeHookResult(hook.name, r));
}

/** The backup or export (one snapshot per state); a purge, a copy or a drill. */
async function doWork(t: TaskRun, states: State[]): Promise<void> {
  const { env, task, target, out } = t;
  const a = task.activity;
  if (a.kind === 'purge' || a.kind === 'copy' || a.kind === 'drill') {
    const r = await runTaskWork(env, task, target, t.log);
    out.snapshots.push(...r.snapshots);
    out.bytes += r.bytes;
    out.reason = r.note;
    return;
  }
  for (const state of states) {
    const tags = [
      `plan:${env.plan.name}`,
      ...unitTags(task.target, task.unit),
      ...(a.group !== null ? [groupTag(a.group)] : []),
      ...a.tags,
      ...(states.length > 1 || target.device ? [`state:${state}`] : []),
      `run:${env.rootRunId}`,
    ];
    const saved = await backupOne(env, task, target, state, tags);
    out.snapshots.push(saved.id);
    out.bytes += saved.bytes;
    const which = states.length > 1 ? ` (${state} state)` : '';
    t.log(`${a.kind} of ${label(task)}${which} saved as ${env.repo ? `snapshot ${saved.id.slice(0, 8)}` : saved.id}`);
  }
}

/** How the task stopped: a TaskStop says so; anything else failed it (or cancelled it, when aborted). */
function recordStop(t: TaskRun, e: unknown): void {
  const { out, env } = t;
  out.status = e instanceof TaskStop ? e.status : env.signal.aborted ? 'cancelled' : 'failed';
  out.reason =
    out.status === 'cancelled' && !(e instanceof TaskStop)
      ? abortReason(env.signal)
      : e instanceof Error
        ? e.message
        : String(e);
  t.log(`task ${out.status}: ${out.reason}`, out.status === 'skipped' ? 'warn' : 'error');
}

/** The post-task hook (hooks marked `always` run after a failure too); a failing one fails a task that succeeded. */
async function postTaskHook(t: TaskRun): Promise<void> {
  const { out } = t;
  const post = t.task.activity.postTask;
  if (!post || (out.status !== 'succeeded' && !post.always)) return;
  const snapshot = out.snapshots[0] ? { snapshot: out.snapshots[0] } : {};
  const r = await runHook(
    post,
    { ...t.hookCtx, phase: 'post-task', ...snapshot },
    {
      clock: t.env.clock,
      log: (l) => t.log(`post-task ${l.stream}: ${l.line}`),
    },
  );
  t.log(describeHookResult(post.name, r), hookFailed(r) ? 'warn' : 'info');
  if (hookFailed(r) && post.failOnError && out.status === 'succeeded') {
    out.status = 'failed';
    out.reason = describeHookResult(post.name, r);
  }
}
