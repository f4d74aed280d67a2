// Runbook runs hosted by the server (ServerCore + the control server's
// --listen API, as `safehold server` runs them): a stop of the server leaves
// its runs 'interrupted' instead of running on or dying silently; the next
// server resumes them through the API: an approval step (idempotent) waits
// again and an admin's approval finishes the run; a command step that was
// running (not idempotent) is not run twice: resumed, the run waits until an
// operator marks it done (approving it plainly is refused), then goes on.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Role } from '../src/api/auth/types.ts';
import { Catalog } from '../src/catalog/catalog.ts';
import type { Config } from '../src/config/types.ts';
import { loadConfig } from '../src/config/load.ts';
import { systemClock } from '../src/core/clock.ts';
import { ServerCore } from '../src/scheduler/server-core.ts';
import { startControlServer } from '../src/api/control-server.ts';
import type { ControlServer } from '../src/api/control-server.ts';
import { FixedAuthenticator, TOKENS } from './helpers/api-rig.ts';
import { until } from './helpers/wait.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Server {
  core: ServerCore;
  cs: ControlServer;
  base: string;
  stop(): Promise<void>;
}

async function startServer(config: Config, catalog: Catalog, sock: string): Promise<Server> {
  const core = new ServerCore({
    config,
    catalog,
    clock: systemClock,
    alert: () => {},
    log: () => {},
    sweepMs: 3_600_000,
  });
  await core.start();
  const cs = await startControlServer(core, catalog, {
    socketPath: sock,
    listen: { host: '127.0.0.1', port: 0 },
    api: { clock: systemClock, log: () => {}, auth: new FixedAuthenticator(), audit: () => {}, alert: () => {} },
  });
  return {
    core,
    cs,
    base: `http://${cs.listening}`,
    async stop() {
      await core.stop(0);
      await cs.close();
    },
  };
}

async function send(base: string, method: string, p: string, role: Role, body?: unknown) {
  const res = await fetch(base + p, {
    method,
    headers: {
      authorization: `Bearer ${TOKENS[role]}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : null) as Json };
}

describe('runbook runs hosted by the server: stop, then resume through the API', () => {
  let dir = '';
  let catalog: Catalog;
  let config: Config;
  let server: Server | null = null;
  const run = (id: string) => send(server!.base, 'GET', `/api/runbook-runs/${id}`, 'viewer');
  const statusIs = async (id: string, status: string) => (await run(id)).body.status === status;

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-api-runbooks-server-'));
    fs.writeFileSync(
      path.join(dir, 'safehold.yaml'),
      `settings: { dataDir: ${dir}/data }
runbooks:
  waiter:
    steps:
      - { name: hold, kind: approval, with: { role: admin } }
      - { name: mark, kind: command, with: { argv: [sh, -c, "echo waited > ${dir}/waited"] } }
  slow:
    steps:
      - { name: slow, kind: command, with: { argv: [sh, -c, "echo started >> ${dir}/slow; sleep 30"] } }
      - { name: done, kind: command, with: { argv: [sh, -c, "echo done > ${dir}/done"] } }
`,
    );
    config = loadConfig(path.join(dir, 'safehold.yaml'), {});
    catalog = Catalog.open(path.join(dir, 'data'));
  });
  after(async () => {
    await server?.stop();
    catalog?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  let waiter = '';
  let slow = '';
  it("a stop of the server leaves its runs 'interrupted'", async () => {
    server = await startServer(config, catalog, path.join(dir, 's1.sock'));
    const a = await send(server.base, 'POST', '/api/runbooks/waiter/runs', 'operator', {});
    const b = await send(server.base, 'POST', '/api/runbooks/slow/runs', 'operator', {});
    assert.deepEqual([a.status, b.status], [202, 202], JSON.stringify([a.body, b.body]));
    waiter = a.body.runId;
    slow = b.body.runId;
    await until(() => statusIs(waiter, 'waiting'), 'the approval waiting', 15_000, 20);
    await until(() => fs.existsSync(path.join(dir, 'slow')), 'the slow command started', 15_000, 20);
    await server.stop();
    server = null;
    const store = catalog.runbookRuns();
    assert.equal(store.get(waiter)?.status, 'interrupted');
    assert.equal(store.get(slow)?.status, 'interrupted');
    assert.equal(fs.existsSync(path.join(dir, 'done')), false);
  });

  it('the next server resumes an approval step: it waits again, and an admin approves it', async () => {
    server = await startServer(config, catalog, path.join(dir, 's2.sock'));
    const r = await send(server.base, 'POST', `/api/runbook-runs/${waiter}/resume`, 'operator');
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.equal(r.body.runId, waiter);
    await until(() => statusIs(waiter, 'waiting'), 'the approval waiting again', 15_000, 20);
    const twice = await send(server.base, 'POST', `/api/runbook-runs/${waiter}/resume`, 'operator');
    assert.equal(twice.status, 409, 'a run going in this server is not resumed twice');
    const ok = await send(server.base, 'POST', `/api/runbook-runs/${waiter}/steps/hold/approve`, 'admin');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    await until(() => statusIs(waiter, 'succeeded'), 'the run succeeding', 15_000, 20);
    assert.equal(fs.readFileSync(path.join(dir, 'waited'), 'utf8'), 'waited\n');
  });

  it('an interrupted command is not run twice: it waits until an operator marks it done', async () => {
    const r = await send(server!.base, 'POST', `/api/runbook-runs/${slow}/resume`, 'operator');
    assert.equal(r.status, 202, JSON.stringify(r.body));
    let v: Json = {};
    await until(
      async () => {
        v = (await run(slow)).body;
        return v.steps.some((s: Json) => s.name === 'slow' && s.status === 'interrupted' && s.approval) === true;
      },
      'the interrupted step waiting for a decision',
      15_000,
      20,
    );
    assert.deepEqual(v.steps.find((s: Json) => s.name === 'slow').approval, { role: 'operator', needsConfirm: false });
    const plain = await send(server!.base, 'POST', `/api/runbook-runs/${slow}/steps/slow/approve`, 'operator', {});
    assert.equal(plain.status, 409, 'a plain approval is not a rerun');
    const viewer = await send(server!.base, 'POST', `/api/runbook-runs/${slow}/steps/slow/approve`, 'viewer', {
      action: 'mark-done',
    });
    assert.equal(viewer.status, 403);
    const done = await send(server!.base, 'POST', `/api/runbook-runs/${slow}/steps/slow/approve`, 'operator', {
      action: 'mark-done',
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    await until(() => statusIs(slow, 'succeeded'), 'the run succeeding', 15_000, 20);
    assert.equal(fs.readFileSync(path.join(dir, 'slow'), 'utf8'), 'started\n', 'the slow command ran once');
    assert.equal(fs.readFileSync(path.join(dir, 'done'), 'utf8'), 'done\n');
  });
});
