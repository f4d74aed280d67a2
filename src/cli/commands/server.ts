// safehold server: the long-running process. Runs plans on their schedules,
// takes on-demand runs from `safehold plan run` over the control socket,
// keeps scope locks fresh and sweeps stale ones, sends alerts, reloads its
// configuration on SIGHUP or `safehold server reload` (server-reload.ts), and
// stops gracefully on SIGTERM or SIGINT (exit 0): running tasks get the
// shutdown grace, then are cancelled with their cleanup, and every lock is
// released.

import { SafeholdError } from '../../core/errors.ts';
import { systemClock } from '../../core/clock.ts';
import { Catalog } from '../../catalog/catalog.ts';
import { ServerCore } from '../../scheduler/server-core.ts';
import type { ServerCoreOptions } from '../../scheduler/server-core.ts';
import { startControlServer } from '../../api/control-server.ts';
import { socketPathFor } from '../../api/control-client.ts';
import { alerter } from '../../alerts/from-config.ts';
import type { Alerter } from '../../alerts/from-config.ts';
import { loadConfig } from '../../config/load.ts';
import type { Config } from '../../config/types.ts';
import { OPT_IN_EVENTS } from '../../alerts/events.ts';
import { formatDuration } from '../../core/format.ts';
import { commandConfig, resolveDataDir } from '../session.ts';
import { str } from '../command.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import { reloadServer } from './server-reload.ts';

export const serverCommand: Command = {
  name: 'server',
  summary: 'run plans on their schedules and serve on-demand runs (stops on SIGTERM)',
  usage: `safehold server [--config FILE] [--listen HOST:PORT]
       safehold server reload [--config FILE]

Runs until SIGTERM or SIGINT. Plans with a 'schedule' run when due (cron in
the plan's time zone); a run due while the previous run of its plan is still
queued or running is recorded as coalesced, not queued again. Up to
settings.maxParallelRuns runs execute at once. 'safehold plan run NAME' hands
its run to this server through the control socket <data dir>/server.sock.

At start, runs left 'running' by a process that died are marked failed, their
quiesces undone and their locks released; a scheduled one is retried while its
retry window is open. On SIGTERM, running tasks get settings.shutdownGrace
(default 1m) to finish, then are cancelled (unquiesce and 'always' hooks
still run); a second SIGTERM cancels at once. Exit code 0 after a clean stop.

On SIGHUP, or 'safehold server reload' (which asks the server on the data
directory), the server loads its configuration file again. A valid file is in
force at once (new plans, schedules, targets, destinations, alert channels;
runs already queued or running finish with the configuration they started
with) and the log says what changed; an invalid one changes nothing: the log
names the file and every problem, and 'server reload' prints them and exits 1.

--listen HOST:PORT serves the REST API (docs/api.md; API tokens from
'safehold token create'), GET /api/openapi.json and GET /metrics.
Log lines go to stderr; with --json, one JSON object per line.`,
  options: { listen: { type: 'string' } },
  async run(ctx) {
    if (ctx.positionals[0] === 'reload' && ctx.positionals.length === 1 && ctx.values.listen === undefined)
      return reloadServer(ctx);
    if (ctx.positionals.length > 0)
      throw new SafeholdError(
        'USAGE',
        ctx.positionals[0] === 'reload'
          ? 'usage: safehold server reload [--config FILE] (no other arguments or --listen)'
          : `safehold server takes no arguments but 'reload' (got '${ctx.positionals[0]}')`,
      );
    const listen = parseListen(str(ctx.values, 'listen'));
    const config = await commandConfig(ctx);
    // Catalog.open creates the data directory 0700 (and the catalog 0600) whatever the umask.
    const dataDir = await resolveDataDir(ctx);
    const json = ctx.values.json === true;
    const log = (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}) => {
      process.stderr.write(
        json
          ? `${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`
          : `${new Date().toISOString()} ${level.padEnd(5)} ${msg}\n`,
      );
    };
    const catalog = Catalog.open(dataDir);
    const alerts = liveAlerter((c) => alerter(catalog, c.alerts, systemClock, (m) => log('warn', m)));
    const core: ServerCore = new ServerCore({
      config,
      catalog,
      clock: systemClock,
      alert: (e) => {
        // run-started and run-succeeded say all is well: the run's own log lines tell of them.
        if (!OPT_IN_EVENTS.includes(e.event)) log('warn', `alert ${e.event}: ${e.summary}`);
        alerts.of(core.config).alert(e);
      },
      log,
      loadConfig: (file) => loadConfig(file, ctx.env),
    });
    // Reloads the configuration (the core logs the outcome); SIGHUP would otherwise end the process.
    const onHup = () => void core.reload().catch(() => {});
    process.on('SIGHUP', onHup);
    let control;
    try {
      control = await startControlServer(core, catalog, {
        socketPath: socketPathFor(dataDir),
        listen,
        api: {
          clock: systemClock,
          log: (line) => process.stderr.write(`${JSON.stringify(line)}\n`),
          metrics: config.settings.metrics,
          // Alerts of runbook runs hosted by the API (approvals waiting, failures, notices).
          alert: (e) => {
            log(e.severity === 'info' ? 'info' : 'warn', `alert ${e.event}: ${e.summary}`);
            alerts.of(core.config).alert(e);
          },
        },
      });
    } catch (e) {
      process.off('SIGHUP', onHup);
      catalog.close();
      throw e;
    }
    const stopped = new Promise<string>((resolve) => {
      let signals = 0;
      const onSignal = (sig: string) => {
        signals++;
        if (signals === 1) resolve(sig);
        else log('warn', `${sig} again: cancelling running tasks now`);
      };
      process.removeAllListeners('SIGINT');
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
    });
    await core.start();
    log(
      'info',
      `listening on ${control.socketPath}${control.listening ? ` and http://${control.listening}` : ''} (pid ${process.pid})`,
      { pid: process.pid, listen: control.listening },
    );
    logDataDir(log, dataDir, catalog, config.file);
    const sig = await stopped;
    const grace = core.config.settings.shutdownGraceMs;
    log('info', `${sig}: stopping (running tasks get ${formatDuration(grace)})`);
    // A second signal shortens the grace to nothing.
    const hurry = new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    await Promise.race([core.stop(grace), hurry.then(() => core.stop(0))]);
    process.off('SIGHUP', onHup);
    await control.close();
    await alerts.flush();
    catalog.close();
    log('info', 'stopped');
    return EXIT.ok;
  },
};

