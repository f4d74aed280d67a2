// The server's control socket: a Unix domain socket in the data directory
// (mode 0600, so only the server's user may use it) speaking JSON over HTTP.
// `safehold plan run` uses it to hand a run to a running server instead of
// running it in-process, `safehold server reload` to have the server load its
// configuration again. With --listen, the REST API (src/api/http: tokens and
// roles, OpenAPI, /metrics) is served on TCP.

import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SafeholdError, isSafeholdError } from '../core/errors.ts';
import type { ServerCore } from '../scheduler/server-core.ts';
import type { Catalog } from '../catalog/catalog.ts';
import type { Clock } from '../core/clock.ts';
import { connectControl } from './control-client.ts';
import { buildApiApp } from './http/app.ts';
import type { ApiApp, ApiDeps } from './http/app.ts';
import { auditTo, createAuthenticator } from './auth/index.ts';
import { startRepoSizeSampling } from './http/repo-size-sampler.ts';
import { hostRunbooks } from './http/runbook-host.ts';
import type { RunbookHost } from './http/runbook-host.ts';
import type { AlertEvent } from '../core/alert-event.ts';

/**
 * What the REST API on --listen needs besides the core and the catalog; auth
 * and audit default to the catalog's. Routes read the configuration from the
 * core (core.config), so they see a reload.
 */
export interface ApiOptions {
  clock: Clock;
  log(line: object): void;
  metrics?: ApiDeps['metrics'];
  auth?: ApiDeps['auth'];
  audit?: ApiDeps['audit'];
  /** Alerts of runbook runs started through the API (approvals waiting, failures, notify steps). */
  alert?: (e: AlertEvent) => void;
}

export interface ControlServer {
  readonly socketPath: string;
  /** 'host:port' actually bound by --listen, or null. */
  readonly listening: string | null;
  close(): Promise<void>;
}

type Handler = (req: http.IncomingMessage, parts: string[]) => Promise<{ status: number; body: unknown }>;

const STATUS_OF: Partial<Record<string, number>> = {
  NOT_FOUND: 404,
  USAGE: 400,
  CONFIG: 422,
  CANCELLED: 503,
  LOCKED: 409,
};

export async function startControlServer(
  core: ServerCore,
  catalog: Catalog,
  opts: { socketPath: string; listen?: { host: string; port: number } | null; api?: ApiOptions },
): Promise<ControlServer> {
  await claimSocket(opts.socketPath);
  const status = async () => ({ status: 200, body: { pid: process.pid, ...core.status() } });
  const unixRoutes: Handler = async (req, parts) => {
    if (req.method === 'GET' && parts.join('/') === 'v1/status') return status();
    if (
      req.method === 'POST' &&
      parts.length === 4 &&
      parts[0] === 'v1' &&
      parts[1] === 'plans' &&
      parts[3] === 'run'
    ) {
      // ?ignoreWindow=WHO: an emergency run past the maintenance window, asked by WHO (plan run --ignore-window).
      const by = new URL(req.url ?? '/', 'http://control').searchParams.get('ignoreWindow');
      const r = await core.runNow(decodeURIComponent(parts[2]!), by ? { ignoreWindow: { by } } : {});
      return {
        status: 200,
        body: { run: catalog.planRuns().getRun(r.id), tasks: r.tasks, server: process.pid, config: core.generation },
      };
    }
    if (req.method === 'POST' && parts.join('/') === 'v1/config/reload') {
      const r = await core.reload();
      return { status: 200, body: { ...r, server: process.pid } };
    }
    return {
      status: 404,
      body: { error: { code: 'NOT_FOUND', message: `no route ${req.method} /${parts.join('/')}` } },
    };
  };
  const unix = http.createServer(serve(unixRoutes));
  unix.requestTimeout = 0;
  unix.headersTimeout = 60_000;
  const oldMask = process.umask(0o177);
  try {
    await listen(unix, opts.socketPath);
  } finally {
    process.umask(oldMask);
  }
  let api: ApiApp | null = null;
  let listening: string | null = null;
  let runbooks: RunbookHost | null = null;
  if (opts.listen) {
    const fail = async (e: unknown) => {
      await api?.close();
      unix.close();
      fs.rmSync(opts.socketPath, { force: true });
      throw new SafeholdError(
        'USAGE',
        `cannot listen on ${opts.listen!.host}:${opts.listen!.port}: ${(e as Error).message}`,
      );
    };
    if (!opts.api) throw new SafeholdError('INTERNAL', '--listen needs the API options (config, clock, log)');
    const a = opts.api;
    runbooks = hostRunbooks({
      config: () => core.config,
      catalog,
      clock: a.clock,
      ...(a.alert ? { alert: a.alert } : {}),
    });
    try {
      api = await buildApiApp({
        core,
        catalog,
        get config() {
          return core.config;
        },
        clock: a.clock,
        log: a.log,
        auth: a.auth ?? createAuthenticator(catalog, a.clock),
        audit: a.audit ?? auditTo(catalog),
        metrics: a.metrics ?? { enabled: true, protect: false },
        runbooks: runbooks.service,
      });
      await api.listen({ host: opts.listen.host, port: opts.listen.port });
    } catch (e) {
      await fail(e);
    }
    const addr = api!.server.address() as AddressInfo;
    listening = `${addr.address}:${addr.port}`;
  }
  // Repository sizes for the console's chart: sampled hourly while the server runs.
  const sampling = opts.api
    ? startRepoSizeSampling(catalog.path, () => core.config, opts.api.clock, opts.api.log)
    : null;
  return {
    socketPath: opts.socketPath,
    listening,
    async close() {
      await Promise.all([
        closeServer(unix),
        runbooks ? runbooks.stop() : Promise.resolve(),
        api ? api.close() : Promise.resolve(),
        sampling ? sampling.stop() : Promise.resolve(),
      ]);
      fs.rmSync(opts.socketPath, { force: true });
    },
  };
}

function serve(routes: Handler) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const parts = (req.url ?? '/').split('?')[0]!.split('/').filter(Boolean);
    routes(req, parts).then(
      (r) => send(res, r.status, r.body),
      (e: unknown) => {
        const code = isSafeholdError(e) ? e.code : 'INTERNAL';
        send(res, STATUS_OF[code] ?? 500, { error: { code, message: e instanceof Error ? e.message : String(e) } });
      },
    );
  };
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Refuses when a live server owns the socket; removes a stale one left by a killed server. */
async function claimSocket(socketPath: string): Promise<void> {
  if (!fs.existsSync(socketPath)) return;
  const other = await connectControl(socketPath);
  if (other) {
    const st = await other.status().catch(() => null);
    throw new SafeholdError(
      'LOCKED',
      `a server is already running on this data directory${st ? ` (pid ${st.pid})` : ''}: ${socketPath}`,
    );
  }
  fs.rmSync(socketPath, { force: true });
}

function listen(server: http.Server, ...args: [string] | [number, string]): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = () => {
      server.off('error', reject);
      resolve();
    };
    if (args.length === 1) server.listen(args[0], done);
    else server.listen(args[0], args[1], done);
  });
}

function closeServer(s: http.Server): Promise<void> {
  return new Promise((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });
}
