// safehold plan run NAME: runs a plan now (S3 admission, S5 locks, then S4
// tasks) and prints its tasks with statuses and reasons. When a server runs
// on the same data directory, the run is handed to it (control socket);
// otherwise it runs in this process under the same locks, and SIGINT or
// SIGTERM cancel it cleanly (unquiesce and 'always' hooks still run).

import os from 'node:os';
import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import { Catalog } from '../../catalog/catalog.ts';
import type { TaskRecord } from '../../catalog/plan-runs.ts';
import { commandConfig, resolveDataDir } from '../session.ts';
import { connectControl, socketPathFor } from '../../api/control-client.ts';
import type { ControlClient } from '../../api/control-client.ts';
import { staleServerConfig } from '../../config/generation.ts';
import type { ConfigGeneration } from '../../config/generation.ts';
import type { Config } from '../../config/types.ts';
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
  usage: `safehold plan run NAME [--local] [--ignore-window] [--config FILE]

Runs the plan now: admission (backup switch, maintenance window, destination
mounted and initialised, free space), expansion of its activities into tasks
over the live inventory, the locks of every scope it touches, the pre-plan
hook, then each task (quiesce, backup, export, purge or copy, unquiesce,
hooks). Runs from the command line are on-demand runs: when another run holds
a scope, the run is refused at once, saying who holds it since when.

When 'safehold server' runs on the same data directory, the run is handed to
it and this command waits for the result; --local runs it in this process
anyway (the locks keep the two apart). When the server runs an older version
of the configuration file than this command read, a warning says so (with
--json: serverConfig.stale); 'safehold server reload' applies the file. In-process, Ctrl-C or SIGTERM cancel
the run cleanly (exit 130).

--ignore-window runs the plan even when its maintenance window is closed (an
emergency backup); the run's log and the audit log ('safehold audit') record
who asked and when. Scheduled runs never ignore the window.

Exit code: 0 succeeded, 1 failed, 3 partly done (some tasks failed or were
skipped) or nothing to do, 4 refused (the reason is printed), 130 cancelled.`,
  options: { local: { type: 'boolean' }, 'ignore-window': { type: 'boolean' } },
  async run(ctx) {
    const [sub, name, ...rest] = ctx.positionals;
    if (sub !== 'run' || !name || rest.length > 0) throw new SafeholdError('USAGE', 'usage: safehold plan run NAME');
    const config = await commandConfig(ctx);
    if (!config.plans[name])
      throw new SafeholdError(
        'NOT_FOUND',
        `no plan '${name}' in ${config.file} (plans: ${Object.keys(config.plans).join(', ') || 'none'})`,
      );
    const ignoreWindow = ctx.values['ignore-window'] === true ? { by: whoAmI(ctx.env) } : undefined;
    const dataDir = await resolveDataDir(ctx);
    const server = ctx.values.local === true ? null : await connectControl(socketPathFor(dataDir));
    if (server) {
      const r = await runOnServer(ctx, server, config, name, ignoreWindow);
      const serverConfig = { ...r.config, stale: staleServerConfig(config, r.config) !== null };
      return report(ctx, name, r.run as PlanRunRecord, r.tasks as TaskRecord[], r.server, serverConfig);
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
        ...(ignoreWindow ? { ignoreWindow } : {}),
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
      // Even when the run threw: every delivery's outcome is in the catalog before it closes.
      await alerts.flush();
      catalog.close();
    }
  },
};

/** Who runs this command, for the audit log: the login name. */
function whoAmI(env: NodeJS.ProcessEnv): string {
  try {
    return os.userInfo().username;
  } catch {
    return env.USER || env.LOGNAME || `uid ${process.getuid?.() ?? '?'}`;
  }
}

/**
 * Hands the run to the server, first warning when the server runs another
 * version of the configuration than `config` (a plan missing there says why).
 */
async function runOnServer(
  ctx: Parameters<Command['run']>[0],
  server: ControlClient,
  config: Config,
  name: string,
  ignoreWindow: { by: string } | undefined,
) {
  const { config: running } = await server.status();
  const stale = running ? staleServerConfig(config, running) : null;
  if (stale) ctx.out.warn(stale);
  try {
    return await server.runPlan(name, ignoreWindow ? { ignoreWindow } : {});
  } catch (e) {
    if (stale && isSafeholdError(e, 'NOT_FOUND')) throw new SafeholdError('NOT_FOUND', `${e.message}: ${stale}`);
    throw e;
  }
}

function report(
  ctx: Parameters<Command['run']>[0],
  name: string,
  run: PlanRunRecord,
  tasks: TaskRecord[],
  server: number | null,
  serverConfig?: ConfigGeneration & { stale: boolean },
): ExitCode {
  ctx.out.result({ run, tasks, ...(server !== null ? { server, serverConfig } : {}) }, () => {
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
