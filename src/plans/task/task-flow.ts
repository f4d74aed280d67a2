// S4: one task, step by step in the DPOD manual's order. Each step logs a
// line in plain words ("nothing is quiesced already", "… unquiesced") so a
// run's log shows what was checked and done; the log never names the
// specification's step numbers. A unit this task quiesced is unquiesced whatever
// happens after the quiesce (the quiesce is recorded in the catalog first,
// so a killed process's quiesce is undone at the next start: see recover.ts).

import type { TaskStatus } from '../../catalog/plan-runs.ts';
import type { DeviceAdapter, QuiesceState } from '../../drivers/device/adapter.ts';
import { formatDuration } from '../../core/format.ts';
import { abortReason } from '../run/deadline.ts';
import { backupOne, completedEarlier } from './task-backup.ts';
import { runTaskWork } from './task-work.ts';
import { inWindow, outsideWindowReason } from '../run/window.ts';
import { describeHookResult, hookFailed, runHook } from '../hooks/hooks.ts';
import { checkFreeSpace, lowSpaceAlert } from '../run/destination-checks.ts';
import type { ExpandedTask } from '../run/expand.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';
import { unitTags } from '../../repo/snapshot-tags.ts';
import { TaskStop, label } from './task-env.ts';
import type { TaskEnv } from './task-env.ts';


export interface TaskOutcome {
  status: Exclude<TaskStatus, 'pending' | 'running'>;
  reason: string | null;
  snapshots: string[];
  bytes: number;
}


export async function runTask(env: TaskEnv, task: ExpandedTask & { id: string }, target: PlanTarget): Promise<TaskOutcome> {
  const { store, runId, plan, clock } = env;
  const a = task.activity;
  const log = (msg: string, level: 'info' | 'warn' | 'error' = 'info') => store.log(runId, level, msg, task.id);
  const device = target.device;
  const out: TaskOutcome = { status: 'succeeded', reason: null, snapshots: [], bytes: 0 };
  const hookCtx = { plan: plan.name, run: runId, task: task.id, target: task.target, ...(task.unit ? { unit: task.unit } : {}) };
  let quiesced: { record: string } | null = null;
  const checkpoint = () => {
    if (env.signal.aborted) throw new TaskStop('cancelled', abortReason(env.signal));
  };
  try {
    checkpoint();
    // 1. Window re-check.
    if (!inWindow(plan.window, clock.now())) throw new TaskStop('skipped', outsideWindowReason(plan.window, clock.now()));
    log('inside the maintenance window');
    // 2. Destination free space.
    const space = checkFreeSpace(env.destination);
    if (!space.ok) {
      if (space.space) env.alert(lowSpaceAlert(env.destination, space.space, space.reason));
      throw new TaskStop('failed', space.reason);
    }
    log('destination has enough free space');
    // A retry does not repeat what the run it retries already saved.
    if (env.retrying && (a.kind === 'backup' || a.kind === 'export')) {
      const done = await completedEarlier(env, task, target);
      if (done) {
        out.snapshots.push(...done.snapshots);
        out.reason = done.reason;
        log(done.reason);
        return out;
      }
    }
    // 3. Quiesce preconditions.
    if (device && a.quiesce) {
      if (task.unit !== null) {
        const state = await device.quiesceState(task.unit);
        if (state !== 'active') throw new TaskStop('failed', `unit ${task.unit} of ${task.target} is already ${state}`);
      } else {
        const units = await device.quiescedUnits();
        if (units.length > 0) throw new TaskStop('failed', `${task.target} has quiesced units: ${units.join(', ')}`);
      }
      log('nothing is quiesced already');
    }
    // 4. Unsaved changes: an export takes the persisted and the running state.
    let states: ('persisted' | 'running')[] = ['persisted'];
    if (device && a.kind === 'export' && task.unit !== null && (await device.unsavedChanges(task.unit))) {
      states = ['persisted', 'running'];
      log(`unit ${task.unit} has unsaved changes: two exports (persisted and running state)`);
    }
    // 5. Device free space for staging a whole-device backup.
    if (device && task.unit === null) {
      const [free, need] = await Promise.all([device.freeSpace(), device.backupSize()]);
      if (free < need) throw new TaskStop('failed', `${task.target} has ${free} bytes free for staging, the backup needs ${need}`);
      log('device has room to stage the backup');
    }
    checkpoint();
    // 6. Pre-task hook.
    if (a.preTask) {
      const r = await runHook(a.preTask, { ...hookCtx, phase: 'pre-task' }, { clock, log: (l) => log(`pre-task ${l.stream}: ${l.line}`) });
      if (hookFailed(r) && a.preTask.failOnError) throw new TaskStop('failed', describeHookResult(a.preTask.name, r));
      log(describeHookResult(a.preTask.name, r));
    }
    // 7. Quiesce and wait, within timeout + grace; past that: cancel, unquiesce, fail.
    if (device && a.quiesce) {
      quiesced = { record: store.recordQuiesce({ runId, taskId: task.id, target: task.target, unit: task.unit }) };
      await device.quiesce(task.unit, Math.ceil(a.quiesceTimeoutMs / 1000));
      const limit = a.quiesceTimeoutMs + env.quiesceGraceMs;
      if (!(await waitFor(device, task.unit, 'quiesced', limit, env, env.signal))) {
        throw new TaskStop('failed', `quiesce of ${label(task)} did not finish within ${formatDuration(limit)} (timeout + grace); cancelled`);
      }
      log(`${label(task)} quiesced`);
    }
    checkpoint();
    // 8. The backup or export; a purge or a copy.
    if (a.kind === 'purge' || a.kind === 'copy' || a.kind === 'drill') {
      const r = await runTaskWork(env, task, target, log);
      out.snapshots.push(...r.snapshots);
      out.bytes += r.bytes;
      out.reason = r.note;
      states = [];
    }
    for (const state of states) {
      const tags = [
        `plan:${plan.name}`, ...unitTags(task.target, task.unit), ...a.tags,
        ...(states.length > 1 || device ? [`state:${state}`] : []), `run:${env.rootRunId}`,
      ];
      const id = await backupOne(env, task, target, state, tags);
      out.snapshots.push(id.id);
      out.bytes += id.bytes;
      log(`${a.kind} of ${label(task)}${states.length > 1 ? ` (${state} state)` : ''} saved as ${env.repo ? `snapshot ${id.id.slice(0, 8)}` : id.id}`);
    }
  } catch (e) {
    out.status = e instanceof TaskStop ? e.status : env.signal.aborted ? 'cancelled' : 'failed';
    out.reason = out.status === 'cancelled' && !(e instanceof TaskStop) ? abortReason(env.signal) : e instanceof Error ? e.message : String(e);
    log(`task ${out.status}: ${out.reason}`, out.status === 'skipped' ? 'warn' : 'error');
  } finally {
    // 9. Unquiesce what this task quiesced; past timeout + grace, fail without waiting more.
    if (quiesced && device) await unquiesce(env, device, task, quiesced.record, out, log);
  }
  // 10. Post-task hook (hooks marked `always` run after a failure too).
  const post = a.postTask;
  if (post && (out.status === 'succeeded' || post.always)) {
    const r = await runHook(post, { ...hookCtx, phase: 'post-task', ...(out.snapshots[0] ? { snapshot: out.snapshots[0] } : {}) }, { clock, log: (l) => log(`post-task ${l.stream}: ${l.line}`) });
    log(describeHookResult(post.name, r), hookFailed(r) ? 'warn' : 'info');
    if (hookFailed(r) && post.failOnError && out.status === 'succeeded') {
      out.status = 'failed';
      out.reason = describeHookResult(post.name, r);
    }
  }
  return out;
}

