// S7: what a group restore will do, worked out before anything is touched
// from the configuration and the chosen group run: the hooks that run (and
// why not, when not), what the safety backup saves, the databases and
// files replaced (with their names and real paths), what the restore
// removes, and whether any of it is live data. The real run (restore-flow.ts)
// follows this plan step by step and a dry run returns it, so the two
// cannot differ. Only reads: the repository's trees, the live places and
// whether the databases exist.

import type { Group } from '../../config/types.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { Repository } from '../../repo/repository.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { previewRestore } from '../../engine/restore/restore-preview.ts';
import { existsNoFollow } from '../../engine/restore/no-follow.ts';
import { requireLiveAllowed, writtenPlaces } from './live-data.ts';
import type { LiveHit } from './live-data.ts';
import { itemLiveHits, preflight, restoreItems, selectGroupRun } from './restore-items.ts';
import type { RestoreItem } from './restore-items.ts';
import type {
  GroupRestoreOptions,
  GroupRestorePlan,
  PlannedDatabase,
  PlannedFiles,
  PlannedHook,
} from './restore-types.ts';

export interface PlannedRestore {
  plan: GroupRestorePlan;
  /** What each snapshot writes, for the run. */
  items: RestoreItem[];
  snapshots: SnapshotWithId[];
  /** The refusal as the error a real run stops with (the plan has its message). */
  refusal: SafeholdError | null;
}

export async function planGroupRestore(
  repo: Repository,
  group: Group,
  o: GroupRestoreOptions,
): Promise<PlannedRestore> {
  const chosen = await selectGroupRun(repo, group, o.snapshot);
  o.log(
    'select',
    `restoring group ${group.name} from ${chosen.groupRun} (${chosen.snapshots.length} snapshot(s), taken ${chosen.snapshots[0]!.time})`,
  );
  preflight(group, chosen.snapshots, o);
  const items = restoreItems(group, chosen.snapshots, o);
  const overLiveData: LiveHit[] = [];
  const databases: PlannedDatabase[] = [];
  const files: PlannedFiles[] = [];
  const saves: string[] = [];
  for (const item of items) {
    const hits = await itemLiveHits(item, o);
    overLiveData.push(...hits);
    if (item.snap.kind === 'files') {
      const f = await plannedFiles(repo, item);
      files.push(f);
      saves.push(...f.existing);
    } else {
      const physical = item.snap.meta?.format === 'pg_basebackup-tar';
      const replaces = !physical && hits.length > 0;
      databases.push({
        target: item.target.name,
        unit: item.unit,
        snapshot: item.snap.id,
        into: item.into,
        replaces,
        physical,
      });
      if (replaces) saves.push(`database ${item.into} of ${item.target.name}`);
    }
  }
  const touchesLive = overLiveData.length > 0;
  const refusal = refusalOf(overLiveData, o, group);
  const plan: GroupRestorePlan = {
    group: group.name,
    from: o.from,
    groupRun: chosen.groupRun,
    takenAt: chosen.snapshots[0]!.time,
    snapshots: chosen.snapshots.map((s) => s.id),
    touchesLive,
    overLiveData,
    refusal: refusal?.message ?? null,
    hooks: plannedHooks(
      group,
      chosen.snapshots.some((s) => s.meta?.online === true),
      touchesLive,
      o.force,
    ),
    safetyBackup: plannedSafety(o.safetyBackup, saves, group),
    databases,
    files,
  };
  return { plan, items, snapshots: chosen.snapshots, refusal };
}

function refusalOf(hits: LiveHit[], o: GroupRestoreOptions, group: Group): SafeholdError | null {
  try {
    requireLiveAllowed(hits, {
      allowLive: o.allowLive,
      safetyBackup: o.safetyBackup,
      what: `the restore of group ${group.name}`,
    });
    return null;
  } catch (e) {
    if (e instanceof SafeholdError) return e;
    throw e;
  }
}

async function plannedFiles(repo: Repository, item: RestoreItem): Promise<PlannedFiles> {
  const places = writtenPlaces(item.root, item.paths);
  const p = await previewRestore(repo, item.snap.tree, { target: item.root, include: item.paths, clean: item.paths });
  return {
    target: item.target.name,
    unit: item.unit,
    snapshot: item.snap.id,
    places,
    existing: places.filter((x) => existsNoFollow(x)),
    writes: p.writes,
    replaces: p.replaces,
    deletes: p.deletes,
    deleteCount: p.deleteCount,
  };
}

const NOT_LIVE =
  'not run: the restore touches no live data (databases into new names, files into new places), so the application is left alone';

/**
 * The group's hooks act on the running application: they run only when the
 * restore replaces live data. A restore into new names and places leaves the
 * application running, and its cleanup hook (which knows only the live
 * installation) is not run on the copy either.
 */
function plannedHooks(group: Group, online: boolean, live: boolean, force: boolean): PlannedHook[] {
  const one = (step: PlannedHook['step'], h: Group['stop'], purpose: string, skip: string | null): PlannedHook => {
    if (!h) return { step, hook: null, runs: false, why: `no ${step} hook configured` };
    if (skip) return { step, hook: h.name, runs: false, why: skip };
    return { step, hook: h.name, runs: true, why: purpose };
  };
  const notLive = live ? null : NOT_LIVE;
  return [
    one('stop', group.stop, 'stops the application before anything is replaced', notLive),
    one(
      'check',
      group.check,
      force
        ? 'checks that nothing runs; --force: a failure is only warned of'
        : 'must succeed (nothing runs), or the restore stops there',
      notLive,
    ),
    one(
      'cleanup',
      group.cleanup,
      'the backup was taken online: cleans up after the restore',
      !online
        ? 'not needed: the backup was taken offline'
        : live
          ? null
          : 'not run: the restore touches no live data; the backup was taken online, so the copy restored elsewhere may need that cleanup by hand',
    ),
    one('start', group.start, 'starts the application after the restore', notLive),
  ];
}

function plannedSafety(requested: boolean, saves: string[], group: Group): GroupRestorePlan['safetyBackup'] {
  if (!requested) return { requested, runs: false, saves: [], why: 'turned off (--no-safety-backup)' };
  if (saves.length === 0)
    return { requested, runs: false, saves, why: 'not needed: nothing that exists now is overwritten' };
  return {
    requested,
    runs: true,
    saves,
    why: `saves what is about to be overwritten as group run ${group.name}/safety-<id> in the same repository`,
  };
}
