// The SNMP trap channel against Debian's real snmptrapd, which loads
// deploy/SAFEHOLD-MIB.txt and logs each trap with symbolic names: the trap
// OID per event, the varbinds in the MIB's order, a wrong community dropped.
// The MIB itself is checked with snmptranslate (and smilint when installed).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ALERT_EVENTS, lowSpace, retriesExhausted, quiesceRepaired, runFailed, toPayload } from './events.ts';
import { TRAP_OBJECTS, TRAP_TYPES, fitUtf8, sendSnmpTrap } from './snmp.ts';
import { DEPLOY_DIR, baseMibDir, hasSnmptrapd, startSnmptrapd } from '../../test/helpers/snmptrapd.ts';

const skip = hasSnmptrapd() ? false : 'snmptrapd is not installed (/usr/sbin/snmptrapd; apt-get install snmptrapd)';
const COMMUNITY = 'c0mmunity-s3cret';
const at = Date.UTC(2026, 2, 1, 4, 5, 6, 789);
const M = 'SAFEHOLD-MIB::';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-snmp-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('snmp: a retries-exhausted alert arrives at snmptrapd as safeholdRetriesExhausted with its varbinds in order', {
  skip,
}, async (t) => {
  const trapd = await startSnmptrapd(t, COMMUNITY);
  t.diagnostic(`base MIB modules: ${trapd.realBaseMibs ? 'the IETF ones' : 'stand-ins'}`);
  const payload = toPayload(
    'a1b2c3',
    at,
    retriesExhausted({
      plan: 'nightly',
      runId: 'r7',
      scope: 'target:PG1',
      attempts: 25,
      reason: 'scope locked by run r6',
    }),
  );
  const r = await sendSnmpTrap(payload, { host: trapd.host, port: trapd.port, community: COMMUNITY });
  assert.deepEqual(r, {
    ok: true,
    detail: `trap safeholdRetriesExhausted sent to 127.0.0.1:${trapd.port}`,
    attempts: 1,
  });

  const trap = await trapd.waitForTrap((x) => x.vars[`${M}safeholdAlertId.0`] === 'a1b2c3', 'a1b2c3');
  assert.equal(trap.trapOid, `${M}safeholdRetriesExhausted`);
  assert.deepEqual(
    trap.names,
    ['Id', 'Event', 'Severity', 'Summary', 'Time', 'Details', 'Plan', 'Run', 'Scope'].map(
      (n) => `${M}safeholdAlert${n}.0`,
    ),
  );
  assert.equal(trap.vars[`${M}safeholdAlertEvent.0`], 'retries-exhausted');
  assert.equal(trap.vars[`${M}safeholdAlertSeverity.0`], 'critical');
  assert.equal(
    trap.vars[`${M}safeholdAlertSummary.0`],
    'plan nightly: gave up after 25 attempts: scope locked by run r6',
  );
  assert.equal(trap.vars[`${M}safeholdAlertTime.0`], '2026-03-01T04:05:06.789Z');
  assert.deepEqual(JSON.parse(trap.vars[`${M}safeholdAlertDetails.0`]!), {
    plan: 'nightly',
    runId: 'r7',
    scope: 'target:PG1',
    attempts: 25,
    reason: 'scope locked by run r6',
  });
  assert.equal(trap.vars[`${M}safeholdAlertPlan.0`], 'nightly');
  assert.equal(trap.vars[`${M}safeholdAlertRun.0`], 'r7');
  assert.equal(trap.vars[`${M}safeholdAlertScope.0`], 'target:PG1');
  assert.doesNotMatch(trap.line, new RegExp(COMMUNITY));
});

