// S7: the safe restore of a consistency group, in the Hitachi manual's order:
// stop the application (stop hook), check that nothing runs (check hook;
// refused unless forced), back up the current state of everything about to
// be overwritten (the safety backup, on by default), restore the databases,
// then the files, run the cleanup hook (required when the backup was taken
// online), start the application. A failure stops at that step, says which,
// and names the safety backup to roll back to (the application is left
// stopped: starting it on half-restored data is what the manual warns of).

import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Config, Group, Hook } from '../config/types.ts';
import type { Clock } from '../core/clock.ts';
import { SafeholdError } from '../core/errors.ts';
import { Repository } from '../repo/repository.ts';
import { LocalBackend } from '../repo/backend/local-backend.ts';
import { RepoLock } from '../repo/lock.ts';
import { listSnapshots } from '../repo/snapshot.ts';
import type { SnapshotWithId } from '../repo/snapshot.ts';
import { restore as restoreTree } from '../engine/restorer.ts';
import { openStreamSnapshot } from '../engine/stream-reader.ts';
import { describeHookResult, hookFailed, runHook } from './hooks.ts';
import type { HookPhase } from './hooks.ts';
import type { PlanTarget } from './targets.ts';
import { safetyBackup } from './safety-backup.ts';

export type RestoreStep = 'select' | 'stop' | 'check' | 'safety-backup' | 'databases' | 'files' | 'cleanup' | 'start';

export interface GroupRestoreOptions {
  config: Config;
  group: string;
  /** The repository destination the group was backed up to. */
  from: string;
  /** 'latest' or a group run id (or a unique prefix of one). */
  snapshot: string;
  safetyBackup: boolean;
  intoSuffix: string | null;
  filesTo: string | null;
  force: boolean;
  targets: PlanTarget[];
  clock: Clock;
  log(step: RestoreStep, msg: string, level?: 'info' | 'warn' | 'error'): void;
}

export interface RestoredItem { target: string; unit: string | null; snapshot: string; into: string }

export interface GroupRestoreResult {
  ok: boolean;
  /** The group run restored (`<group>/<run id>`). */
  groupRun: string | null;
  failedStep: RestoreStep | null;
  reason: string | null;
  /** The safety backup's group run and snapshots, when one was taken. */
  safety: { groupRun: string; snapshots: string[] } | null;
  restored: RestoredItem[];
  /** The command that restores the safety backup, when a later step failed. */
  rollback: string | null;
}

class StepFailed extends Error {
  readonly step: RestoreStep;
  constructor(step: RestoreStep, message: string) {
    super(message);
    this.step = step;
  }
}

