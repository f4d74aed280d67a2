// The client side of the server's control socket (control-server.ts): finds
// a running server on a data directory and asks it for status, a run, or a
// reload of its configuration.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { SafeholdError } from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { ConfigGeneration } from '../config/generation.ts';
import type { ConfigDiff } from '../config/config-diff.ts';

export interface ControlClient {
  status(): Promise<{ pid: number; config: ConfigGeneration } & Record<string, unknown>>;
  /** Runs a plan on the server and waits for the run to end; `config` is the configuration it ran under. */
  runPlan(
    name: string,
    opts?: { ignoreWindow?: { by: string } },
  ): Promise<{ run: unknown; tasks: unknown[]; server: number; config: ConfigGeneration }>;
  /** Has the server load its configuration file again; a CONFIG error when the file is not valid (nothing changed). */
  reload(): Promise<{ generation: ConfigGeneration; diff: ConfigDiff; summary: string; server: number }>;
}

export function socketPathFor(dataDir: string): string {
  return path.join(dataDir, 'server.sock');
}

/** A client when a server answers on `socketPath`, else null (no socket, or a stale one). */
export async function connectControl(socketPath: string): Promise<ControlClient | null> {
  if (!fs.existsSync(socketPath)) return null;
  const client: ControlClient = {
    status: () => call(socketPath, 'GET', '/v1/status') as ReturnType<ControlClient['status']>,
    runPlan: (name, opts) =>
      call(
        socketPath,
        'POST',
        `/v1/plans/${encodeURIComponent(name)}/run${opts?.ignoreWindow ? `?ignoreWindow=${encodeURIComponent(opts.ignoreWindow.by)}` : ''}`,
      ) as ReturnType<ControlClient['runPlan']>,
    reload: () => call(socketPath, 'POST', '/v1/config/reload') as ReturnType<ControlClient['reload']>,
  };
  try {
    await call(socketPath, 'GET', '/v1/status', 5000);
    return client;
  } catch (e) {
    if (e instanceof SafeholdError && e.code !== 'IO') throw e;
    return null;
  }
}

function call(socketPath: string, method: string, urlPath: string, timeoutMs = 0): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, method, path: urlPath, headers: { accept: 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        text += d;
      });
      res.on('end', () => {
        let body: { error?: { code: ErrorCode; message: string } };
        try {
          body = JSON.parse(text) as typeof body;
        } catch {
          return reject(new SafeholdError('INTERNAL', `the server answered ${res.statusCode} with no JSON`));
        }
        if (res.statusCode === 200) return resolve(body);
        reject(
          new SafeholdError(
            body.error?.code ?? 'INTERNAL',
            body.error?.message ?? `the server answered ${res.statusCode}`,
          ),
        );
      });
    });
    if (timeoutMs > 0) req.setTimeout(timeoutMs, () => req.destroy(new Error('timed out')));
    req.on('error', (e) =>
      reject(new SafeholdError('IO', `cannot reach the server at ${socketPath}: ${e.message}`, { cause: e })),
    );
    req.end();
  });
}