test('snmp: each event has its own trap OID; target and unit are sent when the alert has them', { skip }, async (t) => {
  const trapd = await startSnmptrapd(t, COMMUNITY);
  const cfg = { host: trapd.host, port: trapd.port, community: COMMUNITY };
  const quiesce = toPayload(
    'q1',
    at,
    quiesceRepaired({ target: 'PG1', unit: 'sales', runId: 'r9', outcome: 'unquiesced' }),
  );
  const space = toPayload('s1', at, lowSpace({ path: '/srv/backups', freeBytes: 1024, thresholdBytes: 4096 }));
  const failed = toPayload('f1', at, runFailed({ plan: 'nightly', runId: 'r1', reason: 'device QA1 unreachable' }));
  for (const p of [quiesce, space, failed]) assert.equal((await sendSnmpTrap(p, cfg)).ok, true);

  const q = await trapd.waitForTrap((x) => x.vars[`${M}safeholdAlertId.0`] === 'q1', 'q1');
  assert.equal(q.trapOid, `${M}safeholdQuiesceRepaired`);
  assert.deepEqual(q.names.slice(6), [
    `${M}safeholdAlertRun.0`,
    `${M}safeholdAlertTarget.0`,
    `${M}safeholdAlertUnit.0`,
  ]);
  assert.deepEqual(
    [q.vars[`${M}safeholdAlertTarget.0`], q.vars[`${M}safeholdAlertUnit.0`], q.vars[`${M}safeholdAlertSeverity.0`]],
    ['PG1', 'sales', 'warning'],
  );
  const s = await trapd.waitForTrap((x) => x.vars[`${M}safeholdAlertId.0`] === 's1', 's1');
  assert.equal(s.trapOid, `${M}safeholdLowSpace`);
  assert.equal(s.names.length, 6, 'no context objects: low-space has no plan, run, target, unit or scope');
  assert.deepEqual(JSON.parse(s.vars[`${M}safeholdAlertDetails.0`]!), {
    path: '/srv/backups',
    freeBytes: 1024,
    thresholdBytes: 4096,
  });
  const f = await trapd.waitForTrap((x) => x.vars[`${M}safeholdAlertId.0`] === 'f1', 'f1');
  assert.equal(f.trapOid, `${M}safeholdRunFailed`);
  assert.deepEqual([f.vars[`${M}safeholdAlertPlan.0`], f.vars[`${M}safeholdAlertRun.0`]], ['nightly', 'r1']);
});

test('snmp: a trap with the wrong community is dropped by snmptrapd', { skip }, async (t) => {
  const trapd = await startSnmptrapd(t, COMMUNITY);
  const wrong = toPayload('wrong1', at, runFailed({ plan: 'p', runId: 'r1', reason: 'x' }));
  const right = toPayload('right1', at, runFailed({ plan: 'p', runId: 'r2', reason: 'x' }));
  // UDP has no answer: the sender cannot tell, so the wrong one is "sent" too.
  const r = await sendSnmpTrap(wrong, { host: trapd.host, port: trapd.port, community: 'public' });
  assert.deepEqual(r, { ok: true, detail: `trap safeholdRunFailed sent to 127.0.0.1:${trapd.port}`, attempts: 1 });
  assert.equal((await sendSnmpTrap(right, { host: trapd.host, port: trapd.port, community: COMMUNITY })).ok, true);
  // snmptrapd handles datagrams in order: once the second is logged, the first was dropped.
  await trapd.waitForTrap((x) => x.vars[`${M}safeholdAlertId.0`] === 'right1', 'right1');
  assert.deepEqual(
    trapd.traps.map((x) => x.vars[`${M}safeholdAlertId.0`]),
    ['right1'],
  );
});

test('snmp: a long non-ASCII summary is cut to 255 octets at a character boundary and arrives intact', {
  skip,
}, async (t) => {
  const trapd = await startSnmptrapd(t, COMMUNITY);
  const payload = toPayload('u1', at, runFailed({ plan: 'café', runId: 'r1', reason: 'é'.repeat(200) }));
  assert.equal((await sendSnmpTrap(payload, { host: trapd.host, port: trapd.port, community: COMMUNITY })).ok, true);
  const trap = await trapd.waitForTrap((x) => x.vars[`${M}safeholdAlertId.0`] === 'u1', 'u1');
  const summary = trap.vars[`${M}safeholdAlertSummary.0`]!;
  const expected = `plan café run r1 failed: ${'é'.repeat(113)}…`;
  assert.equal(Buffer.byteLength(expected), 255);
  assert.equal(summary, expected);
  assert.equal(trap.vars[`${M}safeholdAlertPlan.0`], 'café');
});

