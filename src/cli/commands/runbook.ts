// safehold runbook: list, show, dry-run, run, resume, approve and abort
// runbooks (docs/runbooks.md). `run` and `resume` execute in this process,
// printing each step transition; Ctrl-C or SIGTERM leaves the run
// interrupted (resumable). The CLI acts as the local user with the role
// admin: whoever can run this command can read the catalog and the config.

import os from 'node:os';
import { SafeholdError } from '../../core/errors.ts';
import { formatTime } from '../../core/format.ts';
import { Catalog, defaultDataDir } from '../../catalog/catalog.ts';
import type { Config } from '../../config/types.ts';
import { RunbookService } from '../../plans/runbook/runbook-service.ts';
import type { Actor, DryRunPlan, RunView, StepView } from '../../plans/runbook/runbook-service.ts';
import { list, str } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import type { ExitCode } from '../exit-codes.ts';
import { printTable } from '../output.ts';
import { loadConfigFrom } from '../session.ts';

/** The local user, with the role admin (docs/runbooks.md). */
function cliActor(env: NodeJS.ProcessEnv): Actor {
  let id: string;
  try {
    id = os.userInfo().username;
  } catch {
    id = env.USER || env.LOGNAME || `uid ${process.getuid?.() ?? '?'}`;
  }
  return { id, role: 'admin', via: 'cli' };
}

function parseVars(values: CommandContext['values']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of list(values, 'var')) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new SafeholdError('USAGE', `--var takes NAME=VALUE, not '${kv}'`);
    out[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return out;
}

