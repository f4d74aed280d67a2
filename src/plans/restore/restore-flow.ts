// S7: the safe restore of a consistency group, in the Hitachi manual's order:
// stop the application (stop hook), check that nothing runs (check hook;
// refused unless forced), back up the current state of everything about to
// be overwritten (the safety backup, on by default), restore the databases,
// then the files, run the cleanup hook (required when the backup was taken
// online), start the application. A failure stops at that step, says which,
// and names the safety backup to roll back to (the application is left
// stopped: starting it on half-restored data is what the manual warns of).
// What is deleted and written comes from the configuration (the group's
// members and their configured paths), never from what a snapshot claims;
// a restore over live data (live-data.ts) needs `allowLive` and always takes
// the safety backup.

import path from 'node:path';
import type { Config, Group, Hook } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { Repository } from '../../repo/repository.ts';
import { openDestinationRepo, repositoryDestination } from '../run/destination-repo.ts';
import { RepoLock } from '../../repo/lock.ts';
import { listSnapshots } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { originOf } from '../../repo/snapshot-tags.ts';
import { restore as restoreTree } from '../../engine/restore/restorer.ts';
import { openStreamSnapshot } from '../../engine/restore/stream-reader.ts';
import { describeHookResult, hookFailed, runHook } from '../hooks/hooks.ts';
import type { HookPhase } from '../hooks/hooks.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';
import { safetyBackup } from './safety-backup.ts';
import type { SafetyItem } from './safety-backup.ts';
import { databaseLiveHits, filesLiveHits, requireLiveAllowed, within, writtenPlaces } from './live-data.ts';
import type { LiveHit } from './live-data.ts';

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
  /** Whether this caller may overwrite live data (an admin, or the local CLI). */
  allowLive: boolean;
  targets: PlanTarget[];
  clock: Clock;
  log(step: RestoreStep, msg: string, level?: 'info' | 'warn' | 'error'): void;
}

export interface RestoredItem {
  target: string;
  unit: string | null;
  snapshot: string;
  into: string;
}

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
  /** The live data this restore overwrote (empty: it went to new names and places only). */
  overLiveData: LiveHit[];
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
  const dest = repositoryDestination(o.config, o.from);
  const res: GroupRestoreResult = {
    ok: false,
    groupRun: null,
    failedStep: null,
    reason: null,
    safety: null,
    restored: [],
    rollback: null,
    overLiveData: [],
  };
  const repo = await openDestinationRepo(dest, o.clock);
  const lock = await RepoLock.acquire(repo, false);
  try {
    const chosen = await selectGroupRun(repo, group, o.snapshot);
    res.groupRun = chosen.groupRun;
    o.log(
      'select',
      `restoring group ${group.name} from ${chosen.groupRun} (${chosen.snapshots.length} snapshot(s), taken ${chosen.snapshots[0]!.time})`,
    );
    preflight(group, chosen.snapshots, o);
    const items = restoreItems(group, chosen.snapshots, o);
    res.overLiveData = await liveHits(items, o);
    requireLiveAllowed(res.overLiveData, {
      allowLive: o.allowLive,
      safetyBackup: o.safetyBackup,
      what: `the restore of group ${group.name}`,
    });
    if (res.overLiveData.length > 0)
      o.log('select', `this restore overwrites live data: ${res.overLiveData.join('; ')}`, 'warn');
    await hook(group.stop, 'stop', 'restore-stop', o, group);
    if (group.check) {
      const r = await runHook(
        group.check,
        { plan: `restore:${group.name}`, run: 'restore', phase: 'restore-check' },
        { clock: o.clock, log: (l) => o.log('check', `${l.stream}: ${l.line}`) },
      );
      if (hookFailed(r) && !o.force)
        throw new StepFailed(
          'check',
          `the application is still running (${describeHookResult(group.check.name, r)}); stop it, or restore anyway with --force`,
        );
      o.log('check', describeHookResult(group.check.name, r), hookFailed(r) ? 'warn' : 'info');
    } else o.log('check', 'no check hook configured: not checked that nothing runs', 'warn');
    if (o.safetyBackup) {
      try {
        const safety = await safetyBackup(
          repo,
          items.map((i) => i.safety),
          group,
          (m) => o.log('safety-backup', m),
        );
        res.safety = safety ? { groupRun: safety.groupRun!, snapshots: safety.snapshots } : null;
      } catch (e) {
        throw new StepFailed('safety-backup', e instanceof Error ? e.message : String(e));
      }
      if (res.safety) {
        o.log('safety-backup', `safety backup ${res.safety.groupRun}: ${res.safety.snapshots.length} snapshot(s)`);
        res.rollback = rollbackCommand(group, res.safety.groupRun, o);
      } else o.log('safety-backup', 'nothing to save: every restore goes to a new name or place');
    } else o.log('safety-backup', 'skipped (--no-safety-backup)', 'warn');
    for (const item of items.filter((x) => x.snap.kind === 'stream'))
      res.restored.push(await restoreDatabase(repo, item, o));
    for (const item of items.filter((x) => x.snap.kind === 'files'))
      res.restored.push(await restoreFiles(repo, item, o));
    if (chosen.snapshots.some((s) => s.meta?.online)) await hook(group.cleanup, 'cleanup', 'restore-cleanup', o, group);
    await hook(group.start, 'start', 'restore-start', o, group);
    res.ok = true;
    return res;
  } catch (e) {
    if (!(e instanceof StepFailed)) throw e;
    res.failedStep = e.step;
    res.reason = e.message;
    o.log(
      e.step,
      `restore stopped at step '${e.step}': ${e.message}${res.safety ? `; roll back with: ${res.rollback}` : ''}`,
      'error',
    );
    return res;
  } finally {
    await lock.release().catch(() => {});
    await repo.close().catch(() => {});
  }
}

