// The quiesce steps of a task on a device target: nothing may be quiesced
// already; quiesce (recorded in the catalog first, so that a killed process's
// quiesce is undone at the next start: see run/recover.ts) and wait within
// the timeout plus the grace period; unquiesce whatever happens after, and
// fail the task (without waiting more) when that does not finish in time.

import type { DeviceAdapter, QuiesceState } from '../../drivers/device/adapter.ts';
import { formatDuration } from '../../core/format.ts';
import type { ExpandedTask } from '../run/expand.ts';
import { TaskStop, label } from './task-env.ts';
import type { Log, TaskEnv, TaskOutcome } from './task-env.ts';

/** Fails unless nothing of the task's scope is quiesced already. */
export async function checkNothingQuiesced(device: DeviceAdapter, task: ExpandedTask, log: Log): Promise<void> {
  if (task.unit !== null) {
    const state = await device.quiesceState(task.unit);
    if (state !== 'active') throw new TaskStop('failed', `unit ${task.unit} of ${task.target} is already ${state}`);
  } else {
    const units = await device.quiescedUnits();
    if (units.length > 0) throw new TaskStop('failed', `${task.target} has quiesced units: ${units.join(', ')}`);
  }
  log('nothing is quiesced already');
}

/** Quiesces and waits; `recorded` gets the catalog record first (the caller unquiesces from then on). */
export async function quiesceAndWait(
  env: TaskEnv,
  device: DeviceAdapter,
  task: ExpandedTask & { id: string },
  recorded: (record: string) => void,
  log: Log,
): Promise<void> {
  const a = task.activity;
  recorded(env.store.recordQuiesce({ runId: env.runId, taskId: task.id, target: task.target, unit: task.unit }));
  await device.quiesce(task.unit, Math.ceil(a.quiesceTimeoutMs / 1000));
  const limit = a.quiesceTimeoutMs + env.quiesceGraceMs;
  if (!(await waitFor(device, task.unit, 'quiesced', limit, env, env.signal))) {
    throw new TaskStop(
      'failed',
      `quiesce of ${label(task)} did not finish within ${formatDuration(limit)} (timeout + grace); cancelled`,
    );
  }
  log(`${label(task)} quiesced`);
}

/** Unquiesces what the task quiesced; a failure or a timeout fails the task (added to an earlier failure). */
export async function unquiesce(
  env: TaskEnv,
  device: DeviceAdapter,
  task: ExpandedTask,
  record: string,
  out: TaskOutcome,
  log: Log,
): Promise<void> {
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
async function waitFor(
  device: DeviceAdapter,
  unit: string | null,
  want: QuiesceState,
  limitMs: number,
  env: TaskEnv,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = env.clock.now() + limitMs;
  for (;;) {
    if ((await device.quiesceState(unit)) === want) return true;
    if (env.clock.now() >= deadline) return false;
    await env.clock.sleep(Math.min(env.pollMs, Math.max(1, deadline - env.clock.now())), signal);
  }
}
