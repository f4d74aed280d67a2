// Authentication and roles of the REST API, table-driven from its own
// OpenAPI document: every operation declares x-safehold-role; without
// credentials it is 401 (except the public ones), with a token of a lower
// role 403, with the right role neither. Cookie sessions need their CSRF
// token on state-changing requests. Refusals of state changes are audited.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Role } from '../src/api/auth/types.ts';
import { ROLES } from '../src/api/auth/types.ts';
import { apiRig } from './helpers/api-rig.ts';
import type { ApiRig } from './helpers/api-rig.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PUBLIC = ['getHealth', 'getOpenApi', 'login'];
const SAMPLE: Record<string, string> = { name: 'nightly', id: 'ffffffffffff', scope: 'target%3ANOPE' };

describe('API authentication and roles (from the OpenAPI document)', () => {
  let r: ApiRig;
  const ops: {
    method: string;
    url: string;
    operationId: string;
    role: Role | 'none';
    tags: string[];
    errors: string[];
  }[] = [];
  before(async () => {
    r = await apiRig();
    const doc = (await (await fetch(`${r.base}/api/openapi.json`)).json()) as Json;
    assert.equal(doc.openapi, '3.1.0');
    for (const [p, methods] of Object.entries(doc.paths as Record<string, Json>)) {
      for (const [method, o] of Object.entries(methods)) {
        const url =
          p.replace(/\{(\w+)\}/g, (_, k: string) => SAMPLE[k] ?? 'x') +
          (o.operationId === 'runPlan' ? '?wait=false' : '');
        ops.push({
          method: method.toUpperCase(),
          url,
          operationId: o.operationId,
          role: o['x-safehold-role'],
          tags: o.tags ?? [],
          errors: Object.keys(o.responses ?? {}).filter((c) => c >= '400'),
        });
      }
    }
  });
  after(() => r.close());

  it('every operation has a unique operationId, tags, a role and documented error responses', () => {
    assert.equal(ops.length, 42);
    assert.equal(new Set(ops.map((o) => o.operationId)).size, ops.length);
    for (const o of ops) {
      assert.ok(['none', ...ROLES].includes(o.role), `${o.operationId}: ${o.role}`);
      assert.equal(o.tags.length, 1, o.operationId);
      assert.deepEqual(o.errors, ['400', '401', '403', '404', '409', '500', '503'], o.operationId);
    }
    assert.deepEqual(
      ops
        .filter((o) => o.role === 'none')
        .map((o) => o.operationId)
        .sort(),
      PUBLIC.sort(),
    );
    const roles = Object.fromEntries(ops.map((o) => [o.operationId, o.role]));
    assert.deepEqual(
      [roles.runPlan, roles.restoreGroup, roles.previewGroupRestore, roles.releaseLock, roles.listRuns],
      ['operator', 'operator', 'viewer', 'admin', 'viewer'],
    );
  });

  it('no credentials → 401, a lower role → 403, the right role → neither', async () => {
    const call = (o: (typeof ops)[number], role: Role | null) =>
      r.send(o.method, o.url, role, o.method === 'GET' ? undefined : {});
    for (const o of ops) {
      const anon = await call(o, null);
      const body = (await anon.json()) as Json;
      if (o.role === 'none') {
        // login is public but needs a name and password: {} is a 400, not a 401.
        assert.equal(anon.status, o.operationId === 'login' ? 400 : 200, `${o.operationId} is public`);
        continue;
      }
      assert.equal(anon.status, 401, `${o.operationId} without credentials`);
      assert.equal(body.error.code, 'UNAUTHORIZED');
      assert.equal(anon.headers.get('www-authenticate'), 'Bearer realm="safehold"');
      const bad = await fetch(`${r.base}${o.url}`, { method: o.method, headers: { authorization: 'Bearer wrong' } });
      assert.equal(bad.status, 401, `${o.operationId} with an unknown token`);
      await bad.text();
      for (const lower of ROLES.slice(0, ROLES.indexOf(o.role))) {
        const res = await call(o, lower);
        const b = (await res.json()) as Json;
        assert.equal(res.status, 403, `${o.operationId} as ${lower}`);
        assert.equal(b.error.code, 'FORBIDDEN');
      }
      for (const ok of ROLES.slice(ROLES.indexOf(o.role))) {
        const res = await call(o, ok);
        await res.text();
        assert.ok(res.status !== 401 && res.status !== 403, `${o.operationId} as ${ok}: ${res.status}`);
      }
    }
    await r.core!.whenIdle();
  });

  it('state-changing refusals are audited (anonymous 401s and 403s)', async () => {
    const before = r.audits.length;
    await (await r.send('DELETE', '/api/locks/x', null)).text();
    await (await r.send('DELETE', '/api/locks/x', 'viewer')).text();
    await (await r.send('POST', '/api/plans/nightly/run', 'viewer')).text();
    const got = r.audits.slice(before).map((a) => [a.principal, a.role, a.method, a.path, a.status, a.detail ?? null]);
    assert.deepEqual(got, [
      [null, null, 'DELETE', '/api/locks/x', 401, 'unauthenticated'],
      ['token-viewer', 'viewer', 'DELETE', '/api/locks/x', 403, null],
      ['token-viewer', 'viewer', 'POST', '/api/plans/nightly/run', 403, null],
    ]);
    assert.ok(r.audits.slice(before).every((a) => a.ip === '127.0.0.1' && a.requestId.length > 0 && a.at > 0));
  });

  it('a cookie session reads freely but needs X-CSRF-Token to change state', async () => {
    const cookie = { cookie: 'safehold_session=sess-1' };
    assert.equal((await fetch(`${r.base}/api/locks`, { headers: cookie })).status, 200);
    const noCsrf = await fetch(`${r.base}/api/locks/x`, { method: 'DELETE', headers: cookie });
    assert.equal(noCsrf.status, 403);
    assert.equal(((await noCsrf.json()) as Json).error.code, 'CSRF');
    assert.equal(r.audits.at(-1)!.principal, 'alice');
    const withCsrf = await fetch(`${r.base}/api/locks/x`, {
      method: 'DELETE',
      headers: { ...cookie, 'x-csrf-token': 'csrf-1' },
    });
    assert.equal(withCsrf.status, 404, 'past auth: no such lease');
    await withCsrf.text();
    assert.equal((await fetch(`${r.base}/api/locks`, { headers: { cookie: 'safehold_session=other' } })).status, 401);
  });
});
