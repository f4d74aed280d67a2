// `safehold alerts` through the real CLI: alerts stored in the catalog of
// SAFEHOLD_DATA_DIR are listed newest first, filtered, as JSON and as a table;
// a plan run's alert on real channels (a local HTTP server) is listed with
// each delivery's outcome: delivered and when, or suppressed and why.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Catalog } from '../src/catalog/catalog.ts';
import { ManualClock } from '../src/core/clock.ts';
import { lowSpace, runFailed } from '../src/alerts/events.ts';
import { baseEnv, runCli, show } from './helpers/cli.ts';

test('safehold alerts lists stored alerts with their deliveries (--json, --event, --limit, table)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-cli-alerts-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const data = path.join(dir, 'data');
  const env = {
    ...baseEnv(),
    SAFEHOLD_DATA_DIR: data,
    SAFEHOLD_PASSWORD: 'pw',
    SAFEHOLD_REPOSITORY: path.join(dir, 'repo'),
  };

  const empty = await runCli(['alerts', '--json'], { env });
  assert.equal(empty.code, 0, show(empty));
  assert.deepEqual(empty.json(), []);

  const clock = new ManualClock(Date.UTC(2026, 0, 5, 10));
  const catalog = Catalog.open(data, clock);
  const store = catalog.alerts();
  const a = store.record(lowSpace({ path: '/srv', freeBytes: 10, thresholdBytes: 100 }));
  clock.set(Date.UTC(2026, 0, 5, 11));
  const b = store.record(runFailed({ plan: 'nightly', runId: 'r1', reason: 'QA1 down' }));
  store.markDelivered(b, 'ops-hook', true, 'HTTP 200 from http://127.0.0.1/hook');
  store.markDelivered(b, 'pager', false, 'sh exited 1');
  catalog.close();

  const all = await runCli(['alerts', '--json'], { env });
  assert.equal(all.code, 0, show(all));
  const doc = all.json();
  assert.deepEqual(
    doc.map((x: { id: string }) => x.id),
    [b, a],
  );
  assert.deepEqual(doc[0], {
    id: b,
    event: 'run-failed',
    severity: 'critical',
    summary: 'plan nightly run r1 failed: QA1 down',
    details: { plan: 'nightly', runId: 'r1', reason: 'QA1 down' },
    at: Date.UTC(2026, 0, 5, 11),
    deliveries: [
      {
        channel: 'ops-hook',
        ok: true,
        outcome: 'delivered',
        detail: 'HTTP 200 from http://127.0.0.1/hook',
        at: Date.UTC(2026, 0, 5, 11),
      },
      { channel: 'pager', ok: false, outcome: 'failed', detail: 'sh exited 1', at: Date.UTC(2026, 0, 5, 11) },
    ],
  });

  const filtered = await runCli(['alerts', '--event', 'low-space', '--json'], { env });
  assert.deepEqual(
    filtered.json().map((x: { id: string }) => x.id),
    [a],
  );
  const limited = await runCli(['alerts', '--limit', '1', '--json'], { env });
  assert.deepEqual(
    limited.json().map((x: { id: string }) => x.id),
    [b],
  );

  const human = await runCli(['alerts'], { env });
  assert.equal(human.code, 0, show(human));
  assert.match(
    human.stdout,
    new RegExp(
      `${b.slice(0, 8)} .* run-failed\\s+critical\\s+ops-hook ok 11:00:00Z, pager FAILED\\s+plan nightly run r1 failed: QA1 down`,
    ),
  );
  assert.match(human.stdout, new RegExp(`${a.slice(0, 8)} .* low-space\\s+warning\\s+-\\s+low space on /srv`));
  assert.match(human.stdout, new RegExp(`^${b.slice(0, 8)} pager failed: sh exited 1$`, 'm'));

  const bad = await runCli(['alerts', '--event', 'nonsense', '--json'], { env });
  assert.equal(bad.code, 2, show(bad));
  assert.equal(bad.json().error.code, 'USAGE');
});

