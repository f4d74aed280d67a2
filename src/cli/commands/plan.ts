// safehold plan run NAME: runs a plan now (S3 admission, S5 locks, then S4
// tasks) and prints its tasks with statuses and reasons. When a server runs
// on the same data directory, the run is handed to it (control socket);
// otherwise it runs in this process under the same locks, and SIGINT or
// SIGTERM cancel it cleanly (unquiesce and 'always' hooks still run).

import { SafeholdError } from '../../core/errors.ts';
import { Catalog, defaultDataDir } from '../../catalog/catalog.ts';
import type { TaskRecord } from '../../catalog/plan-runs.ts';
import { loadConfigFrom } from '../session.ts';
import { connectControl, socketPathFor } from '../../api/control-client.ts';
import { alerter } from '../../alerts/from-config.ts';
import { systemClock } from '../../core/clock.ts';
import type { PlanRunRecord } from '../../catalog/plan-runs.ts';
import { printTable } from '../output.ts';
import type { Command } from '../command.ts';
import { exitCodeForRun } from '../exit-codes.ts';
import type { ExitCode } from '../exit-codes.ts';
import type { Output } from '../output.ts';

export const planCommand: Command = {
  name: 'plan',
  summary: 'run a plan of the configuration now (plan run NAME)',
  usage: `safehold plan run NAME [--local] [--config FILE]

Runs the plan now: admission (backup switch, maintenance window, destination
mounted and initialised, free space), expansion of its activities into tasks
over the live inventory, the locks of every scope it touches, the pre-plan
hook, then each task (quiesce, backup, export, purge or copy, unquiesce,
hooks). Runs from the command line are on-demand runs: when another run holds
a scope, the run is refused at once, saying who holds it since when.

When 'safehold server' runs on the same data directory, the run is handed to
it and this command waits for the result; --local runs it in this process
anyway (the locks keep the two apart). In-process, Ctrl-C or SIGTERM cancel
the run cleanly (exit 130).

Exit code: 0 succeeded, 1 failed, 3 partly done (some tasks failed or were
skipped) or nothing to do, 4 refused (the reason is printed), 130 cancelled.`,
  options: { config: { type: 'string', short: 'c' }, local: { type: 'boolean' } },
  async run(ctx) {
    const [sub, name, ...rest] = ctx.positionals;
    if (sub !== 'run' || !name || rest.length > 0) throw new SafeholdError('USAGE', 'usage: safehold plan run NAME');
    const config = await loadConfigFrom(ctx.values, ctx.env);
    if (!config.plans[name])
      throw new SafeholdError(
        'NOT_FOUND',
        `no plan '${name}' in ${config.file} (plans: ${Object.keys(config.plans).join(', ') || 'none'})`,
      );
    const dataDir = ctx.env.SAFEHOLD_DATA_DIR ?? config.settings.dataDir ?? defaultDataDir(ctx.env);
    const server = ctx.values.local === true ? null : await connectControl(socketPathFor(dataDir));
    if (server) {
      const r = await server.runPlan(name);
      return report(ctx, name, r.run as PlanRunRecord, r.tasks as TaskRecord[], r.server);
    }
    const catalog = Catalog.open(dataDir);
    const alerts = alerter(catalog, config.alerts, systemClock, (m) => ctx.out.error(m));
    const ac = new AbortController();
    const cancel = (sig: string) => ac.abort(new SafeholdError('CANCELLED', `cancelled by ${sig}`));
    const onInt = () => cancel('SIGINT');
    const onTerm = () => cancel('SIGTERM');
    const oldInt = process.listeners('SIGINT');
    process.removeAllListeners('SIGINT');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    try {
      const { runPlan } = await import('../../plans/run/runner.ts');
      const r = await runPlan({
        config,
        plan: name,
        trigger: 'on-demand',
        catalog,
        signal: ac.signal,
        alert: (e) => alerts.alert(e),
      });
      await alerts.flush();
      return report(ctx, name, catalog.planRuns().getRun(r.id)!, r.tasks, null);
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      for (const l of oldInt) process.on('SIGINT', l as () => void);
      catalog.close();
    }
  },
};

function report(
  ctx: Parameters<Command['run']>[0],
  name: string,
  run: PlanRunRecord,
  tasks: TaskRecord[],
  server: number | null,
): ExitCode {
  ctx.out.result({ run, tasks, ...(server !== null ? { server } : {}) }, () => {
    ctx.out.line(
      `plan ${name}, run ${run.id.slice(0, 8)}${server !== null ? ` (by the server, pid ${server})` : ''}: ${run.status}${run.reason ? ` (${run.reason})` : ''}`,
    );
    if (tasks.length > 0) printTasks(ctx.out, tasks);
  });
  return exitCodeForRun(run.status);
}

export function printTasks(out: Output, tasks: TaskRecord[]): void {
  printTable(
    out.line.bind(out),
    ['#', 'Activity', 'Target', 'Unit', 'Status', 'Snapshots', 'Reason'],
    tasks.map((t) => [
      String(t.seq),
      t.activity,
      t.target,
      t.unit ?? '-',
      t.status,
      t.snapshots.map((s) => s.slice(0, 8)).join(','),
      t.reason ?? '',
    ]),
  );
}