/** The alert channels of the configuration in force: rebuilt when a reload brings new ones; flush waits for all. */
function liveAlerter(make: (c: Config) => Alerter) {
  const all: Alerter[] = [];
  let current: { alerts: Config['alerts']; alerter: Alerter } | null = null;
  return {
    of(c: Config): Alerter {
      if (current?.alerts !== c.alerts) {
        current = { alerts: c.alerts, alerter: make(c) };
        all.push(current.alerter);
      }
      return current.alerter;
    },
    async flush(): Promise<void> {
      await Promise.all(all.map((a) => a.flush()));
    },
  };
}

/** Says which catalog this server uses and how many users can log in (a hint when none can yet). */
function logDataDir(log: ServerCoreOptions['log'], dataDir: string, catalog: Catalog, configFile: string): void {
  const users = catalog.users().count();
  log('info', `data directory ${dataDir} (catalog ${catalog.path}), ${users} user${users === 1 ? '' : 's'}`, {
    dataDir,
    catalog: catalog.path,
    users,
  });
  if (users === 0)
    log(
      'warn',
      `no users yet: the API answers 503 to logins until you add one with 'safehold user add NAME --role admin --config ${configFile}'`,
    );
}

function parseListen(v: string | undefined): { host: string; port: number } | null {
  if (v === undefined) return null;
  const m = /^(.*):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m?.[1] || port > 65535)
    throw new SafeholdError('USAGE', `--listen takes HOST:PORT like 127.0.0.1:8470, not '${v}'`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}
