// Tests of the authenticator on a real catalog: API tokens (create →
// authenticate → role, revoked, wrong secret, only a hash stored), console
// sessions (login, logout, idle and absolute expiry, throttling, password
// change and removal) with a ManualClock, the CSRF check, and the audit writer.

import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Catalog } from '../../catalog/catalog.ts';
import { ManualClock } from '../../core/clock.ts';
import { isSafeholdError } from '../../core/errors.ts';
import {
  auditTo,
  createAuthenticator,
  createToken,
  hashPassword,
  SESSION_COOKIE,
  sessionCookieOptions,
} from './index.ts';
import type { AuthRequest } from './index.ts';

const T0 = Date.UTC(2026, 10, 25, 9, 0);
const HOUR = 3600_000;
const CHEAP = { log2N: 10, r: 8, p: 1 };

function setup(t: TestContext) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-auth-'));
  const clock = new ManualClock(T0);
  const catalog = Catalog.open(dir, clock);
  t.after(() => {
    catalog.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { dir, clock, catalog, auth: createAuthenticator(catalog, clock) };
}

const bearer = (token: string): AuthRequest => ({ headers: { authorization: `Bearer ${token}` }, cookies: {} });
const cookie = (sessionId: string, csrf?: string): AuthRequest => ({
  headers: csrf === undefined ? {} : { 'x-csrf-token': csrf },
  cookies: { [SESSION_COOKIE]: sessionId },
});

async function addUser(catalog: Catalog, name: string, role: 'viewer' | 'operator' | 'admin', password: string) {
  catalog.users().add({ name, role, passwordHash: await hashPassword(password, CHEAP) });
}

test('tokens: created token authenticates with its role; wrong secret, other forms, revoked → null', async (t) => {
  const { catalog, auth, clock } = setup(t);
  const { token, info } = createToken(catalog, { role: 'operator', name: 'ci', createdBy: 'test' });
  assert.match(token, /^shk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  assert.equal(token.slice(4, 20), info.id);
  assert.deepEqual(await auth.authenticate(bearer(token)), {
    kind: 'token',
    id: info.id,
    name: 'ci',
    role: 'operator',
  });
  assert.deepEqual(
    await auth.authenticate({ headers: { Authorization: `bearer  ${token}` }, cookies: {} }),
    { kind: 'token', id: info.id, name: 'ci', role: 'operator' },
    'scheme and header name in any case',
  );
  assert.equal(catalog.tokens().get(info.id)?.lastUsedAt, T0);

  const secret = token.slice(21);
  const flipped = secret[0] === 'A' ? `B${secret.slice(1)}` : `A${secret.slice(1)}`;
  assert.equal(await auth.authenticate(bearer(`shk_${info.id}_${flipped}`)), null, 'wrong secret');
  assert.equal(await auth.authenticate(bearer(`shk_${'0'.repeat(16)}_${secret}`)), null, 'unknown id');
  assert.equal(await auth.authenticate(bearer(token.slice(0, -1))), null, 'truncated');
  assert.equal(
    await auth.authenticate({ headers: { authorization: `Basic ${token}` }, cookies: {} }),
    null,
    'not Bearer',
  );
  assert.equal(
    await auth.authenticate({ headers: { authorization: [`Bearer ${token}`, `Bearer ${token}`] }, cookies: {} }),
    null,
    'repeated header',
  );
  assert.equal(await auth.authenticate({ headers: {}, cookies: {} }), null, 'no credentials');

  clock.set(T0 + 5);
  catalog.tokens().revoke(info.id);
  assert.equal(await auth.authenticate(bearer(token)), null, 'revoked');
  const other = createToken(catalog, { role: 'admin', createdBy: 'test' });
  assert.equal((await auth.authenticate(bearer(other.token)))?.role, 'admin');
  assert.equal(other.info.name, 'admin token', 'default name');
  assert.throws(
    () => createToken(catalog, { role: 'viewer', name: '', createdBy: 'x' }),
    (e) => isSafeholdError(e, 'USAGE'),
  );
});

test('tokens: the catalog file holds only the SHA-256 of the secret, never the token', async (t) => {
  const { dir, catalog } = setup(t);
  const { token, info } = createToken(catalog, { role: 'viewer', createdBy: 'test' });
  const secret = token.slice(21);
  const db = new DatabaseSync(path.join(dir, 'catalog.db'));
  t.after(() => db.close());
  const row = db.prepare('SELECT * FROM api_tokens WHERE id = ?').get(info.id) as Record<string, unknown>;
  const { createHash } = await import('node:crypto');
  assert.equal(row.hash, createHash('sha256').update(secret).digest('hex'));
  for (const v of Object.values(row)) assert.ok(!String(v).includes(secret), `column value ${v} holds the secret`);
  // Nor anywhere in the database file or its WAL.
  for (const f of fs.readdirSync(dir).filter((n) => n.startsWith('catalog.db'))) {
    assert.ok(!fs.readFileSync(path.join(dir, f)).includes(secret), `${f} holds the secret`);
  }
});

test('sessions: login gives a cookie session with the user role and a CSRF token; logout ends it', async (t) => {
  const { dir, catalog, auth } = setup(t);
  await addUser(catalog, 'alice', 'operator', 'alice-password');
  const s = await auth.login('alice', 'alice-password', '10.0.0.7');
  assert.match(s.sessionId, /^[A-Za-z0-9_-]{43}$/);
  assert.deepEqual(
    { user: s.user, role: s.role, expiresAt: s.expiresAt },
    { user: 'alice', role: 'operator', expiresAt: T0 + 7 * 24 * HOUR },
  );
  const p = await auth.authenticate(cookie(s.sessionId));
  assert.deepEqual(p, { kind: 'user', id: 'alice', name: 'alice', role: 'operator', csrf: s.csrf });

  const stored = catalog.sessions().list();
  assert.equal(stored.length, 1);
  assert.equal(stored[0]!.ip, '10.0.0.7');
  assert.notEqual(stored[0]!.id, s.sessionId);
  assert.notEqual(stored[0]!.csrf, s.csrf);
  for (const f of fs.readdirSync(dir).filter((n) => n.startsWith('catalog.db'))) {
    const bytes = fs.readFileSync(path.join(dir, f));
    assert.ok(!bytes.includes(s.sessionId) && !bytes.includes(s.csrf), `${f} holds the session id or CSRF token`);
  }

  catalog.users().setRole('alice', 'admin');
  assert.equal((await auth.authenticate(cookie(s.sessionId)))?.role, 'admin', 'the role is read on every request');
  assert.equal(await auth.authenticate(cookie('x'.repeat(43))), null, 'unknown session');
  assert.equal(await auth.authenticate(cookie('short')), null);
  assert.equal(auth.logout(s.sessionId), true);
  assert.equal(auth.logout(s.sessionId), false);
  assert.equal(await auth.authenticate(cookie(s.sessionId)), null, 'after logout');
});

test('sessions: a wrong password, an unknown user and a disabled user all fail alike', async (t) => {
  const { dir, catalog, auth } = setup(t);
  await addUser(catalog, 'alice', 'viewer', 'alice-password');
  await assert.rejects(
    auth.login('alice', 'wrong-password', null),
    (e) => isSafeholdError(e, 'WRONG_PASSWORD') && e.message === 'wrong user name or password',
  );
  await assert.rejects(
    auth.login('nobody', 'alice-password', null),
    (e) => isSafeholdError(e, 'WRONG_PASSWORD') && e.message === 'wrong user name or password',
  );
  const s = await auth.login('alice', 'alice-password', null);
  const db = new DatabaseSync(path.join(dir, 'catalog.db'));
  t.after(() => db.close());
  db.exec('PRAGMA busy_timeout = 5000');
  db.prepare('UPDATE users SET disabled_at = ? WHERE name = ?').run(T0, 'alice');
  assert.equal(await auth.authenticate(cookie(s.sessionId)), null, 'a disabled user has no session');
  await assert.rejects(auth.login('alice', 'alice-password', null), (e) => isSafeholdError(e, 'WRONG_PASSWORD'));
});

test('sessions: end after 12 h idle, or 7 days after login however active', async (t) => {
  const { catalog, auth, clock } = setup(t);
  await addUser(catalog, 'alice', 'viewer', 'alice-password');
  const idle = await auth.login('alice', 'alice-password', null);
  await clock.advance(12 * HOUR - 1);
  assert.ok(await auth.authenticate(cookie(idle.sessionId)), 'just under 12 h idle');
  await clock.advance(12 * HOUR - 1);
  assert.ok(await auth.authenticate(cookie(idle.sessionId)), 'each request restarts the idle time');
  await clock.advance(12 * HOUR);
  assert.equal(await auth.authenticate(cookie(idle.sessionId)), null, '12 h idle');
  assert.equal(catalog.sessions().list().length, 0, 'and the row is gone');

  const busy = await auth.login('alice', 'alice-password', null);
  for (let h = 0; h < 7 * 24 - 1; h += 11) {
    assert.ok(await auth.authenticate(cookie(busy.sessionId)), `active at ${h} h`);
    await clock.advance(11 * HOUR);
  }
  clock.set(busy.expiresAt - 1);
  assert.ok(await auth.authenticate(cookie(busy.sessionId)));
  clock.set(busy.expiresAt);
  assert.equal(await auth.authenticate(cookie(busy.sessionId)), null, '7 days after login');
});

test('sessions: a password change or removing the user ends their sessions', async (t) => {
  const { catalog, auth } = setup(t);
  await addUser(catalog, 'alice', 'viewer', 'alice-password');
  const a = await auth.login('alice', 'alice-password', null);
  catalog.users().setPassword('alice', await hashPassword('new-password', CHEAP));
  assert.equal(await auth.authenticate(cookie(a.sessionId)), null);
  await assert.rejects(auth.login('alice', 'alice-password', null), (e) => isSafeholdError(e, 'WRONG_PASSWORD'));
  const b = await auth.login('alice', 'new-password', null);
  catalog.users().remove('alice');
  assert.equal(await auth.authenticate(cookie(b.sessionId)), null);
});

test('throttling: 5 failures within 15 min lock the name for 15 min, even for the right password', async (t) => {
  const { catalog, auth, clock } = setup(t);
  await addUser(catalog, 'alice', 'viewer', 'alice-password');
  await addUser(catalog, 'bob', 'viewer', 'bob-password');
  const fail = () =>
    assert.rejects(auth.login('alice', 'nope-nope', null), (e) => isSafeholdError(e, 'WRONG_PASSWORD'));
  // 4 failures, then the first one leaves the 15-minute window: still not locked.
  await fail();
  await clock.advance(10 * 60_000);
  await fail();
  await fail();
  await fail();
  await clock.advance(5 * 60_000);
  await fail();
  const s = await auth.login('alice', 'alice-password', null);
  assert.ok(s.sessionId, 'the success forgot the failures');
  for (let i = 0; i < 4; i++) await fail();
  await assert.rejects(
    auth.login('alice', 'nope-nope', null),
    (e) =>
      isSafeholdError(e, 'LOCKED') &&
      e.retryable &&
      (e.details as { retryAfterMs: number }).retryAfterMs === 15 * 60_000,
    'the fifth failure locks',
  );
  await clock.advance(14 * 60_000);
  await assert.rejects(
    auth.login('alice', 'alice-password', null),
    (e) =>
      isSafeholdError(e, 'LOCKED') &&
      /try again in 1 min/.test(e.message) &&
      (e.details as { retryAfterMs: number }).retryAfterMs === 60_000,
  );
  assert.ok(await auth.login('bob', 'bob-password', null), 'other names are not locked');
  await assert.rejects(auth.login('ghost', 'x', null), (e) => isSafeholdError(e, 'WRONG_PASSWORD'));
  await clock.advance(60_000);
  assert.equal((await auth.login('alice', 'alice-password', null)).user, 'alice', 'after 15 min');
});

test('CSRF: cookie principals need X-CSRF-Token equal to their session token; token principals pass', async (t) => {
  const { catalog, auth } = setup(t);
  await addUser(catalog, 'alice', 'admin', 'alice-password');
  const s = await auth.login('alice', 'alice-password', null);
  const other = await auth.login('alice', 'alice-password', null);
  assert.notEqual(s.csrf, other.csrf);
  const p = (await auth.authenticate(cookie(s.sessionId)))!;
  assert.equal(auth.checkCsrf(p, cookie(s.sessionId, s.csrf)), true);
  assert.equal(
    auth.checkCsrf(p, { headers: { 'X-CSRF-Token': s.csrf }, cookies: {} }),
    true,
    'header name in any case',
  );
  assert.equal(auth.checkCsrf(p, cookie(s.sessionId)), false, 'missing');
  assert.equal(auth.checkCsrf(p, cookie(s.sessionId, other.csrf)), false, "another session's token");
  assert.equal(auth.checkCsrf(p, cookie(s.sessionId, s.csrf.slice(0, -1))), false, 'truncated');
  assert.equal(auth.checkCsrf(p, cookie(s.sessionId, '')), false, 'empty');
  assert.equal(auth.checkCsrf(p, { headers: { 'x-csrf-token': [s.csrf, s.csrf] }, cookies: {} }), false, 'repeated');
  const tok = (await auth.authenticate(bearer(createToken(catalog, { role: 'admin', createdBy: 't' }).token)))!;
  assert.equal(auth.checkCsrf(tok, { headers: {}, cookies: {} }), true);
  // A bad Authorization header is not rescued by a good cookie.
  assert.equal(
    await auth.authenticate({
      headers: { authorization: 'Bearer shk_bad' },
      cookies: { [SESSION_COOKIE]: s.sessionId },
    }),
    null,
  );
});

test('cookie attributes and the audit writer', (t) => {
  const { catalog, clock } = setup(t);
  assert.deepEqual(sessionCookieOptions(true), {
    httpOnly: true,
    sameSite: 'strict',
    secure: true,
    path: '/',
    maxAge: 7 * 24 * 3600,
  });
  assert.equal(sessionCookieOptions(false).secure, false);
  const audit = auditTo(catalog);
  clock.set(T0 + 42);
  audit({
    principal: 'alice',
    role: 'admin',
    method: 'DELETE',
    path: '/api/tokens/x',
    status: 204,
    ip: '::1',
    requestId: 'req-1',
  });
  assert.deepEqual(catalog.audit().list(), [
    {
      seq: 1,
      at: T0 + 42,
      principal: 'alice',
      role: 'admin',
      method: 'DELETE',
      path: '/api/tokens/x',
      status: 204,
      ip: '::1',
      requestId: 'req-1',
      detail: null,
    },
  ]);
});