function oneLine(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function outputsText(o: StepView['outputs']): string {
  if (!o || Object.keys(o).length === 0) return '';
  const parts = Object.entries(o).map(([k, v]) => `${k}=${oneLine(v).replace(/\s+/g, ' ').slice(0, 80)}`);
  return ` ${parts.join(' ')}`;
}

function transitionLine(s: StepView): string {
  const phase = s.phase === 'rollback' ? ' (rollback)' : '';
  const attempt = s.attempt > 1 ? ` attempt ${s.attempt}` : '';
  const why = s.error && s.status !== 'succeeded' ? `: ${s.error}` : '';
  const approval = s.approval ? ` (needs ${s.approval.role}${s.approval.needsConfirm ? ' and --confirm' : ''})` : '';
  return `step ${s.name}${phase}: ${s.status}${attempt}${approval}${s.status === 'succeeded' ? outputsText(s.outputs) : why}`;
}

/** Prints the step transitions not printed yet. */
function progressPrinter(ctx: CommandContext): (v: RunView) => void {
  const seen = new Map<string, string>();
  return (v) => {
    for (const s of v.steps) {
      if (s.seq === 0 || s.status === 'pending') continue;
      const key = `${s.phase}/${s.name}`;
      const state = `${s.status}/${s.attempt}`;
      if (seen.get(key) === state) continue;
      seen.set(key, state);
      ctx.out.info(transitionLine(s));
    }
  };
}

function exitFor(v: RunView): ExitCode {
  if (v.status === 'succeeded') return EXIT.ok;
  if (v.status === 'interrupted') return EXIT.interrupted;
  return EXIT.error;
}

function printRun(ctx: CommandContext, v: RunView): void {
  ctx.out.result(v, () => {
    ctx.out.line(`run ${v.id} of ${v.runbook}: ${v.status}${v.error ? ` (${v.error})` : ''}`);
    ctx.out.line(`started ${formatTime(v.startedAt)} by ${v.startedBy}; variables ${JSON.stringify(v.vars)}`);
    for (const s of v.steps) ctx.out.line(`  ${transitionLine(s)}`);
  });
}

function printDryRun(ctx: CommandContext, p: DryRunPlan): void {
  ctx.out.result(p, () => {
    ctx.out.line(`dry run of ${p.runbook}, nothing changed; variables ${JSON.stringify(p.vars)}`);
    p.steps.forEach((s, i) => {
      ctx.out.line(`${i + 1}. ${s.name} (${s.kind}) ${JSON.stringify(s.params)}`);
      for (const c of s.preconditions)
        ctx.out.line(
          `   precondition ${c.text}: ${c.holds === null ? 'cannot tell yet' : c.holds ? 'holds' : 'does not hold'} (${c.why})`,
        );
      for (const ch of s.changes) ctx.out.line(`   would: ${ch}`);
    });
  });
}

/** Runs in the foreground until final; SIGINT/SIGTERM stop this process's part (the run stays resumable). */
async function foreground(
  ctx: CommandContext,
  config: Config,
  catalog: Catalog,
  begin: (s: RunbookService) => Promise<string>,
) {
  const stop = new AbortController();
  const onSignal = (sig: string) => stop.abort(new SafeholdError('CANCELLED', `stopped by ${sig}`));
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  // The CLI's own SIGINT handler exits at once; here the run is first left resumable.
  const oldInt = process.listeners('SIGINT');
  process.removeAllListeners('SIGINT');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  try {
    const service = new RunbookService({
      config,
      catalog,
      stop: stop.signal,
      log: (_id, m, level) => (level === 'info' ? ctx.out.info(`  ${m}`) : ctx.out.warn(m)),
    });
    const id = await begin(service);
    ctx.out.info(`run ${id}`);
    const print = progressPrinter(ctx);
    const v = await service.runToEnd(id, { onProgress: print });
    print(v);
    printRun(ctx, v);
    return exitFor(v);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    for (const l of oldInt) process.on('SIGINT', l as () => void);
  }
}

function runbookList(ctx: CommandContext, s: RunbookService): ExitCode {
  const rows = s.list();
  ctx.out.result(rows, () => {
    if (rows.length === 0) return ctx.out.line('no runbooks');
    printTable(
      ctx.out.line.bind(ctx.out),
      ['Name', 'Steps', 'Destructive', 'Description', 'Defined at'],
      rows.map((r) => [r.name, String(r.steps), r.destructive ? 'yes' : 'no', r.description, r.source]),
    );
  });
  return EXIT.ok;
}

function runbookShow(ctx: CommandContext, s: RunbookService, name: string): ExitCode {
  const rb = s.show(name);
  ctx.out.result(rb, () => {
    ctx.out.line(`${rb.name}${rb.destructive ? ' (destructive: --confirm NAME)' : ''}: ${rb.description}`);
    for (const v of Object.values(rb.vars))
      ctx.out.line(
        `  var ${v.name}${v.default === null ? ' (required)' : ` = ${v.default}`}${v.description ? `: ${v.description}` : ''}`,
      );
    rb.steps.forEach((st, i) =>
      ctx.out.line(`  ${i + 1}. ${st.name} (${st.kind})${st.description ? `: ${st.description}` : ''}`),
    );
    for (const r of Object.values(rb.rollbackSteps)) ctx.out.line(`  rollback ${r.name} (${r.kind})`);
  });
  return EXIT.ok;
}

function runsTable(ctx: CommandContext, runs: RunView[]): ExitCode {
  ctx.out.result(runs, () => {
    if (runs.length === 0) return ctx.out.line('no runbook runs');
    printTable(
      ctx.out.line.bind(ctx.out),
      ['Run', 'Runbook', 'Status', 'Started', 'By', 'Error'],
      runs.map((r) => [r.id, r.runbook, r.status, formatTime(r.startedAt), r.startedBy, r.error ?? '']),
    );
  });
  return EXIT.ok;
}

function need(arg: string | undefined, usage: string): string {
  if (!arg) throw new SafeholdError('USAGE', `usage: safehold runbook ${usage}`);
  return arg;
}

async function dispatch(ctx: CommandContext, config: Config, catalog: Catalog): Promise<ExitCode> {
  const [sub, a, b, ...rest] = ctx.positionals;
  const v = ctx.values;
  const actor = cliActor(ctx.env);
  const service = new RunbookService({ config, catalog });
  if (rest.length > 0) throw new SafeholdError('USAGE', `too many arguments (see 'safehold runbook --help')`);
  switch (sub) {
    case 'list':
      return runbookList(ctx, service);
    case 'show':
      return runbookShow(ctx, service, need(a, 'show NAME'));
    case 'run': {
      const name = need(a, 'run NAME');
      const vars = parseVars(v);
      if (v['dry-run'] === true) {
        printDryRun(ctx, await service.dryRun(name, vars));
        return EXIT.ok;
      }
      const confirm = str(v, 'confirm');
      return foreground(ctx, config, catalog, (s) => s.start(name, { vars, actor, ...(confirm ? { confirm } : {}) }));
    }
    case 'resume': {
      const id = need(a, 'resume RUN');
      return foreground(ctx, config, catalog, (s) => s.resume(id, actor));
    }
    case 'approve': {
      const id = need(a, 'approve RUN STEP');
      const step = need(b, 'approve RUN STEP');
      if (v.rerun === true && v['mark-done'] === true)
        throw new SafeholdError('USAGE', '--rerun and --mark-done exclude each other');
      const action = v.rerun === true ? 'rerun' : v['mark-done'] === true ? 'mark-done' : 'approve';
      const confirm = str(v, 'confirm');
      const view = service.approve(id, step, actor, { action, ...(confirm ? { confirm } : {}) });
      ctx.out.result(view, () => ctx.out.line(`${action} of step ${step} of run ${id} recorded`));
      return EXIT.ok;
    }
    case 'abort': {
      const view = service.abort(need(a, 'abort RUN'), actor);
      ctx.out.result(view, () => ctx.out.line(`run ${view.id} aborted`));
      return EXIT.ok;
    }
    case 'runs': {
      const runbook = str(v, 'runbook');
      return runsTable(ctx, service.runs({ limit: 50, ...(runbook ? { runbook } : {}) }));
    }
    case 'get':
    case 'status': {
      printRun(ctx, service.get(need(a, 'status RUN')));
      return EXIT.ok;
    }
    default:
      throw new SafeholdError(
        'USAGE',
        `usage: safehold runbook list|show|run|resume|approve|abort|runs|status (see --help)`,
      );
  }
}

export const runbookCommand: Command = {
  name: 'runbook',
  summary: 'list, dry-run, run, resume, approve and abort runbooks',
  usage: `safehold runbook SUBCOMMAND [--config FILE] [--json]

  list                          the runbooks of the configuration (and runbooks/*.yaml beside it)
  show NAME                     a runbook's variables and steps
  run NAME [--var k=v]... [--confirm NAME] [--dry-run]
                                run it in the foreground, printing each step transition; a
                                destructive runbook needs --confirm with its name; --dry-run
                                evaluates every precondition and prints the resolved plan and
                                what each step would change, changing nothing
  resume RUN                    continue a run whose process died (refused while it lives)
  approve RUN STEP [--rerun|--mark-done] [--confirm NAME]
                                approve a waiting approval step; for an interrupted step that
                                is not idempotent: --rerun it or --mark-done
  abort RUN                     abort a run (the running process stops within a second)
  runs [--runbook NAME]         recent runs, newest first
  status RUN                    one run and its steps

The CLI acts as the local user with the role admin. Exit code: 0 succeeded,
1 failed (or refused), 2 bad usage, 130 interrupted (resume it).`,
  options: {
    var: { type: 'string', multiple: true },
    confirm: { type: 'string' },
    'dry-run': { type: 'boolean' },
    rerun: { type: 'boolean' },
    'mark-done': { type: 'boolean' },
    runbook: { type: 'string' },
  },
  async run(ctx) {
    const config = await loadConfigFrom(ctx.values, ctx.env);
    const catalog = Catalog.open(config.settings.dataDir ?? defaultDataDir(ctx.env));
    try {
      return await dispatch(ctx, config, catalog);
    } finally {
      catalog.close();
    }
  },
};
