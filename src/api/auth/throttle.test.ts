// Tests of login throttling with real scrypt checks and a ManualClock: one
// check in flight per name (100 parallel guesses), a lock taken while a check
// runs refusing even the right password, a locked name refusing parallel
// logins until lockMs has passed, the per-address limit (IPv4, IPv4-mapped
// and IPv6 /64), and flooding other names never unlocking a locked one.

import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Catalog } from '../../catalog/catalog.ts';
import { ManualClock } from '../../core/clock.ts';
import { isSafeholdError } from '../../core/errors.ts';
import { hashPassword, verifyPassword } from './password-hash.ts';
import { SessionManager } from './sessions.ts';
import { addressKey, BUSY_RETRY_MS, LoginThrottle } from './throttle.ts';
import type { ThrottlePolicy } from './throttle.ts';

const T0 = Date.UTC(2026, 10, 25, 9, 0);
const MIN = 60_000;
const LOCK = 15 * MIN;
const CHEAP = { log2N: 10, r: 8, p: 1 };

function world(t: TestContext, policy: Partial<ThrottlePolicy> = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-throttle-'));
  const clock = new ManualClock(T0);
  const catalog = Catalog.open(dir, clock);
  t.after(() => {
    catalog.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const throttle = new LoginThrottle(clock, policy);
  return { clock, catalog, throttle, sessions: new SessionManager(catalog, clock, throttle) };
}

async function addUser(catalog: Catalog, name: string, password: string) {
  catalog.users().add({ name, role: 'viewer', passwordHash: await hashPassword(password, CHEAP) });
}

/** retryAfterMs of a LOCKED error; -1 for anything else. */
function retryAfter(e: unknown): number {
  return isSafeholdError(e, 'LOCKED') && e.retryable ? Number(e.details?.retryAfterMs) : -1;
}

function shuffle<T>(xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** 99 wrong passwords and the right one at index `right`. */
function guesses(right: number, password: string): string[] {
  const list = shuffle(Array.from({ length: 99 }, (_, i) => `wrong-${i}`));
  list.splice(right, 0, password);
  return list;
}

test('100 parallel guesses for one name (99 wrong, 1 right, random order): one real scrypt check at a time, none gets in once the name is locked', async () => {
  const clock = new ManualClock(T0);
  const throttle = new LoginThrottle(clock);
  const hash = await hashPassword('right-password', CHEAP);
  let inFlight = 0;
  let maxInFlight = 0;
  let checks = 0;
  const check = async (password: string) => {
    checks++;
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    try {
      return (await verifyPassword(password, hash)) ? 'alice' : null;
    } finally {
      inFlight--;
    }
  };
  const right = 5 + Math.floor(Math.random() * 95);
  const list = guesses(right, 'right-password');
  const ipOf = (i: number) => `10.0.0.${i}`;

  // All 100 at once: one is checked, the 99 others are refused at once as busy.
  let pending = list.map((password, i) => ({ password, i }));
  const outcome = new Map<number, 'ok' | 'wrong' | 'locked'>();
  for (let wave = 0; pending.length > 0; wave++) {
    assert.ok(wave < 200, 'the waves end');
    const settled = await Promise.allSettled(
      pending.map((g) => throttle.attempt('alice', ipOf(g.i), () => check(g.password))),
    );
    const again: typeof pending = [];
    settled.forEach((s, k) => {
      const g = pending[k]!;
      if (s.status === 'fulfilled') outcome.set(g.i, s.value === null ? 'wrong' : 'ok');
      else if (retryAfter(s.reason) === BUSY_RETRY_MS)
        again.push(g); // the client retries, as told
      else if (retryAfter(s.reason) > 0) outcome.set(g.i, 'locked');
      else throw s.reason;
    });
    if (wave === 0) assert.equal(again.length, 99, 'the first burst: 99 refused while one is checked');
    pending = again;
  }
  const count = (o: string) => [...outcome.values()].filter((x) => x === o).length;
  assert.equal(maxInFlight, 1, 'never two checks for the name at once');
  assert.equal(checks, 5, 'checked one by one until the fifth failure locked the name');
  assert.deepEqual([count('ok'), count('wrong'), count('locked')], [0, 4, 96]);
  assert.equal(outcome.get(right), 'locked', `the right password (guess ${right}) is refused once the name is locked`);
  assert.equal(throttle.blockedFor('alice'), LOCK);
  assert.equal(throttle.stats().checking, 0);
});

test('a lock taken while a check runs refuses even the right password (name, then address)', async () => {
  const clock = new ManualClock(T0);
  const throttle = new LoginThrottle(clock, { ipMaxFailures: 3 });
  const hash = await hashPassword('right-password', CHEAP);
  const check = async () => ((await verifyPassword('right-password', hash)) ? 'alice' : null);

  // The name: five failures land while the (right) password is being checked.
  const byName = throttle.attempt('alice', null, check);
  for (let i = 0; i < 5; i++) throttle.fail('alice');
  await assert.rejects(
    byName,
    (e) => retryAfter(e) === LOCK && /too many failed logins for alice/.test((e as Error).message),
  );

  // The address: other names fail from the same address meanwhile.
  const byAddress = throttle.attempt('bob', '192.0.2.8', check);
  for (const n of ['n1', 'n2', 'n3']) throttle.fail(n, '192.0.2.8');
  await assert.rejects(byAddress, (e) => retryAfter(e) === LOCK && /from this address/.test((e as Error).message));
  assert.equal(await throttle.attempt('bob', '192.0.2.9', check), 'alice', 'another address may log in');
});

test('a locked name: 100 parallel logins (99 wrong, 1 right) are all refused, the lock is not extended, and it ends after lockMs', async (t) => {
  const { clock, catalog, sessions } = world(t);
  await addUser(catalog, 'alice', 'alice-password');
  for (let i = 0; i < 4; i++)
    await assert.rejects(sessions.login('alice', `nope-${i}`, null), (e) => isSafeholdError(e, 'WRONG_PASSWORD'));
  await assert.rejects(
    sessions.login('alice', 'nope-5', null),
    (e) => retryAfter(e) === LOCK,
    'the fifth failure locks',
  );

  await clock.advance(5 * MIN);
  const list = guesses(Math.floor(Math.random() * 100), 'alice-password');
  const settled = await Promise.allSettled(list.map((pw, i) => sessions.login('alice', pw, `10.1.0.${i}`)));
  for (const s of settled) {
    assert.equal(s.status, 'rejected');
    assert.equal(retryAfter(s.reason), 10 * MIN, 'refused for the rest of the lock, not longer');
  }
  clock.set(T0 + LOCK - 1);
  await assert.rejects(
    sessions.login('alice', 'alice-password', null),
    (e) => retryAfter(e) === 1 && /try again in 1 min/.test((e as Error).message),
  );
  clock.set(T0 + LOCK);
  assert.equal((await sessions.login('alice', 'alice-password', null)).user, 'alice', 'the lock ended after lockMs');
});

test('per address: failures across names lock the address (IPv4, IPv4-mapped, IPv6 by /64), even for a right password, until lockMs', async (t) => {
  const { clock, catalog, sessions, throttle } = world(t, { ipMaxFailures: 3 });
  await addUser(catalog, 'alice', 'alice-password');
  const wrong = (e: unknown) => isSafeholdError(e, 'WRONG_PASSWORD');
  const byAddress = (e: unknown) => retryAfter(e) === LOCK && /from this address/.test((e as Error).message);

  await assert.rejects(sessions.login('flood-1', 'x', '203.0.113.9'), wrong);
  await assert.rejects(sessions.login('flood-2', 'x', '203.0.113.9'), wrong);
  await assert.rejects(
    sessions.login('flood-3', 'x', '203.0.113.9'),
    byAddress,
    'the third failure from the address locks it',
  );
  await assert.rejects(sessions.login('alice', 'alice-password', '203.0.113.9'), byAddress, 'the right password too');
  await assert.rejects(
    sessions.login('alice', 'alice-password', '::ffff:203.0.113.9'),
    byAddress,
    'the same address, IPv4-mapped',
  );
  assert.equal(
    (await sessions.login('alice', 'alice-password', '198.51.100.2')).user,
    'alice',
    'other addresses are not locked',
  );

  // A success forgets the name's failures, not the address's.
  await assert.rejects(sessions.login('alice', 'nope-1', '198.51.100.2'), wrong);
  await assert.rejects(sessions.login('alice', 'nope-2', '198.51.100.2'), wrong);
  await sessions.login('alice', 'alice-password', '198.51.100.2');
  await assert.rejects(sessions.login('ghost', 'x', '198.51.100.2'), byAddress);

  // IPv6 counts per /64: three hosts of one /64 share the limit; the next /64 does not.
  for (const ip of ['2001:db8:1:2::a', '2001:db8:1:2::b']) throttle.fail('someone', ip);
  assert.equal(throttle.fail('someone-else', '2001:DB8:1:2:ffff::c%eth0'), true);
  await assert.rejects(sessions.login('alice', 'alice-password', '2001:db8:1:2::1'), byAddress);
  assert.equal((await sessions.login('alice', 'alice-password', '2001:db8:1:3::1')).user, 'alice');

  // No address, no address limit.
  for (let i = 0; i < 10; i++) assert.equal(throttle.fail(`nameless-${i}`, null), false);

  await clock.advance(LOCK);
  assert.equal(
    (await sessions.login('alice', 'alice-password', '203.0.113.9')).user,
    'alice',
    'the address lock ended after lockMs',
  );
});

test('flooding 20,000 other names does not unlock a locked name; unlocked names stay capped, locked ones are kept past the cap', async (t) => {
  const { clock, catalog, sessions, throttle } = world(t);
  await addUser(catalog, 'alice', 'alice-password');
  for (let i = 0; i < 4; i++)
    await assert.rejects(sessions.login('alice', `nope-${i}`, '192.0.2.1'), (e) =>
      isSafeholdError(e, 'WRONG_PASSWORD'),
    );
  await assert.rejects(sessions.login('alice', 'nope-5', '192.0.2.1'), (e) => retryAfter(e) === LOCK);

  await clock.advance(MIN);
  const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  for (let i = 0; i < 20_000; i++) throttle.fail(`flood-${i}`, ip(i)); // one failure each, from as many addresses
  for (let i = 0; i < 12_000; i++) {
    for (let k = 0; k < 5; k++) throttle.fail(`locked-${i}`, ip(i)); // and 12,000 names locked outright
  }
  const s = throttle.stats();
  assert.ok(s.names <= 10_000, `unlocked names capped: ${s.names}`);
  assert.ok(s.addresses <= 10_000, `unlocked addresses capped: ${s.addresses}`);
  assert.equal(s.lockedNames, 12_001, 'no locked name was dropped');
  await assert.rejects(
    sessions.login('alice', 'alice-password', '192.0.2.77'),
    (e) => retryAfter(e) === LOCK - MIN,
    'alice is still locked',
  );
  assert.equal(throttle.blockedFor('locked-0'), LOCK);
  clock.set(T0 + LOCK);
  assert.equal((await sessions.login('alice', 'alice-password', '192.0.2.77')).user, 'alice');
  await clock.advance(LOCK);
  assert.equal(throttle.stats().lockedNames, 0, 'ended locks are dropped');
});

test('addressKey: IPv4 as is, IPv4-mapped as IPv4, IPv6 by its /64 in one spelling', () => {
  assert.equal(addressKey('203.0.113.9'), '203.0.113.9');
  assert.equal(addressKey('::ffff:203.0.113.9'), '203.0.113.9');
  assert.equal(addressKey('2001:db8:1:2::a'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:0DB8:0001:0002:ffff:0:0:c%eth0'), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey('64:ff9b::192.0.2.1'), '64:ff9b:0:0::/64');
  assert.notEqual(addressKey('2001:db8:1:2::a'), addressKey('2001:db8:1:3::a'));
});
