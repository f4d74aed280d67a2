// Tests of the catalog's auth stores (migration 007): API tokens, users,
// sessions and the audit log, on a real catalog in a temp dir with a
// ManualClock.

import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from './catalog.ts';
import { ManualClock } from '../core/clock.ts';
import { isSafeholdError } from '../core/errors.ts';

const T0 = Date.UTC(2026, 10, 25, 9, 0);

function setup(t: TestContext) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-auth-stores-'));
  const clock = new ManualClock(T0);
  const catalog = Catalog.open(dir, clock);
  t.after(() => {
    catalog.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return { clock, catalog };
}

test('tokens: add, get with hash, list without hash, touch, revoke once, unknown ids', (t) => {
  const { clock, catalog } = setup(t);
  const tokens = catalog.tokens();
  const info = tokens.add({ id: 'a1', name: 'ci', role: 'operator', hash: 'ab'.repeat(32), createdBy: 'cli:root' });
  assert.deepEqual(info, {
    id: 'a1',
    name: 'ci',
    role: 'operator',
    createdAt: T0,
    createdBy: 'cli:root',
    lastUsedAt: null,
    revokedAt: null,
  });
  assert.throws(
    () => tokens.add({ id: 'a1', name: 'x', role: 'viewer', hash: 'cd', createdBy: 'x' }),
    (e) => isSafeholdError(e, 'USAGE'),
  );
  assert.equal(tokens.get('a1')?.hash, 'ab'.repeat(32));
  assert.deepEqual(tokens.list(), [info]);
  assert.ok(!('hash' in tokens.list()[0]!));
  tokens.touch('a1', T0 + 5);
  clock.set(T0 + 10);
  assert.deepEqual(tokens.revoke('a1'), { ...info, lastUsedAt: T0 + 5, revokedAt: T0 + 10 });
  clock.set(T0 + 20);
  assert.equal(tokens.revoke('a1').revokedAt, T0 + 10, 'revoking again keeps the first time');
  assert.throws(
    () => tokens.revoke('nope'),
    (e) => isSafeholdError(e, 'NOT_FOUND'),
  );
  assert.equal(tokens.get('nope'), undefined);
  assert.throws(
    () => tokens.add({ id: 'b', name: 'x', role: 'root' as 'admin', hash: 'cd', createdBy: 'x' }),
    (e) => isSafeholdError(e, 'IO'),
    'the CHECK constraint holds roles',
  );
});

test('users: add, names checked, list, password change ends sessions, role change, remove cascades', (t) => {
  const { catalog } = setup(t);
  const users = catalog.users();
  const sessions = catalog.sessions();
  assert.deepEqual(users.add({ name: 'alice', role: 'admin', passwordHash: 'h1' }), {
    name: 'alice',
    role: 'admin',
    createdAt: T0,
    disabledAt: null,
  });
  users.add({ name: 'bob.ops', role: 'viewer', passwordHash: 'h2' });
  assert.throws(
    () => users.add({ name: 'alice', role: 'viewer', passwordHash: 'h' }),
    (e) => isSafeholdError(e, 'USAGE') && /already exists/.test(e.message),
  );
  for (const bad of ['', '-x', 'a b', 'x/y', 'a'.repeat(65)]) {
    assert.throws(
      () => users.add({ name: bad, role: 'viewer', passwordHash: 'h' }),
      (e) => isSafeholdError(e, 'USAGE'),
      bad,
    );
  }
  assert.deepEqual(
    users.list().map((u) => [u.name, u.role]),
    [
      ['alice', 'admin'],
      ['bob.ops', 'viewer'],
    ],
  );
  assert.ok(!('passwordHash' in users.list()[0]!));

  const sess = (id: string, user: string) => ({
    id,
    user,
    csrf: 'c',
    createdAt: T0,
    expiresAt: T0 + 1000,
    lastSeenAt: T0,
    ip: '127.0.0.1',
  });
  sessions.add(sess('s1', 'alice'));
  sessions.add(sess('s2', 'bob.ops'));
  users.setPassword('alice', 'h3');
  assert.equal(users.get('alice')?.passwordHash, 'h3');
  assert.deepEqual(
    sessions.list().map((s) => s.id),
    ['s2'],
    "alice's session ended with the password change",
  );
  users.setRole('bob.ops', 'operator');
  assert.equal(users.get('bob.ops')?.role, 'operator');
  users.remove('bob.ops');
  assert.equal(users.get('bob.ops'), undefined);
  assert.deepEqual(sessions.list(), []);
  assert.throws(
    () => users.remove('bob.ops'),
    (e) => isSafeholdError(e, 'NOT_FOUND'),
  );
  assert.throws(
    () => users.setPassword('ghost', 'h'),
    (e) => isSafeholdError(e, 'NOT_FOUND'),
  );
  assert.throws(
    () => users.setRole('ghost', 'admin'),
    (e) => isSafeholdError(e, 'NOT_FOUND'),
  );
});

test('sessions: add, get, touch, delete, purge by absolute and idle expiry; a session needs a user', (t) => {
  const { catalog } = setup(t);
  catalog.users().add({ name: 'alice', role: 'viewer', passwordHash: 'h' });
  const s = catalog.sessions();
  const rec = { id: 'k1', user: 'alice', csrf: 'c1', createdAt: T0, expiresAt: T0 + 100, lastSeenAt: T0, ip: null };
  s.add(rec);
  s.add({ ...rec, id: 'k2', expiresAt: T0 + 1000, lastSeenAt: T0 + 50 });
  s.add({ ...rec, id: 'k3', expiresAt: T0 + 1000, lastSeenAt: T0 + 500 });
  assert.deepEqual(s.get('k1'), rec);
  s.touch('k1', T0 + 7);
  assert.equal(s.get('k1')?.lastSeenAt, T0 + 7);
  // now = T0+100 ends k1 (absolute); idle before T0+60 ends k2; k3 stays.
  assert.equal(s.purge(T0 + 100, T0 + 60), 2);
  assert.deepEqual(
    s.list().map((x) => x.id),
    ['k3'],
  );
  assert.equal(s.delete('k3'), true);
  assert.equal(s.delete('k3'), false);
  assert.throws(
    () => s.add({ ...rec, id: 'k4', user: 'ghost' }),
    (e) => isSafeholdError(e, 'IO'),
    'foreign key to users',
  );
});

test('audit log: entries numbered in order, listed newest first with limit and before', (t) => {
  const { clock, catalog } = setup(t);
  const audit = catalog.audit();
  const base = {
    principal: 'alice',
    role: 'admin',
    method: 'POST',
    path: '/api/plans/x/run',
    status: 202,
    ip: '127.0.0.1',
    requestId: 'r1',
  };
  assert.equal(audit.record(base), 1);
  clock.set(T0 + 1);
  assert.equal(
    audit.record({ ...base, principal: null, role: null, status: 401, requestId: 'r2', detail: 'no credentials' }),
    2,
  );
  assert.equal(audit.record({ ...base, at: T0 + 99, requestId: 'r3' }), 3);
  const all = audit.list();
  assert.deepEqual(
    all.map((e) => [e.seq, e.at, e.requestId]),
    [
      [3, T0 + 99, 'r3'],
      [2, T0 + 1, 'r2'],
      [1, T0, 'r1'],
    ],
  );
  assert.deepEqual(all[1], {
    seq: 2,
    at: T0 + 1,
    principal: null,
    role: null,
    method: 'POST',
    path: '/api/plans/x/run',
    status: 401,
    ip: '127.0.0.1',
    requestId: 'r2',
    detail: 'no credentials',
  });
  assert.deepEqual(
    audit.list({ limit: 1 }).map((e) => e.seq),
    [3],
  );
  assert.deepEqual(
    audit.list({ before: 3, limit: 5 }).map((e) => e.seq),
    [2, 1],
  );
  assert.throws(
    () => audit.list({ limit: -1 }),
    (e) => isSafeholdError(e, 'USAGE'),
  );
});