/** The snapshots of one group run of `group`: the newest, or the one named. */
async function selectGroupRun(
  repo: Repository,
  group: Group,
  ref: string,
): Promise<{ groupRun: string; snapshots: SnapshotWithId[] }> {
  const runs = new Map<string, SnapshotWithId[]>();
  for (const s of await listSnapshots(repo)) {
    const g = s.meta?.group;
    if (g?.startsWith(`${group.name}/`)) runs.set(g, [...(runs.get(g) ?? []), s]);
  }
  if (runs.size === 0) throw new SafeholdError('NOT_FOUND', `no backup of group ${group.name} in this repository`);
  let key: string;
  if (ref === 'latest') {
    key =
      [...runs.entries()]
        .filter(([k]) => !k.includes('/safety-'))
        .sort((a, b) => newest(b[1]) - newest(a[1]))[0]?.[0] ?? '';
    if (!key)
      throw new SafeholdError('NOT_FOUND', `no backup of group ${group.name} in this repository (only safety backups)`);
  } else {
    const want = ref.includes('/') ? ref : `${group.name}/${ref}`;
    const hits = [...runs.keys()].filter((k) => k === want || k.startsWith(want));
    if (hits.length !== 1)
      throw new SafeholdError(
        hits.length ? 'AMBIGUOUS' : 'NOT_FOUND',
        `${hits.length ? 'more than one' : 'no'} group run of ${group.name} matches '${ref}'`,
      );
    key = hits[0]!;
  }
  return { groupRun: key, snapshots: runs.get(key)!.sort((a, b) => a.time.localeCompare(b.time)) };
}

const newest = (list: SnapshotWithId[]) => Math.max(...list.map((s) => Date.parse(s.time)));