export async function restoreGroup(o: GroupRestoreOptions): Promise<GroupRestoreResult> {
  const group = o.config.groups[o.group];
  if (!group) throw new SafeholdError('NOT_FOUND', `no group '${o.group}' in ${o.config.file}`);
  const dest = o.config.destinations[o.from];
  if (!dest || dest.type !== 'repository') throw new SafeholdError('CONFIG', `'${o.from}' is not a repository destination`);
  const res: GroupRestoreResult = { ok: false, groupRun: null, failedStep: null, reason: null, safety: null, restored: [], rollback: null };
  const repo = await Repository.open(new LocalBackend(dest.path), dest.password.value, o.clock);
  const lock = await RepoLock.acquire(repo, false);
  try {
    const chosen = await selectGroupRun(repo, group, o.snapshot);
    res.groupRun = chosen.groupRun;
    o.log('select', `restoring group ${group.name} from ${chosen.groupRun} (${chosen.snapshots.length} snapshot(s), taken ${chosen.snapshots[0]!.time})`);
    preflight(group, chosen.snapshots, o);
    await hook(group.stop, 'stop', 'restore-stop', o, group);
    if (group.check) {
      const r = await runHook(group.check, { plan: `restore:${group.name}`, run: 'restore', phase: 'restore-check' }, { clock: o.clock, log: (l) => o.log('check', `${l.stream}: ${l.line}`) });
      if (hookFailed(r) && !o.force) throw new StepFailed('check', `the application is still running (${describeHookResult(group.check.name, r)}); stop it, or restore anyway with --force`);
      o.log('check', describeHookResult(group.check.name, r), hookFailed(r) ? 'warn' : 'info');
    } else o.log('check', 'no check hook configured: not checked that nothing runs', 'warn');
    if (o.safetyBackup) {
      try {
        res.safety = await safetyBackup(repo, group, chosen.snapshots, o);
      } catch (e) {
        throw new StepFailed('safety-backup', e instanceof Error ? e.message : String(e));
      }
      if (res.safety) {
        o.log('safety-backup', `safety backup ${res.safety.groupRun}: ${res.safety.snapshots.length} snapshot(s)`);
        res.rollback = [
          `safehold restore --group ${group.name} --from ${o.from} --snapshot ${res.safety.groupRun} --no-safety-backup`,
          ...(o.intoSuffix ? [`--into-suffix ${o.intoSuffix}`] : []), ...(o.filesTo ? ['--files-to /'] : []), ...(o.force ? ['--force'] : []), `--config ${o.config.file}`,
        ].join(' ');
      } else o.log('safety-backup', 'nothing to save: every restore goes to a new name or place');
    } else o.log('safety-backup', 'skipped (--no-safety-backup)', 'warn');
    for (const s of chosen.snapshots.filter((x) => x.kind === 'stream')) res.restored.push(await restoreDatabase(repo, s, o));
    for (const s of chosen.snapshots.filter((x) => x.kind === 'files')) res.restored.push(await restoreFiles(repo, s, o));
    if (chosen.snapshots.some((s) => s.meta?.online)) await hook(group.cleanup, 'cleanup', 'restore-cleanup', o, group);
    await hook(group.start, 'start', 'restore-start', o, group);
    res.ok = true;
    return res;
  } catch (e) {
    if (!(e instanceof StepFailed)) throw e;
    res.failedStep = e.step;
    res.reason = e.message;
    o.log(e.step, `restore stopped at step '${e.step}': ${e.message}${res.safety ? `; roll back with: ${res.rollback}` : ''}`, 'error');
    return res;
  } finally {
    await lock.release().catch(() => {});
    await repo.close().catch(() => {});
  }
}

/** The snapshots of one group run of `group`: the newest, or the one named. */
async function selectGroupRun(repo: Repository, group: Group, ref: string): Promise<{ groupRun: string; snapshots: SnapshotWithId[] }> {
  const runs = new Map<string, SnapshotWithId[]>();
  for (const s of await listSnapshots(repo)) {
    const g = s.meta?.group;
    if (g && g.startsWith(`${group.name}/`)) runs.set(g, [...(runs.get(g) ?? []), s]);
  }
  if (runs.size === 0) throw new SafeholdError('NOT_FOUND', `no backup of group ${group.name} in this repository`);
  let key: string;
  if (ref === 'latest') {
    key = [...runs.entries()].filter(([k]) => !k.includes('/safety-')).sort((a, b) => newest(b[1]) - newest(a[1]))[0]?.[0] ?? '';
    if (!key) throw new SafeholdError('NOT_FOUND', `no backup of group ${group.name} in this repository (only safety backups)`);
  } else {
    const want = ref.includes('/') ? ref : `${group.name}/${ref}`;
    const hits = [...runs.keys()].filter((k) => k === want || k.startsWith(want));
    if (hits.length !== 1) throw new SafeholdError(hits.length ? 'AMBIGUOUS' : 'NOT_FOUND', `${hits.length ? 'more than one' : 'no'} group run of ${group.name} matches '${ref}'`);
    key = hits[0]!;
  }
  return { groupRun: key, snapshots: runs.get(key)!.sort((a, b) => a.time.localeCompare(b.time)) };
}

const newest = (list: SnapshotWithId[]) => Math.max(...list.map((s) => Date.parse(s.time)));

