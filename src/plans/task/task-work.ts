// Step S4.8 for purges and copies (backups and exports: task-backup.ts).
// A retention purge forgets the unit's snapshots that the plan's retention
// rules do not keep (per plan that made them, per device state), then
// prunes the repository (the run holds the exclusive repository lock). A
// command purge runs the user's program on the scope (source data). A copy
// sends the unit's snapshots to another repository and verifies them there
// (with the copy's own retention, copy-retention.ts, only those its rules
// keep, forgetting there what they drop), or, for directory destinations,
// copies the closed generations only.

import { pgWalRetention } from '../../drivers/pg-wal/wal-retention.ts';
import { openDestinationRepo } from '../run/destination-repo.ts';
import { RepoLock } from '../../repo/lock.ts';
import type { Repository } from '../../repo/repository.ts';
import { listSnapshots } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { isOfUnit } from '../../repo/snapshot-tags.ts';
import { byPlanAndState, chooseCopies } from './copy-retention.ts';
import { chooseByPolicy, forgetAndPrune } from '../../engine/maintenance/forget-policy.ts';
import { copySnapshots } from '../../engine/copy/copy.ts';
import { closedGenerations, copyClosedGenerations } from '../../engine/directory/generations.ts';
import { SafeholdError } from '../../core/errors.ts';
import { childEnv } from '../../core/child-env.ts';
import { runChild } from '../../core/child-process.ts';
import { formatBytes } from '../../core/format.ts';
import type { ExpandedTask } from '../run/expand.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';
import type { Log, TaskEnv, WorkResult } from './task-env.ts';
import { TaskStop, label } from './task-env.ts';
import { unitScheme } from './task-backup.ts';
import { runDrill } from './task-drill.ts';
import { checkFreeSpace, checkReachable, lowSpaceAlert } from '../run/destination-checks.ts';
import { redactDbUrl, runSql } from '../../drivers/sql/sql-exec.ts';

export async function runTaskWork(env: TaskEnv, task: ExpandedTask, target: PlanTarget, log: Log): Promise<WorkResult> {
  const a = task.activity;
  if (a.kind === 'purge') {
    if (a.purge?.type === 'command') return purgeCommand(env, task, target, a.purge.command, a.purge.timeoutMs, log);
    if (a.purge?.type === 'sql')
      return purgeSql(env, task, a.purge.sql, a.purge.database.value, a.purge.timeoutMs, log);
    return purgeRetention(env, task, log);
  }
  if (a.kind === 'copy') return copyUnit(env, task, target, log);
  if (a.kind === 'drill') return runDrill(env, task, target, log);
  throw new SafeholdError('INTERNAL', `no work for a ${a.kind} task here`);
}

/** The copy's retention: forgets what its rules drop at the copy destination, then prunes; returns the bytes freed. */
async function forgetCopies(
  dst: Repository,
  ids: readonly string[],
  name: string,
  task: ExpandedTask,
  log: Log,
): Promise<number> {
  if (ids.length === 0) return 0;
  const stats = (await forgetAndPrune(dst, ids, { prune: { walRetention: pgWalRetention } })).prune!;
  log(
    `the copy's retention forgot ${ids.length} snapshot(s) of ${label(task)} at ${name}; ${formatBytes(stats.bytes.removed)} freed`,
  );
  return stats.bytes.removed;
}

/** The snapshots of the task's unit (or whole target), whichever plan made them. */
function unitSnapshots(all: SnapshotWithId[], task: ExpandedTask): SnapshotWithId[] {
  return all.filter((s) => isOfUnit(s, task.target, task.unit));
}

async function purgeRetention(env: TaskEnv, task: ExpandedTask, log: Log): Promise<WorkResult> {
  const repo = env.repo;
  if (!repo || !env.plan.retention)
    throw new TaskStop('failed', 'a retention purge needs a repository destination and retention rules');
  const mine = unitSnapshots(await listSnapshots(repo), task);
  const { remove } = chooseByPolicy(mine, env.plan.retention, { groupBy: [], partition: byPlanAndState });
  log(
    `retention keeps ${mine.length - remove.length} of ${mine.length} snapshot(s) of ${label(task)}; forgetting ${remove.length}`,
  );
  if (remove.length === 0) return { snapshots: [], bytes: 0, note: `kept all ${mine.length} snapshot(s)` };
  const stats = (await forgetAndPrune(repo, remove, { prune: { walRetention: pgWalRetention } })).prune!;
  await repo.reloadIndex();
  log(
    `pruned: ${stats.packs.deleted} pack(s) deleted, ${stats.packs.repacked} repacked, ${formatBytes(stats.bytes.removed)} freed`,
  );
  return {
    snapshots: [],
    bytes: -stats.bytes.removed,
    note: `forgot ${remove.length} of ${mine.length} snapshot(s), freed ${formatBytes(stats.bytes.removed)}`,
  };
}