/** Refusals before anything is touched. */
function preflight(group: Group, snaps: SnapshotWithId[], o: GroupRestoreOptions): void {
  if (snaps.some((s) => s.meta?.consistent === false) && !o.force) {
    throw new SafeholdError(
      'USAGE',
      `group ${group.name} was backed up in independent mode: its databases are not from one instant (restore anyway with --force)`,
    );
  }
  if (snaps.some((s) => s.meta?.online) && !group.cleanup) {
    throw new SafeholdError(
      'CONFIG',
      `the backup of group ${group.name} was taken online: the group needs a 'cleanup' hook to run after the restore`,
    );
  }
  for (const s of snaps) {
    const { target, unit } = originOf(s);
    if (!target || !o.targets.some((t) => t.name === target))
      throw new SafeholdError(
        'CONFIG',
        `snapshot ${s.id.slice(0, 8)} is of target '${target}', which is not configured`,
      );
    if (!isMember(group, target, unit)) {
      throw new SafeholdError(
        'CONFIG',
        `snapshot ${s.id.slice(0, 8)} is of ${target}/${unit ?? ''}, which is not a member of group ${group.name}: refusing to restore it`,
      );
    }
    if (s.kind === 'stream' && s.meta?.format === 'pg_basebackup-tar' && !o.filesTo) {
      throw new SafeholdError(
        'USAGE',
        'a physical group backup is restored into a new data directory: give --files-to DIR (then start a server on it)',
      );
    }
  }
}

function isMember(group: Group, target: string, unit: string | null): boolean {
  return group.members.some(
    (m) => m.target === target && (m.units === null || unit === null || m.units.includes(unit)),
  );
}

async function hook(
  h: Hook | null,
  step: RestoreStep,
  phase: HookPhase,
  o: GroupRestoreOptions,
  group: Group,
): Promise<void> {
  if (!h) {
    o.log(step, `no ${step} hook configured`, step === 'stop' || step === 'start' ? 'warn' : 'info');
    return;
  }
  const r = await runHook(
    h,
    { plan: `restore:${group.name}`, run: 'restore', phase },
    { clock: o.clock, log: (l) => o.log(step, `${l.stream}: ${l.line}`) },
  );
  if (hookFailed(r)) throw new StepFailed(step, describeHookResult(h.name, r));
  o.log(step, describeHookResult(h.name, r));
}

/** Where a snapshot's unit goes: the original name, or the name with the suffix. */
export function intoName(unit: string, suffix: string | null): string {
  return suffix ? `${unit}${suffix}` : unit;
}

/** One snapshot of the group run and exactly what restoring it writes. */
interface RestoreItem {
  snap: SnapshotWithId;
  target: PlanTarget;
  unit: string | null;
  /** Files: the configured paths restored (and cleaned first) under `root`. */
  paths: string[];
  /** Files: the directory the paths are recreated under; databases: unused. */
  root: string;
  /** Databases: the name restored into; physical backups: the new data directory. */
  into: string;
  safety: SafetyItem;
}

function restoreItems(group: Group, snaps: SnapshotWithId[], o: GroupRestoreOptions): RestoreItem[] {
  return snaps.map((snap) => {
    const { target: targetName, unit } = originOf(snap);
    const target = o.targets.find((t) => t.name === targetName)!;
    const root = o.filesTo ?? '/';
    if (snap.kind === 'stream') {
      const physical = snap.meta?.format === 'pg_basebackup-tar';
      const into = physical ? writtenPlaces(root, [`/${target.name}-data`])[0]! : intoName(unit ?? '', o.intoSuffix);
      const safety: SafetyItem = physical
        ? { kind: 'files', target: target.name, unit, paths: [] }
        : { kind: 'database', target, unit: unit ?? '', into };
      return { snap, target, unit, paths: [], root, into, safety };
    }
    const paths = configuredPaths(target, unit, snap, o, group);
    return {
      snap,
      target,
      unit,
      paths,
      root,
      into: '',
      safety: { kind: 'files', target: target.name, unit, paths: writtenPlaces(root, paths) },
    };
  });
}

/**
 * The paths of a files snapshot that the group restore deletes and
 * recreates: the configuration's paths of its unit that the snapshot holds
 * (the narrower of the two where one lies in the other). Others are left alone.
 */
