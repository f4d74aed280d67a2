// safehold plan run NAME: runs a plan now (S3 admission, then S4 tasks) in
// this process, and prints its tasks with statuses and reasons.

import { SafeholdError } from '../../core/errors.ts';
import { Catalog, defaultDataDir } from '../../catalog/catalog.ts';
import type { TaskRecord } from '../../catalog/plan-runs.ts';
import { loadConfigFrom } from './config.ts';
import { printTable } from './snapshots.ts';
import type { Command } from '../command.ts';
import type { Output } from '../output.ts';

export const planCommand: Command = {
  name: 'plan',
  summary: 'run a plan of the configuration now (plan run NAME)',
  usage: `safehold plan run NAME [--on-demand] [--config FILE]

Runs the plan in this process: admission (backup switch, maintenance window,
destination mounted and initialised, free space), expansion of its activities
into tasks over the live inventory, the pre-plan hook, then each task
(quiesce, backup or export, unquiesce, hooks). Runs from the command line are
on-demand runs (--on-demand says so explicitly).

Exit code: 0 succeeded, 1 failed, 3 partly done (some tasks failed or were
skipped) or nothing to do, 4 refused at admission (the reason is printed).`,
  options: { config: { type: 'string', short: 'c' }, 'on-demand': { type: 'boolean' } },
  async run(ctx) {
    const [sub, name, ...rest] = ctx.positionals;
    if (sub !== 'run' || !name || rest.length > 0) throw new SafeholdError('USAGE', 'usage: safehold plan run NAME');
    const config = await loadConfigFrom(ctx.values, ctx.env);
    const catalog = Catalog.open(ctx.env.SAFEHOLD_DATA_DIR ?? config.settings.dataDir ?? defaultDataDir(ctx.env));
    try {
      const { runPlan } = await import('../../plans/runner.ts');
      const r = await runPlan({ config, plan: name, trigger: 'on-demand', catalog });
      ctx.out.result({ run: catalog.planRuns().getRun(r.id), tasks: r.tasks }, () => {
        ctx.out.line(`plan ${name}, run ${r.id.slice(0, 8)}: ${r.status}${r.reason ? ` (${r.reason})` : ''}`);
        if (r.tasks.length > 0) printTasks(ctx.out, r.tasks);
      });
      return { succeeded: 0, failed: 1, partial: 3, skipped: 3, cancelled: 1, refused: 4 }[r.status];
    } finally {
      catalog.close();
    }
  },
};

export function printTasks(out: Output, tasks: TaskRecord[]): void {
  printTable(out.line.bind(out), ['#', 'Activity', 'Target', 'Unit', 'Status', 'Snapshots', 'Reason'], tasks.map((t) => [
    String(t.seq), t.activity, t.target, t.unit ?? '-', t.status, t.snapshots.map((s) => s.slice(0, 8)).join(','), t.reason ?? '',
  ]));
}
