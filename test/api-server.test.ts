// The wiring of the REST API into the server's control server: --listen
// serves the Fastify app with the catalog's real token authenticator and
// audit log, next to the unchanged unix control socket.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { systemClock } from '../src/core/clock.ts';
import { ServerCore } from '../src/scheduler/server-core.ts';
import { startControlServer } from '../src/api/control-server.ts';
import { createToken } from '../src/api/auth/index.ts';
import { activity, planWorld } from './helpers/plan-fixtures.ts';

it('startControlServer with listen serves the API with catalog tokens, audits to the catalog, and keeps the socket', async (t) => {
  const w = await planWorld({}, { activities: [activity('noop', 'purge', 'NONE*', null)] });
  const core = new ServerCore({
    config: w.config,
    catalog: w.catalog,
    clock: systemClock,
    alert: () => {},
    log: () => {},
    sweepMs: 3_600_000,
  });
  const lines: object[] = [];
  const cs = await startControlServer(core, w.catalog, {
    socketPath: path.join(w.dir, 's.sock'),
    listen: { host: '127.0.0.1', port: 0 },
    api: { clock: systemClock, log: (l) => lines.push(l) },
  });
  t.after(async () => {
    await cs.close();
    await core.stop(0);
    await w.close();
  });
  const base = `http://${cs.listening}`;
  assert.equal((await fetch(`${base}/api/health`)).status, 200);
  assert.equal((await fetch(`${base}/api/status`)).status, 401);
  const { token } = createToken(w.catalog, { role: 'viewer', createdBy: 'test' });
  const st = await fetch(`${base}/api/status`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(st.status, 200);
  assert.equal(((await st.json()) as { pid: number }).pid, process.pid);
  const refused = await fetch(`${base}/api/plans/nightly/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  assert.equal(refused.status, 403);
  const audit = w.catalog.audit().list({ limit: 10 });
  assert.deepEqual(
    audit.map((a) => [a.method, a.path, a.status, a.role]),
    [['POST', '/api/plans/nightly/run', 403, 'viewer']],
  );
  assert.ok(lines.length >= 4);
});
