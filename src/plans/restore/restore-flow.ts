// S7: the safe restore of a consistency group, in the Hitachi manual's order:
// stop the application (stop hook), check that nothing runs (check hook;
// refused unless forced), back up the current state of everything about to
// be overwritten (the safety backup, on by default), restore the databases,
// then the files, run the cleanup hook (required when the backup was taken
// online), start the application. A failure stops at that step, says which,
// and names the safety backup to roll back to (the application is left
// stopped: starting it on half-restored data is what the manual warns of).
// What is deleted and written comes from the configuration (the group's
// members and their configured paths), never from what a snapshot claims
// (restore-items.ts chooses it); a restore over live data (live-data.ts)
// needs `allowLive` and always takes the safety backup. Every step follows
// the plan worked out first (group-restore-plan.ts), which a dry run returns
// without touching anything; the hooks run only when the restore touches
// live data, and a caller's `confirm` is asked then. The options and the
// result are in restore-types.ts.

import path from 'node:path';
import type { Group, Hook } from '../../config/types.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { Repository } from '../../repo/repository.ts';
import { openDestinationRepo, repositoryDestination } from '../run/destination-repo.ts';
import { RepoLock } from '../../repo/lock.ts';
import { restore as restoreTree } from '../../engine/restore/restorer.ts';
import { openStreamSnapshot } from '../../engine/restore/stream-reader.ts';
import { describeHookResult, hookFailed, runHook } from '../hooks/hooks.ts';
import type { HookPhase } from '../hooks/hooks.ts';
import { safetyBackup } from './safety-backup.ts';
import { planGroupRestore } from './group-restore-plan.ts';
import type { RestoreItem } from './restore-items.ts';
import type {
  GroupRestoreOptions,
  GroupRestorePlan,
  GroupRestoreResult,
  RestoredItem,
  RestoreStep,
} from './restore-types.ts';

export type {
  GroupRestoreOptions,
  GroupRestorePlan,
  GroupRestoreResult,
  RestoredItem,
  RestoreStep,
  SafetyState,
} from './restore-types.ts';

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
    safetyState: o.safetyBackup ? 'not-reached' : 'off',
    dryRun: o.dryRun === true,
    plan: null,
  };
  const repo = await openDestinationRepo(dest, o.clock);
  const lock = await RepoLock.acquire(repo, false);
  try {
    const { plan, items, snapshots, refusal } = await planGroupRestore(repo, group, o);
    res.groupRun = plan.groupRun;
    res.plan = plan;
    res.overLiveData = plan.overLiveData;
    if (o.dryRun) {
      o.log(
        'select',
        `dry run: nothing was changed${plan.refusal ? `; the restore would be refused: ${plan.refusal}` : ''}`,
      );
      res.ok = plan.refusal === null;
      res.reason = plan.refusal;
      return res;
    }
    if (refusal) throw refusal;
    if (plan.touchesLive) {
      o.log('select', `this restore overwrites live data: ${plan.overLiveData.join('; ')}`, 'warn');
      if (o.confirm && !(await o.confirm(plan)))
        throw new SafeholdError(
          'CANCELLED',
          `the restore of group ${group.name} was not confirmed: nothing was changed`,
        );
    }
    await hook(group.stop, plan, 'stop', 'restore-stop', o, group);
    await checkStep(group, plan, o);
    await safetyStep(repo, items, group, plan, o, res);
    for (const item of items.filter((x) => x.snap.kind === 'stream'))
      res.restored.push(await restoreDatabase(repo, item, o));
    for (const item of items.filter((x) => x.snap.kind === 'files'))
      res.restored.push(await restoreFiles(repo, item, o));
    if (snapshots.some((s) => s.meta?.online)) await hook(group.cleanup, plan, 'cleanup', 'restore-cleanup', o, group);
    await hook(group.start, plan, 'start', 'restore-start', o, group);
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

/** The check hook: nothing of the application may run (refused unless forced). */
async function checkStep(group: Group, plan: GroupRestorePlan, o: GroupRestoreOptions): Promise<void> {
  const planned = plan.hooks.find((h) => h.step === 'check')!;
  if (!group.check || !planned.runs) {
    o.log('check', group.check ? planned.why : 'no check hook configured: not checked that nothing runs', 'warn');
    return;
  }
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
}

/** The safety backup of what the restore is about to overwrite (when asked for). */
async function safetyStep(
  repo: Repository,
  items: RestoreItem[],
  group: Group,
  plan: GroupRestorePlan,
  o: GroupRestoreOptions,
  res: GroupRestoreResult,
): Promise<void> {
  if (!o.safetyBackup) {
    o.log('safety-backup', 'skipped (--no-safety-backup)', 'warn');
    return;
  }
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
    res.safetyState = 'taken';
    o.log('safety-backup', `safety backup ${res.safety.groupRun}: ${res.safety.snapshots.length} snapshot(s)`);
    res.rollback = rollbackCommand(group, res.safety.groupRun, o);
  } else {
    res.safetyState = 'not-needed';
    o.log('safety-backup', plan.safetyBackup.runs ? 'nothing to save: what was there is gone' : plan.safetyBackup.why);
  }
}

/** A hook step, run when the plan says so (the stop, cleanup and start hooks act on the live application). */
async function hook(
  h: Hook | null,
  plan: GroupRestorePlan,
  step: 'stop' | 'cleanup' | 'start',
  phase: HookPhase,
  o: GroupRestoreOptions,
  group: Group,
): Promise<void> {
  const planned = plan.hooks.find((x) => x.step === step)!;
  if (!h) {
    o.log(step, `no ${step} hook configured`, step !== 'cleanup' && plan.touchesLive ? 'warn' : 'info');
    return;
  }
  if (!planned.runs) {
    o.log(step, planned.why);
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
