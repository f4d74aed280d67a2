// What the group restore (restore-flow.ts) restores: the group run chosen
// (the newest or the one named), the refusals before anything is touched,
// and for each of its snapshots exactly what restoring it writes (the
// configured paths of a files unit, the name a database goes into) and what
// the safety backup saves first; then whether any of that is live data.
// What is deleted and written comes from the configuration (the group's
// members and their configured paths), never from what a snapshot claims.

import type { Group } from '../../config/types.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { Repository } from '../../repo/repository.ts';
import { listSnapshots } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { originOf } from '../../repo/snapshot-tags.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';
import type { SafetyItem } from './safety-backup.ts';
import { databaseLiveHits, filesLiveHits, within, writtenPlaces } from './live-data.ts';
import type { LiveHit } from './live-data.ts';
import type { GroupRestoreOptions } from './restore-types.ts';

/** The snapshots of one group run of `group`: the newest, or the one named. */
export async function selectGroupRun(
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
export function preflight(group: Group, snaps: SnapshotWithId[], o: GroupRestoreOptions): void {
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

/** Where a snapshot's unit goes: the original name, or the name with the suffix. */
export function intoName(unit: string, suffix: string | null): string {
  return suffix ? `${unit}${suffix}` : unit;
}

/** One snapshot of the group run and exactly what restoring it writes. */
export interface RestoreItem {
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

export function restoreItems(group: Group, snaps: SnapshotWithId[], o: GroupRestoreOptions): RestoreItem[] {
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

/** What live data restoring `item` writes over (empty: new names and places only). */
export async function itemLiveHits(item: RestoreItem, o: GroupRestoreOptions): Promise<LiveHit[]> {
  if (item.snap.kind === 'files') return filesLiveHits(o.config, writtenPlaces(item.root, item.paths));
  if (item.snap.meta?.format === 'pg_basebackup-tar') return filesLiveHits(o.config, [item.into]);
  return databaseLiveHits(item.target, item.into);
}