async function purgeCommand(
  env: TaskEnv,
  task: ExpandedTask,
  target: PlanTarget,
  argv: readonly string[],
  timeoutMs: number,
  log: Log,
): Promise<WorkResult> {
  // The allow-listed environment (no secrets); a command target's own environment (its credentials) is given to its purge too.
  const own =
    target.config.kind === 'command'
      ? Object.fromEntries(Object.entries(target.config.env).map(([k, v]) => [k, v.value]))
      : {};
  const purgeEnv = childEnv({
    ...own,
    SAFEHOLD_PLAN: env.plan.name,
    SAFEHOLD_RUN: env.runId,
    SAFEHOLD_TARGET: task.target,
    SAFEHOLD_UNIT: task.unit ?? '',
  });
  // Its own process group: a timeout or a cancel ends it with SIGTERM, then SIGKILL after a grace period, children included.
  const r = await runChild({
    argv,
    env: purgeEnv,
    timeoutMs,
    signal: env.signal,
    stdout: 'lines',
    onLine: (stream, line) => {
      if (line !== '') log(`purge ${stream}: ${line}`, stream === 'stderr' ? 'warn' : 'info');
    },
  });
  if (r.startError) throw new TaskStop('failed', `cannot run the purge command ${argv[0]}: ${r.startError.reason}`);
  if (env.signal.aborted) throw new TaskStop('cancelled', 'the purge command was stopped: the task was cancelled');
  if (r.exitCode === 0) return { snapshots: [], bytes: 0, note: null };
  throw new TaskStop(
    'failed',
    `the purge command exited with ${r.exitCode ?? r.signal}${r.stopped === 'timeout' ? ' (timed out)' : ''}`,
  );
}

async function purgeSql(
  env: TaskEnv,
  task: ExpandedTask,
  sql: string,
  url: string,
  timeoutMs: number,
  log: Log,
): Promise<WorkResult> {
  const target = url.split('{unit}').join(encodeURIComponent(task.unit ?? ''));
  try {
    const r = await runSql(target, sql, { timeoutMs, signal: env.signal });
    log(`purge statement on ${redactDbUrl(target)} changed ${r.rowsAffected} row(s)`);
    return { snapshots: [], bytes: 0, note: `${r.rowsAffected} row(s) purged` };
  } catch (e) {
    if (env.signal.aborted) throw new TaskStop('cancelled', 'the purge statement was stopped: the task was cancelled');
    throw new TaskStop('failed', `purge statement failed: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function copyUnit(env: TaskEnv, task: ExpandedTask, target: PlanTarget, log: Log): Promise<WorkResult> {
  const to = env.config.destinations[task.activity.to!]!;
  // The copy's destination passes the same checks as a plan's (S3.3, S3.4): an unmounted offsite disk is not written to.
  const reach = await checkReachable(to, env.config.file);
  if (!reach.ok) throw new TaskStop('failed', reach.reason);
  const space = checkFreeSpace(to);
  if (!space.ok) {
    if (space.space) env.alert(lowSpaceAlert(to, space.space, space.reason));
    throw new TaskStop('failed', space.reason);
  }
  if (env.destination.type === 'directory' || to.type === 'directory') {
    if (env.destination.type !== 'directory' || to.type !== 'directory')
      throw new TaskStop('failed', 'a copy needs two destinations of one type');
    const kind = target.config.kind === 'files' ? 'files' : 'stream';
    const states = target.device ? ['persisted', 'running'] : [null];
    const copied: string[] = [];
    for (const state of states) {
      const scheme = unitScheme(env.destination, task, kind, state);
      if (closedGenerations(scheme).length === 0) continue;
      const r = await copyClosedGenerations(scheme, to.path);
      copied.push(...r.copied);
    }
    log(`copied ${copied.length} closed generation(s) of ${label(task)} to ${to.name}`);
    return { snapshots: [], bytes: 0, note: `${copied.length} closed generation(s) copied to ${to.name}` };
  }
  const src = env.repo!;
  const dst = await openDestinationRepo(to, env.clock, log);
  const keep = task.activity.retention;
  // Exclusive when the copy's own retention forgets and prunes there.
  const lock = await RepoLock.acquire(dst, keep !== null);
  try {
    const mine = unitSnapshots(await listSnapshots(src), task);
    const chosen = keep
      ? chooseCopies(mine, unitSnapshots(await listSnapshots(dst), task), src.config.id, keep)
      : { copy: mine, forget: [] };
    const r = await copySnapshots(src, dst, { snapshots: chosen.copy, verify: true });
    const made = r.snapshots.filter((s) => s.copied !== null);
    const bytes = made.reduce((n, s) => n + s.bytesCopied, 0);
    log(
      `copied ${made.length} snapshot(s) of ${label(task)} to ${to.name} (${r.snapshots.length - made.length} already there), verified`,
    );
    const forgot = await forgetCopies(dst, chosen.forget, to.name, task, log);
    return {
      snapshots: made.map((s) => s.copied!),
      bytes: bytes - forgot,
      note: `${made.length} snapshot(s) copied to ${to.name} and verified, ${r.snapshots.length - made.length} already there${keep ? `, ${chosen.forget.length} forgotten there by the copy's retention` : ''}`,
    };
  } finally {
    await lock.release().catch(() => {});
    await dst.close().catch(() => {});
  }
}
