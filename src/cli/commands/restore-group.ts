// safehold restore --group and safehold restore-plan run: the safe restore of
// a consistency group (S7, plans/restore/restore-flow.ts). Prints each step as it
// goes; on failure the step, the reason and the rollback command. --dry-run
// prints the flow's plan and changes nothing; a restore over live data is
// confirmed first (the group's name typed on a terminal, or --yes).

import { systemClock } from '../../core/clock.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { Config } from '../../config/types.ts';
import { buildTargets } from '../../drivers/target/targets.ts';
import { restoreGroup } from '../../plans/restore/restore-flow.ts';
import type { GroupRestoreOptions, GroupRestoreResult } from '../../plans/restore/restore-flow.ts';
import { loadConfigFrom } from '../session.ts';
import { str } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { okOrError } from '../exit-codes.ts';
import type { ExitCode } from '../exit-codes.ts';
import { confirmTyped } from '../confirm.ts';
import { planSummary, safetyLine } from './restore-group-summary.ts';

export type GroupRestoreArgs = Pick<
  GroupRestoreOptions,
  'group' | 'from' | 'snapshot' | 'safetyBackup' | 'intoSuffix' | 'filesTo' | 'force' | 'dryRun'
> & { yes: boolean };

export async function runGroupRestore(ctx: CommandContext, config: Config, a: GroupRestoreArgs): Promise<ExitCode> {
  const { out } = ctx;
  const { yes, ...opts } = a;
  const r: GroupRestoreResult = await restoreGroup({
    // The local CLI runs with its user's own rights: it may restore over live data (always after a safety backup).
    config,
    ...opts,
    allowLive: true,
    targets: buildTargets(config),
    clock: systemClock,
    log: (step, msg, level) => (level === 'error' ? out.warn(`${step}: ${msg}`) : out.info(`${step}: ${msg}`)),
    confirm: (plan) =>
      confirmTyped({
        yes,
        expected: a.group,
        what: `the restore of group ${a.group} overwrites live data (${plan.overLiveData.join('; ')})`,
        summary: ['The restore will:', ...planSummary(plan).map((l) => `  ${l}`)],
      }),
  });
  out.result(r, () => {
    if (r.dryRun) {
      out.line(`dry run, nothing changed: the restore of group ${a.group} would${r.ok ? '' : ' be refused'}`);
      for (const l of r.plan ? planSummary(r.plan) : []) out.line(`  ${l}`);
    } else if (r.ok)
      out.line(`restored group ${a.group} from ${r.groupRun}: ${r.restored.length} item(s); ${safetyLine(r)}`);
    else {
      out.line(`restore of group ${a.group} stopped at step '${r.failedStep}': ${r.reason}`);
      out.line(r.safety ? `${safetyLine(r)}\nroll back with: ${r.rollback}` : safetyLine(r));
    }
  });
  return okOrError(r.ok);
}

export const restorePlanCommand: Command = {
  name: 'restore-plan',
  summary: 'run a safe group restore of the configuration (restore-plan run NAME)',
  usage: `safehold restore-plan run NAME [--config FILE] [--snapshot ID|latest] [--force] [--no-safety-backup] [--dry-run] [--yes]

Restores the plan's consistency group in a safe order: stop hook, check
hook (nothing may run: refused unless --force), safety backup of the
current state (its id is printed), databases, files, cleanup hook (when the
backup was taken online), start hook. Only the paths the configuration
names for the group's units are removed and restored. A restore over live
data always takes the safety backup (--no-safety-backup is refused then).
A failing step stops the restore, names the step and prints the command
that restores the safety backup. The hooks run only when the restore
overwrites live data (not for databases into new names and files into new
places).

  --dry-run  print what the restore would stop, save, replace and remove,
             and which hooks run; change nothing (--json: the same plan)
  --yes      a restore over live data asks on a terminal to type the group's
             name first; --yes goes ahead without asking (needed without a
             terminal)
Exit code: 0 done (dry run: it would go ahead), 1 stopped at a step (or
refused), 2 bad usage (or live data without --yes and no terminal), 130 not
confirmed.`,
  options: {
    snapshot: { type: 'string' },
    force: { type: 'boolean' },
    'no-safety-backup': { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean' },
  },
  async run(ctx) {
    const [sub, name, ...rest] = ctx.positionals;
    if (sub !== 'run' || !name || rest.length > 0)
      throw new SafeholdError('USAGE', 'usage: safehold restore-plan run NAME');
    const config = await loadConfigFrom(ctx.values, ctx.env);
    const p = config.restorePlans[name];
    if (!p)
      throw new SafeholdError(
        'NOT_FOUND',
        `no restore plan '${name}' in ${config.file} (restore plans: ${Object.keys(config.restorePlans).join(', ') || 'none'})`,
      );
    return runGroupRestore(ctx, config, {
      group: p.group,
      from: p.from,
      snapshot: str(ctx.values, 'snapshot') ?? p.snapshot,
      safetyBackup: ctx.values['no-safety-backup'] === true ? false : p.safetyBackup,
      intoSuffix: p.intoSuffix,
      filesTo: p.filesTo,
      force: ctx.values.force === true,
      dryRun: ctx.values['dry-run'] === true,
      yes: ctx.values.yes === true,
    });
  },
};

/** `restore --group NAME …`: the same flow from flags. */
export async function restoreGroupFromFlags(ctx: CommandContext): Promise<ExitCode> {
  const v = ctx.values;
  if (ctx.positionals.length > 0)
    throw new SafeholdError('USAGE', 'restore --group takes no snapshot argument: use --snapshot GROUPRUN|latest');
  const from = str(v, 'from');
  if (!from)
    throw new SafeholdError(
      'USAGE',
      'restore --group needs --from DESTINATION (the repository the group was backed up to)',
    );
  const config = await loadConfigFrom(v, ctx.env);
  return runGroupRestore(ctx, config, {
    group: str(v, 'group')!,
    from,
    snapshot: str(v, 'snapshot') ?? 'latest',
    safetyBackup: v['no-safety-backup'] !== true,
    intoSuffix: str(v, 'into-suffix') ?? null,
    filesTo: str(v, 'files-to') ?? null,
    force: v.force === true,
    dryRun: v['dry-run'] === true,
    yes: v.yes === true,
  });
}
