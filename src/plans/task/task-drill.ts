// Step S4.8 for restore drills (S7): the latest snapshot of the task's unit
// is restored into a scratch place (a new database name, a temporary
// directory), verified (tables' row counts and checksums against those
// recorded at backup time; files read back and compared block by block with
// the snapshot), the scratch copy removed, and a report recorded in the
// catalog, passed or failed with timings.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { listSnapshots } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { isOfUnit, isSafetyBackup } from '../../repo/snapshot-tags.ts';
import { restore as restoreTree } from '../../engine/restore/restorer.ts';
import { openStreamSnapshot } from '../../engine/restore/stream-reader.ts';
import { verifyRestoredTree } from '../../engine/restore/verify-restore.ts';
import type { ContentDigest } from '../../drivers/db/driver.ts';
import type { ExpandedTask } from '../run/expand.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';
import type { Log, TaskEnv, WorkResult } from './task-env.ts';
import { TaskStop, label } from './task-env.ts';

interface Outcome {
  passed: boolean;
  summary: string;
  details: Record<string, unknown>;
  restoreMs: number;
  verifyMs: number;
}

export async function runDrill(
  env: TaskEnv,
  task: ExpandedTask & { id?: string },
  target: PlanTarget,
  log: Log,
): Promise<WorkResult> {
  const repo = env.repo;
  if (!repo) throw new TaskStop('failed', 'a drill restores from a repository destination');
  const snap = latestOf(await listSnapshots(repo), task);
  if (!snap) throw new TaskStop('failed', `no snapshot of ${label(task)} to drill`);
  const started = env.clock.now();
  let out: Outcome;
  try {
    out = snap.kind === 'files' ? await drillFiles(env, snap) : await drillStream(env, snap, task, target);
  } catch (e) {
    out = {
      passed: false,
      summary: `restore failed: ${e instanceof Error ? e.message : String(e)}`,
      details: {},
      restoreMs: env.clock.now() - started,
      verifyMs: 0,
    };
  }
  env.drills.record({
    runId: env.runId,
    taskId: task.id ?? null,
    plan: env.plan.name,
    target: task.target,
    unit: task.unit,
    snapshot: snap.id,
    startedAt: started,
    finishedAt: env.clock.now(),
    restoreMs: out.restoreMs,
    verifyMs: out.verifyMs,
    status: out.passed ? 'passed' : 'failed',
    summary: out.summary,
    details: out.details,
  });
  log(
    `drill of ${label(task)} from snapshot ${snap.id.slice(0, 8)}: ${out.passed ? 'passed' : 'FAILED'}: ${out.summary}`,
    out.passed ? 'info' : 'error',
  );
  if (!out.passed) throw new TaskStop('failed', `drill failed: ${out.summary}`);
  return { snapshots: [], bytes: 0, note: `drill passed: ${out.summary}` };
}

/** The newest snapshot of the unit that is not a safety backup. */
function latestOf(all: SnapshotWithId[], task: ExpandedTask): SnapshotWithId | undefined {
  return all
    .filter((s) => isOfUnit(s, task.target, task.unit) && !isSafetyBackup(s))
    .sort((a, b) => b.time.localeCompare(a.time))[0];
}

async function drillFiles(env: TaskEnv, snap: SnapshotWithId): Promise<Outcome> {
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-drill-'));
  try {
    const t0 = env.clock.now();
    const r = await restoreTree(env.repo!, snap.tree, { target: scratch });
    const t1 = env.clock.now();
    const v = await verifyRestoredTree(env.repo!, snap.tree, scratch);
    const problems = [...r.errors.map((e) => `${e.path}: ${e.message}`), ...v.problems];
    return {
      passed: problems.length === 0,
      summary:
        problems.length === 0
          ? `${v.files} file(s), ${v.bytes} bytes restored and identical to the snapshot`
          : `${problems.length} difference(s), e.g. ${problems[0]}`,
      details: { files: v.files, bytes: v.bytes, problems },
      restoreMs: t1 - t0,
      verifyMs: env.clock.now() - t1,
    };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

async function drillStream(
  env: TaskEnv,
  snap: SnapshotWithId,
  task: ExpandedTask,
  target: PlanTarget,
): Promise<Outcome> {
  const t0 = env.clock.now();
  const { stream, size } = await openStreamSnapshot(env.repo!, snap);
  if (!target.db || task.unit === null) {
    // No driver to restore into: read every byte back (each blob is authenticated) and check the length.
    let n = 0;
    for await (const c of stream) n += (c as Buffer).length;
    const ok = n === size;
    return {
      passed: ok,
      summary: ok ? `${n} bytes read back and authenticated` : `${n} bytes read back, ${size} recorded`,
      details: { bytes: n },
      restoreMs: env.clock.now() - t0,
      verifyMs: 0,
    };
  }
  const scratch = scratchName(target, task.unit);
  try {
    await target.db.restore(task.unit, stream, snap.meta?.format ?? '', { into: scratch, signal: env.signal });
    const t1 = env.clock.now();
    const got = await target.db.digest(scratch);
    const want = snap.meta?.digest;
    const diffs = want ? compareDigests(want, got) : ['no digest was recorded at backup time'];
    const tables = Object.keys(got.tables).length;
    const rows = Object.values(got.tables).reduce((n, t) => n + t.rows, 0);
    return {
      passed: diffs.length === 0,
      summary:
        diffs.length === 0
          ? `${tables} table(s), ${rows} row(s) restored into ${scratch}; counts and checksums match the backup`
          : `${diffs.length} table(s) differ, e.g. ${diffs[0]}`,
      details: { scratch, tables, rows, differences: diffs },
      restoreMs: t1 - t0,
      verifyMs: env.clock.now() - t1,
    };
  } finally {
    await target.db.drop(scratch).catch(() => {});
  }
}

function scratchName(target: PlanTarget, unit: string): string {
  const tag = randomBytes(4).toString('hex');
  return target.config.kind === 'sqlite' ? `drill-${tag}-${unit}` : `${unit.slice(0, 40)}_drill_${tag}`;
}

/** 'table: N rows, checksum …; backed up: M rows …' for each table that differs. */
export function compareDigests(want: ContentDigest, got: ContentDigest): string[] {
  const out: string[] = [];
  for (const name of new Set([...Object.keys(want.tables), ...Object.keys(got.tables)])) {
    const w = want.tables[name];
    const g = got.tables[name];
    if (!w) out.push(`${name}: restored but not in the backup`);
    else if (!g) out.push(`${name}: missing from the restore`);
    else if (w.rows !== g.rows || w.checksum !== g.checksum)
      out.push(
        `${name}: ${g.rows} row(s) restored, ${w.rows} at backup${w.rows === g.rows ? ' (checksums differ)' : ''}`,
      );
  }
  return out;
}