test('snmp: fitUtf8 keeps short text, cuts long text at a character boundary with an ellipsis', () => {
  assert.equal(fitUtf8('abc', 3).toString(), 'abc');
  assert.equal(fitUtf8('abcdef', 5).toString(), 'ab…');
  assert.equal(fitUtf8('ééé', 5).toString(), 'é…');
  assert.equal(fitUtf8('ééé', 4).toString(), '…', 'no half character');
  assert.equal(fitUtf8('aééé', 6).toString(), 'aé…');
  assert.equal(fitUtf8('aééé', 7).toString(), 'aééé');
});

test('snmp: an unresolvable host or an empty host is a failed delivery, not an exception; no community in it', async () => {
  const payload = toPayload('x1', at, runFailed({ plan: 'p', runId: 'r1', reason: 'x' }));
  const r = await sendSnmpTrap(payload, {
    host: 'no-such-host.invalid',
    port: 1162,
    community: COMMUNITY,
    timeoutMs: 3000,
  });
  assert.equal(r.ok, false);
  assert.equal(r.attempts, 1);
  assert.match(
    r.detail,
    /^cannot send trap safeholdRunFailed to no-such-host\.invalid:1162: (ENOTFOUND|EAI_AGAIN|not sent within 3000 ms)$/,
  );
  assert.doesNotMatch(r.detail, new RegExp(COMMUNITY));
  assert.deepEqual(await sendSnmpTrap(payload, { host: '', community: COMMUNITY }), {
    ok: false,
    detail: 'SNMP trap receiver host is empty',
    attempts: 0,
  });
});

const noTranslate = fs.existsSync('/usr/bin/snmptranslate')
  ? false
  : 'snmptranslate is not installed (apt-get install snmp)';

test("SAFEHOLD-MIB parses with net-snmp, and every trap and object OID in snmp.ts is the MIB's", {
  skip: noTranslate,
}, (t) => {
  const dir = tempDir(t);
  const base = baseMibDir(dir);
  const names = [...ALERT_EVENTS.map((e) => TRAP_TYPES[e].name), ...TRAP_OBJECTS.map((o) => o.name)];
  const r = spawnSync(
    'snmptranslate',
    ['-PW', '-M', `${base.dir}:${DEPLOY_DIR}`, '-m', 'SAFEHOLD-MIB', '-On', ...names.map((n) => `${M}${n}`)],
    {
      env: { PATH: process.env.PATH, SNMPCONFPATH: dir, SNMP_PERSISTENT_DIR: dir },
      encoding: 'utf8',
    },
  );
  assert.equal(r.status, 0, r.stderr);
  const mibWarnings = r.stderr.split('\n').filter((l) => /SAFEHOLD-MIB/.test(l));
  assert.deepEqual(mibWarnings, [], 'no warning about SAFEHOLD-MIB');
  const expected = [...ALERT_EVENTS.map((e) => TRAP_TYPES[e].oid), ...TRAP_OBJECTS.map((o) => o.oid)].map(
    (o) => `.${o}`,
  );
  assert.deepEqual(
    r.stdout.split('\n').filter((l) => l !== ''),
    expected,
  );
  assert.equal(expected.length, 12 + 11);

  // smilint (package smitools) is stricter; it needs the real IETF modules.
  const smilint = fs.existsSync('/usr/bin/smilint');
  if (smilint && base.real) {
    const lint = spawnSync('smilint', ['-l', '6', '-s', path.join(DEPLOY_DIR, 'SAFEHOLD-MIB.txt')], {
      env: { ...process.env, SMIPATH: base.dir },
      encoding: 'utf8',
    });
    assert.equal(lint.stdout + lint.stderr, '', 'smilint -l 6 finds nothing');
  } else {
    t.diagnostic(`smilint not run (${smilint ? 'no IETF base modules' : 'not installed'})`);
  }
});
