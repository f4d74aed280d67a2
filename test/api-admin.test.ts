// Admin endpoints over real HTTP with the real authenticator of the catalog:
// the configuration without any secret value, token listing without
// secrets, a token created through the API that works at once and stops
// working (401) when revoked; audited; admin only.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { buildApiApp } from '../src/api/http/app.ts';
import type { ApiApp, AuditEntry } from '../src/api/http/app.ts';
import { systemClock } from '../src/core/clock.ts';
import { createAuthenticator, createToken } from '../src/api/auth/index.ts';
import { activity, PASSWORD, planWorld } from './helpers/plan-fixtures.ts';
import type { PlanWorld } from './helpers/plan-fixtures.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('admin endpoints: config and tokens', () => {
  let w: PlanWorld;
  let app: ApiApp;
  let base: string;
  let admin: string;
  let operatorToken: string;
  const audits: AuditEntry[] = [];
  const call = async (
    method: string,
    p: string,
    token: string | null,
    body?: unknown,
  ): Promise<{ status: number; text: string; json: Json }> => {
    const res = await fetch(base + p, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, text, json: JSON.parse(text) as Json };
  };

  before(async () => {
    w = await planWorld({}, { activities: [activity('files', 'backup', 'HOST', '*')] });
    admin = createToken(w.catalog, { role: 'admin', name: 'root', createdBy: 'test' }).token;
    operatorToken = createToken(w.catalog, { role: 'operator', createdBy: 'test' }).token;
    app = await buildApiApp({
      core: null,
      catalog: w.catalog,
      config: w.config,
      auth: createAuthenticator(w.catalog),
      audit: (e) => {
        audits.push(e);
      },
      metrics: { enabled: false, protect: false },
      log: () => {},
      clock: systemClock,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    await w.close();
  });

  it('GET /api/config: the compiled config with secrets redacted; admin only', async () => {
    const r = await call('GET', '/api/config', admin);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.text.includes(PASSWORD), false, 'the repository password must not appear');
    assert.equal(r.json.destinations.local.password, '***(inline)');
    assert.equal(r.json.destinations.local.path, w.repoPath);
    assert.deepEqual(Object.keys(r.json.plans), ['nightly']);
    assert.equal((await call('GET', '/api/config', operatorToken)).status, 403);
    assert.equal((await call('GET', '/api/config', null)).status, 401);
  });

  it('POST /api/tokens creates a token shown once; it works for a viewer route; listed without secrets', async () => {
    const r = await call('POST', '/api/tokens', admin, { role: 'viewer', name: 'grafana' });
    assert.equal(r.status, 200, r.text);
    assert.match(r.json.token, /^shk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual([r.json.info.role, r.json.info.name, r.json.info.revokedAt], ['viewer', 'grafana', null]);
    assert.equal(r.json.token.slice(4, 20), r.json.info.id);
    const a = audits.at(-1)!;
    assert.deepEqual(
      [a.method, a.path, a.status, a.detail],
      ['POST', '/api/tokens', 200, `token ${r.json.info.id} created (viewer, grafana)`],
    );
    assert.equal(JSON.stringify(audits).includes(r.json.token), false, 'the token text is not audited');

    const runs = await call('GET', '/api/runs', r.json.token);
    assert.equal(runs.status, 200, runs.text);
    assert.equal((await call('GET', '/api/tokens', r.json.token)).status, 403, 'a viewer token is not an admin');

    const list = await call('GET', '/api/tokens', admin);
    assert.equal(list.status, 200, list.text);
    assert.deepEqual(list.json.items.map((t: Json) => [t.name, t.role]).sort(), [
      ['grafana', 'viewer'],
      ['operator token', 'operator'],
      ['root', 'admin'],
    ]);
    const secret = r.json.token.slice(21);
    assert.equal(list.text.includes(secret), false);
    assert.equal(list.text.includes('hash'), false);
  });

  it('DELETE /api/tokens/:id revokes: the token gets 401 at once; unknown id 404; bad body 400', async () => {
    const r = await call('POST', '/api/tokens', admin, { role: 'operator' });
    assert.equal(r.status, 200, r.text);
    assert.equal((await call('GET', '/api/runs', r.json.token)).status, 200);
    const del = await call('DELETE', `/api/tokens/${r.json.info.id}`, admin);
    assert.equal(del.status, 200, del.text);
    assert.equal(del.json.id, r.json.info.id);
    assert.equal(typeof del.json.revokedAt, 'number');
    assert.equal(audits.at(-1)!.detail, `token ${r.json.info.id} revoked (operator, operator token)`);
    const after = await call('GET', '/api/runs', r.json.token);
    assert.equal(after.status, 401);
    assert.equal(after.json.error.code, 'UNAUTHORIZED');
    assert.equal((await call('DELETE', '/api/tokens/ffffffffffffffff', admin)).json.error.code, 'NOT_FOUND');
    const bad = await call('POST', '/api/tokens', admin, { role: 'root' });
    assert.deepEqual([bad.status, bad.json.error.code], [400, 'USAGE']);
    assert.equal(
      (await call('POST', '/api/tokens', operatorToken, { role: 'admin' })).status,
      403,
      'an operator cannot mint tokens',
    );
  });
});
