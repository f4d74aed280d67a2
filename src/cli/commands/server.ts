// safehold server: the long-running process. Runs plans on their schedules,
// takes on-demand runs from `safehold plan run` over the control socket,
// keeps scope locks fresh and sweeps stale ones, sends alerts, and stops
// gracefully on SIGTERM or SIGINT (exit 0): running tasks get the shutdown
// grace, then are cancelled with their cleanup, and every lock is released.

import { SafeholdError } from '../../core/errors.ts';
import { systemClock } from '../../core/clock.ts';
import { Catalog, defaultDataDir } from '../../catalog/catalog.ts';
import { ServerCore } from '../../scheduler/server-core.ts';
import { startControlServer } from '../../api/control-server.ts';
import { socketPathFor } from '../../api/control-client.ts';
import { alerter } from '../../alerts/from-config.ts';
import { formatDuration } from '../../core/format.ts';
import { loadConfigFrom } from '../session.ts';
import { str } from '../command.ts';
import type { Command } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const serverCommand: Command = {
  name: 'server',
  summary: 'run plans on their schedules and serve on-demand runs (stops on SIGTERM)',
  usage: `safehold server [--config FILE] [--listen HOST:PORT]

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

--listen HOST:PORT serves the REST API (docs/api.md; API tokens from
'safehold token create'), GET /api/openapi.json and GET /metrics.
Log lines go to stderr; with --json, one JSON object per line.`,
  options: { config: { type: 'string', short: 'c' }, listen: { type: 'string' } },
  async run(ctx) {
    if (ctx.positionals.length > 0)
      throw new SafeholdError('USAGE', `safehold server takes no arguments (got '${ctx.positionals[0]}')`);
    const listen = parseListen(str(ctx.values, 'listen'));
    const config = await loadConfigFrom(ctx.values, ctx.env);
    // Catalog.open creates the data directory 0700 (and the catalog 0600) whatever the umask.
    const dataDir = ctx.env.SAFEHOLD_DATA_DIR ?? config.settings.dataDir ?? defaultDataDir(ctx.env);
    const json = ctx.values.json === true;
    const log = (level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}) => {
      process.stderr.write(
        json
          ? `${JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields })}\n`
          : `${new Date().toISOString()} ${level.padEnd(5)} ${msg}\n`,
      );
    };
    const catalog = Catalog.open(dataDir);
    const alerts = alerter(catalog, config.alerts, systemClock, (m) => log('warn', m));
    const core = new ServerCore({
      config,
      catalog,
      clock: systemClock,
      alert: (e) => {
        log('warn', `alert ${e.event}: ${e.summary}`);
        alerts.alert(e);
      },
      log,
    });
    let control;
    try {
      control = await startControlServer(core, catalog, {
        socketPath: socketPathFor(dataDir),
        listen,
        api: {
          config,
          clock: systemClock,
          log: (line) => process.stderr.write(`${JSON.stringify(line)}\n`),
          metrics: config.settings.metrics,
        },
      });
    } catch (e) {
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
    const sig = await stopped;
    const grace = config.settings.shutdownGraceMs;
    log('info', `${sig}: stopping (running tasks get ${formatDuration(grace)})`);
    // A second signal shortens the grace to nothing.
    const hurry = new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    await Promise.race([core.stop(grace), hurry.then(() => core.stop(0))]);
    await control.close();
    await alerts.flush();
    catalog.close();
    log('info', 'stopped');
    return EXIT.ok;
  },
};

function parseListen(v: string | undefined): { host: string; port: number } | null {
  if (v === undefined) return null;
  const m = /^(.*):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m?.[1] || port > 65535)
    throw new SafeholdError('USAGE', `--listen takes HOST:PORT like 127.0.0.1:8470, not '${v}'`);
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}