async function unquiesce(env: TaskEnv, device: DeviceAdapter, task: ExpandedTask, record: string, out: TaskOutcome, log: (m: string, l?: 'info' | 'warn' | 'error') => void): Promise<void> {
  const limit = task.activity.quiesceTimeoutMs + env.quiesceGraceMs;
  try {
    await device.unquiesce(task.unit, Math.ceil(task.activity.quiesceTimeoutMs / 1000));
    if (await waitFor(device, task.unit, 'active', limit, env)) {
      env.store.releaseQuiesce(record, 'unquiesced');
      log(`${label(task)} unquiesced`);
      return;
    }
    env.store.releaseQuiesce(record, 'unquiesce requested, not confirmed');
    fail(out, `unquiesce of ${label(task)} did not finish within ${formatDuration(limit)}; the device goes on with it`);
  } catch (e) {
    fail(out, `unquiesce of ${label(task)} failed: ${e instanceof Error ? e.message : String(e)}`);
  }
  log(out.reason!, 'error');
}

function fail(out: TaskOutcome, reason: string): void {
  if (out.status === 'succeeded') {
    out.status = 'failed';
    out.reason = reason;
  } else out.reason = `${out.reason}; ${reason}`;
}

/** Polls until the unit (or device) reaches `want`, or `limitMs` passes (or `signal` fires: cleanup waits pass none). */
async function waitFor(device: DeviceAdapter, unit: string | null, want: QuiesceState, limitMs: number, env: TaskEnv, signal?: AbortSignal): Promise<boolean> {
  const deadline = env.clock.now() + limitMs;
  for (;;) {
    if ((await device.quiesceState(unit)) === want) return true;
    if (env.clock.now() >= deadline) return false;
    await env.clock.sleep(Math.min(env.pollMs, Math.max(1, deadline - env.clock.now())), signal);
  }
}