function configuredPaths(
  target: PlanTarget,
  unit: string | null,
  snap: SnapshotWithId,
  o: GroupRestoreOptions,
  group: Group,
): string[] {
  const cfg = target.config;
  const wanted = cfg.kind === 'files' && unit !== null ? (cfg.units[unit]?.paths ?? []) : [];
  const kept = new Set<string>();
  for (const c of wanted)
    for (const p of snap.paths)
      if (within(c, p)) kept.add(c);
      else if (within(p, c)) kept.add(p);
  const left = snap.paths.filter((p) => ![...kept].some((k) => within(k, p) || within(p, k)));
  if (left.length > 0)
    o.log(
      'select',
      `${target.name}/${unit ?? ''}: not restored (not configured for the unit): ${left.join(', ')}`,
      'warn',
    );
  if (kept.size === 0)
    throw new SafeholdError(
      'CONFIG',
      `snapshot ${snap.id.slice(0, 8)} of group ${group.name} holds none of the paths configured for ${target.name}/${unit ?? ''}`,
    );
  return [...kept].sort();
}

async function liveHits(items: RestoreItem[], o: GroupRestoreOptions): Promise<LiveHit[]> {
  const hits: LiveHit[] = [];
  for (const item of items) {
    if (item.snap.kind === 'files') hits.push(...filesLiveHits(o.config, writtenPlaces(item.root, item.paths)));
    else if (item.snap.meta?.format === 'pg_basebackup-tar') hits.push(...filesLiveHits(o.config, [item.into]));
    else hits.push(...(await databaseLiveHits(item.target, item.into)));
  }
  return hits;
}

/** The command that puts back what the safety backup saved (files restored in place, databases under the same names). */
function rollbackCommand(group: Group, safetyRun: string, o: GroupRestoreOptions): string {
  return [
    `safehold restore --group ${group.name} --from ${o.from} --snapshot ${safetyRun}`,
    ...(o.intoSuffix ? [`--into-suffix ${o.intoSuffix}`] : []),
    ...(o.force ? ['--force'] : []),
    `--config ${o.config.file}`,
  ].join(' ');
}

async function restoreDatabase(repo: Repository, item: RestoreItem, o: GroupRestoreOptions): Promise<RestoredItem> {
  const { snap: s, target, unit, into } = item;
  const { stream } = await openStreamSnapshot(repo, s);
  try {
    if (s.meta?.format === 'pg_basebackup-tar') {
      const { restorePhysical } = await import('../../drivers/db/postgres-physical.ts');
      await restorePhysical(stream, into);
      o.log('databases', `${target.name}: the server's data directory restored into ${into}`);
      return { target: target.name, unit, snapshot: s.id, into };
    }
    if (!target.db || unit === null) throw new SafeholdError('CONFIG', `${target.name} is not a database target`);
    await target.db.restore(unit, stream, s.meta?.format ?? '', { into, clean: true });
    o.log('databases', `${target.name}/${unit} restored into ${into} from snapshot ${s.id.slice(0, 8)}`);
    return { target: target.name, unit, snapshot: s.id, into };
  } catch (e) {
    stream.destroy();
    throw new StepFailed('databases', `${target.name}/${unit ?? ''}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function restoreFiles(repo: Repository, item: RestoreItem, o: GroupRestoreOptions): Promise<RestoredItem> {
  const { snap: s, target, unit, paths, root } = item;
  try {
    // The PowerShare manual's rule: remove what is there, then restore (no stale files survive).
    await restoreTree(repo, s.tree, { target: root, include: paths, clean: paths });
    o.log(
      'files',
      `${target.name}/${unit ?? ''}: ${paths.join(', ')} restored${o.filesTo ? ` under ${o.filesTo}` : ''} from snapshot ${s.id.slice(0, 8)}`,
    );
    return {
      target: target.name,
      unit,
      snapshot: s.id,
      into: o.filesTo ? path.join(o.filesTo, paths[0] ?? '') : paths.join(', '),
    };
  } catch (e) {
    throw new StepFailed('files', `${target.name}/${unit ?? ''}: ${e instanceof Error ? e.message : String(e)}`);
  }
}
