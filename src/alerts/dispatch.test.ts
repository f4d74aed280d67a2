// sendAlert and the catalog's AlertStore: the alert is stored, delivered on
// every channel, each outcome recorded; failing channels never throw.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Catalog } from '../catalog/catalog.ts';
import { ManualClock } from '../core/clock.ts';
import { alertEvent, retriesExhausted, runStarted, staleLockCleared, quiesceRepaired } from './events.ts';
import type { AlertChannel } from './dispatch.ts';
import { sendAlert } from './dispatch.ts';
import { parseMail, startSmtpSink } from '../../test/helpers/smtp-sink.ts';
import { hasSnmptrapd, startSnmptrapd } from '../../test/helpers/snmptrapd.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-alert-dispatch-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function hook(t: { after(fn: () => unknown): void }, status: number) {
  const bodies: string[] = [];
  const paths: string[] = [];
  const srv = http.createServer((req, res) => {
    const c: Buffer[] = [];
    req.on('data', (d: Buffer) => c.push(d));
    req.on('end', () => {
      bodies.push(Buffer.concat(c).toString());
      paths.push(req.url ?? '');
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => srv.close(resolve)));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`, bodies, paths };
}

test('store: record, markDelivered, list newest first and by event, get; unknown alert is NOT_FOUND', (t) => {
  const clock = new ManualClock(1_000_000);
  const catalog = Catalog.open(tempDir(t), clock);
  t.after(() => catalog.close());
  const store = catalog.alerts();
  const a = store.record(staleLockCleared({ scope: 'target:QA1', holder: 'pid 42', ageMs: 13 * 3600_000 }));
  clock.set(2_000_000);
  const b = store.record(retriesExhausted({ plan: 'nightly', attempts: 25, reason: 'locked' }));
  store.markDelivered(b, 'ops-hook', false, 'HTTP 500');
  clock.set(2_000_500);
  store.markDelivered(b, 'ops-hook', true, 'HTTP 200');
  assert.deepEqual(
    store.list().map((x) => x.id),
    [b, a],
  );
  assert.deepEqual(
    store.list({ limit: 1 }).map((x) => x.id),
    [b],
  );
  assert.deepEqual(
    store.list({ event: 'stale-lock-cleared' }).map((x) => x.id),
    [a],
  );
  assert.deepEqual(store.get(b), {
    id: b,
    event: 'retries-exhausted',
    severity: 'critical',
    summary: 'plan nightly: gave up after 25 attempts: locked',
    details: { plan: 'nightly', attempts: 25, reason: 'locked' },
    at: 2_000_000,
    deliveries: [
      { channel: 'ops-hook', ok: false, outcome: 'failed', detail: 'HTTP 500', at: 2_000_000 },
      { channel: 'ops-hook', ok: true, outcome: 'delivered', detail: 'HTTP 200', at: 2_000_500 },
    ],
  });
  assert.equal(store.get('nope'), undefined);
  assert.throws(() => store.markDelivered('nope', 'x', true), { code: 'NOT_FOUND' });
});

test('sendAlert: stores the alert, delivers on every channel, records each outcome, never throws', async (t) => {
  const dir = tempDir(t);
  const clock = new ManualClock(Date.UTC(2026, 2, 1));
  const catalog = Catalog.open(path.join(dir, 'data'), clock);
  t.after(() => catalog.close());
  const good = await hook(t, 200);
  const bad = await hook(t, 400);
  const cmdOut = path.join(dir, 'cmd.json');
  const event = quiesceRepaired({ target: 'PG1', unit: null, runId: 'r9', outcome: 'unquiesced' });
  const sent = await sendAlert(
    catalog,
    event,
    [
      { name: 'ops', type: 'webhook', webhook: { url: good.url, secret: 's' } },
      { name: 'bad-hook', type: 'webhook', webhook: { url: bad.url } },
      { name: 'notify', type: 'command', command: { argv: ['sh', '-c', 'cat > "$1"', 'sh', cmdOut] } },
      { name: 'broken', type: 'command', command: { argv: ['/nonexistent/notify'] } },
      { name: 'only-runbooks', type: 'command', command: { argv: ['sh', '-c', 'exit 0'] }, events: ['runbook-failed'] },
    ],
    clock,
  );
  assert.equal(sent.recorded, true);
  assert.deepEqual(
    sent.deliveries.map((d) => [d.channel, d.ok]),
    [
      ['ops', true],
      ['bad-hook', false],
      ['notify', true],
      ['broken', false],
      ['only-runbooks', false],
    ],
  );

  const stored = catalog.alerts().get(sent.id!)!;
  assert.equal(stored.event, 'quiesce-repaired');
  assert.equal(stored.at, Date.UTC(2026, 2, 1));
  assert.deepEqual(stored.deliveries.map((d) => [d.channel, d.outcome]).sort(), [
    ['bad-hook', 'failed'],
    ['broken', 'failed'],
    ['notify', 'delivered'],
    ['only-runbooks', 'suppressed'],
    ['ops', 'delivered'],
  ]);
  assert.equal(
    stored.deliveries.find((d) => d.channel === 'only-runbooks')!.detail,
    "quiesce-repaired is not in the channel's events",
  );
  assert.match(stored.deliveries.find((d) => d.channel === 'bad-hook')!.detail!, /HTTP 400/);
  assert.match(stored.deliveries.find((d) => d.channel === 'broken')!.detail!, /ENOENT/);

  // Every channel got the same document: the stored alert.
  const expected = {
    event: 'quiesce-repaired',
    severity: 'warning',
    summary: stored.summary,
    details: stored.details,
    at: '2026-03-01T00:00:00.000Z',
    id: sent.id,
  };
  assert.deepEqual(JSON.parse(good.bodies[0]!), expected);
  assert.deepEqual(JSON.parse(bad.bodies[0]!), expected);
  assert.deepEqual(JSON.parse(fs.readFileSync(cmdOut, 'utf8')), expected);
});

test('sendAlert: when the catalog cannot store the alert it is still delivered', async (t) => {
  const clock = new ManualClock();
  const catalog = Catalog.open(tempDir(t), clock);
  catalog.close();
  const good = await hook(t, 200);
  const sent = await sendAlert(
    catalog,
    retriesExhausted({ plan: 'p', attempts: 3, reason: 'x' }),
    [{ name: 'ops', type: 'webhook', webhook: { url: good.url } }],
    clock,
  );
  assert.equal(sent.recorded, false);
  assert.ok(sent.recordError);
  assert.deepEqual(
    sent.deliveries.map((d) => [d.channel, d.ok]),
    [['ops', true]],
  );
  assert.equal(JSON.parse(good.bodies[0]!).id, sent.id);
});

// A retry would wait on the ManualClock forever: the timeout turns that into a failure.
test('sendAlert: email and SNMP channels at once; each delivery recorded in the catalog', {
  timeout: 20_000,
  skip: hasSnmptrapd() ? false : 'snmptrapd is not installed (/usr/sbin/snmptrapd)',
}, async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 1));
  const catalog = Catalog.open(tempDir(t), clock);
  t.after(() => catalog.close());
  const sink = await startSmtpSink(t, { user: 'alerts', password: 'smtp-pw' });
  const trapd = await startSnmptrapd(t, 'nms-community');
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const closedPort = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));

  const event = retriesExhausted({
    plan: 'nightly',
    runId: 'r7',
    scope: 'target:PG1',
    attempts: 25,
    reason: 'scope locked',
  });
  const sent = await sendAlert(
    catalog,
    event,
    [
      {
        name: 'ops-mail',
        type: 'email',
        email: {
          host: sink.host,
          port: sink.port,
          user: 'alerts',
          password: 'smtp-pw',
          from: 'safehold@example.com',
          to: ['ops@example.com'],
        },
      },
      { name: 'nms', type: 'snmp', snmp: { host: trapd.host, port: trapd.port, community: 'nms-community' } },
      {
        name: 'dead-relay',
        type: 'email',
        email: {
          host: '127.0.0.1',
          port: closedPort,
          from: 'safehold@example.com',
          to: ['ops@example.com'],
          retryDelaysMs: [],
        },
      },
      {
        name: 'runbook-traps',
        type: 'snmp',
        snmp: { host: trapd.host, port: trapd.port, community: 'nms-community' },
        events: ['runbook-failed'],
      },
    ],
    clock,
  );
  assert.equal(sent.recorded, true);
  assert.deepEqual(
    sent.deliveries.map((d) => [d.channel, d.ok, d.attempts]),
    [
      ['ops-mail', true, 1],
      ['nms', true, 1],
      ['dead-relay', false, 1],
      ['runbook-traps', false, 0],
    ],
  );

  const stored = catalog.alerts().get(sent.id!)!;
  assert.equal(stored.event, 'retries-exhausted');
  const byChannel = Object.fromEntries(stored.deliveries.map((d) => [d.channel, d]));
  assert.deepEqual(Object.keys(byChannel).sort(), ['dead-relay', 'nms', 'ops-mail', 'runbook-traps']);
  assert.equal(byChannel['runbook-traps']!.outcome, 'suppressed');
  assert.equal(byChannel['ops-mail']!.ok, true);
  assert.match(
    byChannel['ops-mail']!.detail!,
    new RegExp(`^accepted by 127\\.0\\.0\\.1:${sink.port} for ops@example\\.com: 250 `),
  );
  assert.deepEqual(
    [byChannel.nms!.ok, byChannel.nms!.detail],
    [true, `trap safeholdRetriesExhausted sent to 127.0.0.1:${trapd.port}`],
  );
  assert.deepEqual(
    [byChannel['dead-relay']!.ok, byChannel['dead-relay']!.detail],
    [false, `cannot reach 127.0.0.1:${closedPort}: ECONNREFUSED`],
  );
  assert.ok(stored.deliveries.every((d) => d.at === Date.UTC(2026, 2, 2, 1)));

  // What arrived is the stored alert.
  const trap = await trapd.waitForTrap((x) => x.vars['SAFEHOLD-MIB::safeholdAlertId.0'] === sent.id, sent.id!);
  assert.equal(trap.trapOid, 'SAFEHOLD-MIB::safeholdRetriesExhausted');
  assert.equal(trap.vars['SAFEHOLD-MIB::safeholdAlertSummary.0'], stored.summary);
  await sink.waitForSessions(1);
  const mail = parseMail(sink.messages()[0]!.raw);
  assert.equal(mail.headers.subject, `[Safehold] CRITICAL retries-exhausted: ${stored.summary}`);
  assert.deepEqual(JSON.parse(mail.parts[1]!.text), {
    event: 'retries-exhausted',
    severity: 'critical',
    summary: stored.summary,
    details: stored.details,
    at: '2026-03-02T01:00:00.000Z',
    id: sent.id,
  });
  assert.equal(trapd.traps.length, 1, 'the runbook-only channel got nothing');
});

test('sendAlert: minSeverity keeps a warning off a channel (recorded as suppressed, not failed, nothing sent); run-started goes only to the healthchecks channel of its plan', async (t) => {
  const clock = new ManualClock(Date.UTC(2026, 3, 1));
  const catalog = Catalog.open(tempDir(t), clock);
  t.after(() => catalog.close());
  const all = await hook(t, 200);
  const pager = await hook(t, 200);
  const hc = await hook(t, 200);
  const channels: AlertChannel[] = [
    { name: 'team', type: 'webhook', webhook: { url: all.url } },
    { name: 'pager', type: 'webhook', webhook: { url: pager.url }, minSeverity: 'critical' },
    { name: 'hc', type: 'healthchecks', healthchecks: { url: `${hc.url}ping/key` }, plans: ['nightly'] },
  ];
  const warning = alertEvent('run-incomplete', 'plan nightly: run r1 refused: backups are disabled', {
    plan: 'nightly',
    runId: 'r1',
  });
  const sent = await sendAlert(catalog, warning, channels, clock);
  assert.deepEqual(
    sent.deliveries.map((d) => [d.channel, d.ok, d.suppressed ?? false]),
    [
      ['team', true, false],
      ['pager', false, true],
      ['hc', true, false],
    ],
  );
  assert.equal(pager.bodies.length, 0, 'nothing was sent to the channel whose minimum is critical');
  assert.deepEqual(hc.paths, ['/ping/key/fail']);
  const stored = catalog.alerts().get(sent.id!)!;
  assert.deepEqual(
    stored.deliveries.map((d) => [d.channel, d.ok, d.outcome, d.detail]),
    [
      ['pager', false, 'suppressed', "warning is below the channel's minSeverity critical"],
      ['team', true, 'delivered', `HTTP 200 from ${all.url}`],
      ['hc', true, 'delivered', `HTTP 200 from ${hc.url}…/fail`],
    ],
  );

  // A critical alert reaches the pager.
  const critical = await sendAlert(
    catalog,
    retriesExhausted({ plan: 'nightly', attempts: 2, reason: 'x' }),
    channels,
    clock,
  );
  assert.deepEqual(
    critical.deliveries.map((d) => [d.channel, d.ok]),
    [
      ['team', true],
      ['pager', true],
    ],
    'retries-exhausted is not a healthchecks ping: that channel is not even listed',
  );

  // run-started: only the healthchecks channel takes it; the others record nothing.
  const start = await sendAlert(
    catalog,
    runStarted({ plan: 'nightly', runId: 'r2', trigger: 'scheduled' }),
    channels,
    clock,
  );
  assert.deepEqual(
    start.deliveries.map((d) => [d.channel, d.ok]),
    [['hc', true]],
  );
  assert.deepEqual(
    catalog
      .alerts()
      .get(start.id!)!
      .deliveries.map((d) => d.channel),
    ['hc'],
  );
  assert.deepEqual(hc.paths, ['/ping/key/fail', '/ping/key/start']);

  // run-started of a plan no channel takes: neither stored nor sent.
  const before = catalog.alerts().list().length;
  const other = await sendAlert(
    catalog,
    runStarted({ plan: 'weekly', runId: 'r3', trigger: 'scheduled' }),
    channels,
    clock,
  );
  assert.deepEqual(other, { id: null, recorded: false, deliveries: [] });
  assert.equal(catalog.alerts().list().length, before);
  assert.equal(all.bodies.length, 2);
});