test('safehold plan run raises its alert on real channels and safehold alerts shows each outcome: delivered (when), suppressed (why)', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-cli-alerts-run-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const received: { url: string; body: string }[] = [];
  const srv = http.createServer((req, res) => {
    const c: Buffer[] = [];
    req.on('data', (d: Buffer) => c.push(d));
    req.on('end', () => {
      received.push({ url: req.url ?? '', body: Buffer.concat(c).toString() });
      res.writeHead(200).end('OK');
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => srv.close(resolve)));
  const base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  fs.writeFileSync(path.join(dir, 'data.txt'), 'x');
  // The catalog is where the configuration says (settings.dataDir), not SAFEHOLD_DATA_DIR: both commands must find it.
  const file = path.join(dir, 'safehold.yaml');
  fs.writeFileSync(
    file,
    `settings:
  backups: disabled
  dataDir: ./data
targets:
  HOST: { kind: files, units: { docs: { paths: [${path.join(dir, 'data.txt')}] } } }
destinations:
  local: { type: repository, path: ./repo, password: { env: SAFEHOLD_PASSWORD } }
plans:
  nightly:
    destination: local
    activities:
      - { kind: backup, targets: HOST }
alerts:
  channels:
    ops-hook: { type: webhook, url: '${base}/hook' }
    pager: { type: webhook, url: '${base}/pager', minSeverity: critical }
    hc: { type: healthchecks, url: { env: HC_URL } }
`,
  );
  const env = { ...baseEnv(), SAFEHOLD_PASSWORD: 'pw', HC_URL: `${base}/ping/check-key` };
  const run = await runCli(['plan', 'run', 'nightly', '--local', '--config', file, '--json'], { env });
  assert.equal(run.code, 4, show(run));
  assert.equal(run.json().run.status, 'refused');
  assert.equal(received[0]!.url, '/ping/check-key/start', 'the start ping comes first');
  assert.deepEqual(received.map((r) => r.url).sort(), ['/hook', '/ping/check-key/fail', '/ping/check-key/start']);

  const listed = await runCli(['alerts', '--config', file, '--json'], { env });
  assert.equal(listed.code, 0, show(listed));
  const [alert, ...older] = listed.json();
  assert.equal(alert.event, 'run-incomplete');
  assert.equal(alert.severity, 'warning');
  const byChannel = Object.fromEntries(alert.deliveries.map((d: { channel: string }) => [d.channel, d]));
  assert.deepEqual(Object.keys(byChannel).sort(), ['hc', 'ops-hook', 'pager']);
  assert.deepEqual(
    [byChannel['ops-hook'].outcome, byChannel['ops-hook'].ok, byChannel['ops-hook'].detail],
    ['delivered', true, `HTTP 200 from ${base}/hook`],
  );
  assert.ok(byChannel['ops-hook'].at >= alert.at, 'delivered at a time, not before the alert');
  assert.equal(byChannel.hc.outcome, 'delivered');
  assert.ok(!JSON.stringify(alert).includes('check-key'), 'the ping URL is a secret');
  assert.deepEqual(
    [byChannel.pager.outcome, byChannel.pager.ok, byChannel.pager.detail],
    ['suppressed', false, "warning is below the channel's minSeverity critical"],
  );
  assert.equal(received.filter((r) => r.url === '/pager').length, 0);
  // The run-started ping is stored too (its one taker is hc), with its delivery.
  assert.deepEqual(
    older.map((a: { event: string; deliveries: { channel: string; outcome: string }[] }) => [
      a.event,
      a.deliveries.map((d) => `${d.channel} ${d.outcome}`),
    ]),
    [['run-started', ['hc delivered']]],
  );

  const human = await runCli(['alerts', '--config', file], { env });
  assert.equal(human.code, 0, show(human));
  assert.match(human.stdout, /run-incomplete\s+warning\s+.*ops-hook ok \d\d:\d\d:\d\dZ/);
  assert.match(human.stdout, /pager suppressed/);
  assert.match(
    human.stdout,
    new RegExp(`${alert.id.slice(0, 8)} pager suppressed: warning is below the channel's minSeverity critical`),
  );
});
