// Console sessions over real HTTP with the catalog's real authenticator:
// login sets the HttpOnly/SameSite=Strict cookie (Secure behind https), the
// session route hands back the CSRF token, logout needs it and ends the
// session, wrong credentials are one 401, throttling is 429 with Retry-After
// (also for a login racing the check of another for the same name),
// and login/logout land in the catalog's audit log without passwords.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../src/core/clock.ts';
import { buildApiApp } from '../src/api/http/app.ts';
import type { ApiApp } from '../src/api/http/app.ts';
import { auditTo, createAuthenticator, hashPassword } from '../src/api/auth/index.ts';
import { activity, planWorld } from './helpers/plan-fixtures.ts';
import type { PlanWorld } from './helpers/plan-fixtures.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('console sessions: /api/login, /api/session, /api/logout', () => {
  let w: PlanWorld;
  let app: ApiApp;
  let base = '';
  const login = (name: string, password: string, headers: Record<string, string> = {}) =>
    fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ name, password }),
    });
  const cookieOf = (res: Response) =>
    /^safehold_session=([^;]*)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? null;

  before(async () => {
    w = await planWorld({}, { activities: [activity('noop', 'purge', 'NONE*', null)] });
    w.catalog.users().add({ name: 'alice', role: 'operator', passwordHash: await hashPassword('correct horse') });
    w.catalog.users().add({ name: 'carol', role: 'viewer', passwordHash: await hashPassword('carol pass 1') });
    app = await buildApiApp({
      core: null,
      catalog: w.catalog,
      config: w.config,
      auth: createAuthenticator(w.catalog, systemClock),
      audit: auditTo(w.catalog),
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

  it('login sets the session cookie and returns user, role, csrf and expiry; the session route and logout use it', async () => {
    const res = await login('alice', 'correct horse');
    assert.equal(res.status, 200);
    const body = (await res.json()) as Json;
    assert.deepEqual([body.user, body.role], ['alice', 'operator']);
    assert.match(body.csrf, /^[A-Za-z0-9_-]{43}$/);
    assert.ok(body.expiresAt > Date.now() + 6 * 86_400_000);
    const setCookie = res.headers.get('set-cookie')!;
    assert.match(setCookie, /^safehold_session=[A-Za-z0-9_-]{43}; Max-Age=604800; Path=\/; HttpOnly; SameSite=Strict$/);
    const sid = cookieOf(res)!;
    const cookie = { cookie: `safehold_session=${sid}` };

    const s = await fetch(`${base}/api/session`, { headers: cookie });
    assert.equal(s.status, 200);
    assert.deepEqual(await s.json(), { user: 'alice', role: 'operator', csrf: body.csrf });
    assert.equal(
      (await fetch(`${base}/api/plans`, { headers: cookie })).status,
      200,
      'the cookie authenticates API reads',
    );

    const noCsrf = await fetch(`${base}/api/logout`, { method: 'POST', headers: cookie });
    assert.equal(noCsrf.status, 403);
    assert.equal(((await noCsrf.json()) as Json).error.code, 'CSRF');
    const out = await fetch(`${base}/api/logout`, {
      method: 'POST',
      headers: { ...cookie, 'x-csrf-token': body.csrf },
    });
    assert.equal(out.status, 200);
    assert.deepEqual(await out.json(), { ok: true });
    assert.match(
      out.headers.get('set-cookie')!,
      /^safehold_session=; Max-Age=0; Path=\/; Expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; SameSite=Strict$/,
    );
    const gone = await fetch(`${base}/api/session`, { headers: cookie });
    assert.equal(gone.status, 401, 'the session ended on the server, not only in the browser');
    await gone.text();

    const audit = w.catalog
      .audit()
      .list({ limit: 3 })
      .reverse()
      .map((a) => [a.method, a.path, a.status, a.principal, a.detail]);
    assert.deepEqual(audit, [
      ['POST', '/api/login', 200, null, 'login alice (operator)'],
      ['POST', '/api/logout', 403, 'alice', null],
      ['POST', '/api/logout', 200, 'alice', 'logout alice'],
    ]);
  });

  it('the cookie is Secure when the request came through an https proxy', async () => {
    const res = await login('carol', 'carol pass 1', { 'x-forwarded-proto': 'https' });
    assert.equal(res.status, 200);
    await res.text();
    assert.match(res.headers.get('set-cookie')!, /; HttpOnly; Secure; SameSite=Strict$/);
  });

  it('a wrong password, an unknown user and a missing field: one 401 message, or a 400', async () => {
    const wrong = await login('alice', 'wrong password');
    const unknown = await login('mallory', 'whatever1');
    for (const r of [wrong, unknown]) {
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('set-cookie'), null);
      const b = (await r.json()) as Json;
      assert.deepEqual([b.error.code, b.error.message], ['UNAUTHORIZED', 'wrong user name or password']);
    }
    const bad = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'alice' }),
    });
    assert.equal(bad.status, 400);
    await bad.text();
    const a = w.catalog.audit().list({ limit: 1 })[0]!;
    assert.deepEqual([a.path, a.status, a.principal], ['/api/login', 400, null]);
    const details = w.catalog
      .audit()
      .list({ limit: 3 })
      .map((x) => x.detail ?? '');
    assert.ok(
      !details.some((d) => d.includes('wrong password') || d.includes('whatever1')),
      'passwords never reach the audit log',
    );
  });

  it('five failures lock the name: 429 with Retry-After, even with the right password', async () => {
    for (let i = 0; i < 4; i++) {
      const r = await login('carol', `bad ${i}xxxxx`);
      assert.equal(r.status, 401, `failure ${i + 1}`);
      await r.text();
    }
    const fifth = await login('carol', 'bad 5xxxxx');
    assert.equal(fifth.status, 429);
    assert.equal(fifth.headers.get('retry-after'), '900');
    assert.equal(((await fifth.json()) as Json).error.code, 'LOCKED');
    const right = await login('carol', 'carol pass 1');
    assert.equal(right.status, 429);
    assert.ok(Number(right.headers.get('retry-after')) > 890);
    await right.text();
    assert.equal(w.catalog.audit().list({ limit: 1 })[0]!.detail, 'login refused for carol: throttled');
  });

  it('the right password racing the failure that locks the name gets 429, never 200: one check per name at a time', async () => {
    w.catalog.users().add({ name: 'dave', role: 'viewer', passwordHash: await hashPassword('dave pass 12') });
    for (let i = 0; i < 4; i++) {
      const r = await login('dave', `bad ${i}xxxxx`);
      assert.equal(r.status, 401, `failure ${i + 1}`);
      await r.text();
    }
    // The fifth failure and the right password race: whichever is checked first, the other is
    // refused at once (one check per name at a time). What must never happen is the old bug:
    // both checked, the fifth locking dave and the right password still getting in.
    const [fifth, right] = await Promise.all([login('dave', 'bad 4xxxxx'), login('dave', 'dave pass 12')]);
    const retry = (r: Response) => r.headers.get('retry-after');
    if (right.status === 200) {
      assert.deepEqual(
        [fifth.status, retry(fifth)],
        [429, '1'],
        'the right password won the race: the fifth was refused, not counted',
      );
    } else {
      assert.equal(right.status, 429);
      assert.equal(((await right.json()) as Json).error.code, 'LOCKED');
      assert.deepEqual([fifth.status, retry(fifth)], [429, '900'], 'the fifth failure locked dave');
      const later = await login('dave', 'dave pass 12');
      assert.equal(later.status, 429, 'dave stays locked');
      await later.text();
    }
    await fifth.text();
    await right.text().catch(() => {});
  });

  it('GET /api/session and POST /api/logout without a session are 401', async () => {
    for (const [m, p] of [
      ['GET', '/api/session'],
      ['POST', '/api/logout'],
    ] as const) {
      const r = await fetch(`${base}${p}`, { method: m });
      assert.equal(r.status, 401, `${m} ${p}`);
      await r.text();
    }
  });
});
