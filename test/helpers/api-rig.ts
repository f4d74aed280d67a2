// Test rig of the REST API: a real catalog and repository (planWorld), a plan
// backing up a files target, a real ServerCore, the API listening on
// 127.0.0.1:0, and a small real Authenticator of fixed tokens (the auth
// stores are tested on their own). fetch() goes over real HTTP.

import fs from 'node:fs';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FilesTarget } from '../../src/config/types.ts';
import type { Clock } from '../../src/core/clock.ts';
import { systemClock } from '../../src/core/clock.ts';
import { ServerCore } from '../../src/scheduler/server-core.ts';
import { buildApiApp } from '../../src/api/http/app.ts';
import type { ApiApp, AuditEntry } from '../../src/api/http/app.ts';
import type { AuthRequest, Authenticator, Principal, Role } from '../../src/api/auth/types.ts';
import { activity, planWorld } from './plan-fixtures.ts';
import type { PlanWorld } from './plan-fixtures.ts';

export const TOKENS: Record<Role, string> = { viewer: 'tok-viewer', operator: 'tok-operator', admin: 'tok-admin' };

/** Bearer tokens of TOKENS, and one cookie session `sess-1` (admin user alice) whose CSRF token is `csrf-1`. */
export class FixedAuthenticator implements Authenticator {
  async authenticate(req: AuthRequest): Promise<Principal | null> {
    const h = req.headers.authorization;
    const m = typeof h === 'string' ? /^Bearer (.+)$/.exec(h) : null;
    if (m) {
      const role = (Object.keys(TOKENS) as Role[]).find((r) => TOKENS[r] === m[1]);
      return role ? { kind: 'token', id: `token-${role}`, name: `${role} token`, role } : null;
    }
    if (req.cookies.safehold_session === 'sess-1')
      return { kind: 'user', id: 'alice', name: 'alice', role: 'admin', csrf: 'csrf-1' };
    return null;
  }

  checkCsrf(p: Principal, req: AuthRequest): boolean {
    return p.kind === 'token' || req.headers['x-csrf-token'] === p.csrf;
  }
}

export interface ApiRig {
  w: PlanWorld;
  app: ApiApp;
  core: ServerCore | null;
  base: string;
  audits: AuditEntry[];
  logs: Record<string, unknown>[];
  srcDir: string;
  get(p: string, role?: Role | null, init?: RequestInit): Promise<Response>;
  send(method: string, p: string, role: Role | null, body?: unknown): Promise<Response>;
  close(): Promise<void>;
}

export async function apiRig(
  opts: {
    core?: boolean;
    metrics?: { enabled: boolean; protect: boolean };
    clock?: Clock;
    setup?: (w: PlanWorld) => void;
  } = {},
): Promise<ApiRig> {
  const clock = opts.clock ?? systemClock;
  const w = await planWorld({}, { activities: [activity('files', 'backup', 'HOST', '*')] }, { clock });
  const srcDir = path.join(w.dir, 'src');
  fs.mkdirSync(path.join(srcDir, 'docs'), { recursive: true });
  fs.writeFileSync(path.join(srcDir, 'docs', 'a.txt'), 'hello api\n');
  const host: FilesTarget = {
    kind: 'files',
    name: 'HOST',
    site: null,
    units: { docs: { paths: [path.join(srcDir, 'docs')], exclude: [] } },
  };
  Object.assign(w.config.targets, { HOST: host });
  opts.setup?.(w);
  const core =
    opts.core === false
      ? null
      : new ServerCore({
          config: w.config,
          catalog: w.catalog,
          clock,
          alert: (e) => {
            w.catalog.alerts().record(e);
          },
          log: () => {},
          pollMs: 5,
          sweepMs: 3_600_000,
        });
  if (core) await core.start();
  const audits: AuditEntry[] = [];
  const logs: Record<string, unknown>[] = [];
  const app = await buildApiApp({
    core,
    catalog: w.catalog,
    config: w.config,
    auth: new FixedAuthenticator(),
    audit: (e) => {
      audits.push(e);
    },
    metrics: opts.metrics ?? { enabled: true, protect: false },
    log: (l) => {
      logs.push(l as Record<string, unknown>);
    },
    clock,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const a = app.server.address() as AddressInfo;
  const base = `http://127.0.0.1:${a.port}`;
  const auth = (role: Role | null | undefined): Record<string, string> =>
    role ? { authorization: `Bearer ${TOKENS[role]}` } : {};
  return {
    w,
    app,
    core,
    base,
    audits,
    logs,
    srcDir,
    get: (p, role = 'viewer', init = {}) =>
      fetch(base + p, { ...init, headers: { ...auth(role), ...(init.headers as Record<string, string> | undefined) } }),
    send: (method, p, role, body) =>
      fetch(base + p, {
        method,
        headers: { ...auth(role), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      }),
    async close() {
      await app.close();
      if (core) await core.stop(0);
      await w.close();
    },
  };
}