/** Refusals before anything is touched. */
function preflight(group: Group, snaps: SnapshotWithId[], o: GroupRestoreOptions): void {
  if (snaps.some((s) => s.meta?.consistent === false) && !o.force) {
    throw new SafeholdError('USAGE', `group ${group.name} was backed up in independent mode: its databases are not from one instant (restore anyway with --force)`);
  }
  if (snaps.some((s) => s.meta?.online) && !group.cleanup) {
    throw new SafeholdError('CONFIG', `the backup of group ${group.name} was taken online: the group needs a 'cleanup' hook to run after the restore (S7)`);
  }
  for (const s of snaps) {
    const target = s.tags.find((t) => t.startsWith('target:'))?.slice(7);
    if (!target || !o.targets.some((t) => t.name === target)) throw new SafeholdError('CONFIG', `snapshot ${s.id.slice(0, 8)} is of target '${target}', which is not configured`);
    if (s.kind === 'stream' && s.meta?.format === 'pg_basebackup-tar' && !o.filesTo) {
      throw new SafeholdError('USAGE', 'a physical group backup is restored into a new data directory: give --files-to DIR (then start a server on it)');
    }
  }
}

async function hook(h: Hook | null, step: RestoreStep, phase: HookPhase, o: GroupRestoreOptions, group: Group): Promise<void> {
  if (!h) {
    o.log(step, `no ${step} hook configured`, step === 'stop' || step === 'start' ? 'warn' : 'info');
    return;
  }
  const r = await runHook(h, { plan: `restore:${group.name}`, run: 'restore', phase }, { clock: o.clock, log: (l) => o.log(step, `${l.stream}: ${l.line}`) });
  if (hookFailed(r)) throw new StepFailed(step, describeHookResult(h.name, r));
  o.log(step, describeHookResult(h.name, r));
}

/** Where a snapshot's unit goes: the original name, or the name with the suffix. */
export function intoName(unit: string, suffix: string | null): string {
  return suffix ? `${unit}${suffix}` : unit;
}

async function restoreDatabase(repo: Repository, s: SnapshotWithId, o: GroupRestoreOptions): Promise<RestoredItem> {
  const targetName = s.tags.find((t) => t.startsWith('target:'))!.slice(7);
  const unit = s.tags.find((t) => t.startsWith('unit:'))?.slice(5) ?? null;
  const target = o.targets.find((t) => t.name === targetName)!;
  const { stream } = await openStreamSnapshot(repo, s);
  try {
    if (s.meta?.format === 'pg_basebackup-tar') {
      const dir = path.join(o.filesTo!, `${targetName}-data`);
      const { restorePhysical } = await import('../drivers/db/postgres-physical.ts');
      await restorePhysical(stream, dir);
      o.log('databases', `${targetName}: the server's data directory restored into ${dir}`);
      return { target: targetName, unit, snapshot: s.id, into: dir };
    }
    if (!target.db || unit === null) throw new SafeholdError('CONFIG', `${targetName} is not a database target`);
    const into = intoName(unit, o.intoSuffix);
    await target.db.restore(unit, stream, s.meta?.format ?? '', { into, clean: true });
    o.log('databases', `${targetName}/${unit} restored into ${into} from snapshot ${s.id.slice(0, 8)}`);
    return { target: targetName, unit, snapshot: s.id, into };
  } catch (e) {
    stream.destroy();
    throw new StepFailed('databases', `${targetName}/${unit ?? ''}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function restoreFiles(repo: Repository, s: SnapshotWithId, o: GroupRestoreOptions): Promise<RestoredItem> {
  const targetName = s.tags.find((t) => t.startsWith('target:'))!.slice(7);
  const unit = s.tags.find((t) => t.startsWith('unit:'))?.slice(5) ?? null;
  const root = o.filesTo ?? '/';
  try {
    // The PowerShare manual's rule: remove what is there, then restore (no stale files survive).
    for (const p of s.paths) fs.rmSync(path.join(root, p), { recursive: true, force: true });
    await restoreTree(repo, s.tree, { target: root });
    o.log('files', `${targetName}/${unit ?? ''}: ${s.paths.join(', ')} restored${o.filesTo ? ` under ${o.filesTo}` : ''} from snapshot ${s.id.slice(0, 8)}`);
    return { target: targetName, unit, snapshot: s.id, into: o.filesTo ? path.join(o.filesTo, s.paths[0] ?? '') : s.paths.join(', ') };
  } catch (e) {
    throw new StepFailed('files', `${targetName}/${unit ?? ''}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function newSafetyRun(group: string): string {
  return `${group}/safety-${randomBytes(6).toString('hex')}`;
}
