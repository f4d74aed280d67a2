// The channels built on the webhook's HTTP machinery, against one real local
// HTTP server that records every request: healthchecks pings (start, success,
// fail paths, the summary as body), ntfy (title, priority, tags and token
// headers), the chat formats (Slack, Discord, Matrix bodies), and channels
// loaded from a safehold.yaml through sendAlert. No secret URL or token
// appears in a result.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../core/clock.ts';
import type { Clock } from '../core/clock.ts';
import { alertEvent, runFailed, runStarted, runSucceeded, toPayload } from './events.ts';
import type { AlertEvent } from './events.ts';
import { pingUrl, sendHealthchecksPing } from './healthchecks.ts';
import { sendNtfy } from './ntfy.ts';
import { chatBody, sendChat } from './chat.ts';
import { sendAlert } from './dispatch.ts';
import { channelsFromConfig } from './from-config.ts';
import { Catalog } from '../catalog/catalog.ts';
import { loadConfig } from '../config/load.ts';

interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const received: Received[] = [];
/** Status the server answers for a path (default 200). */
const statusFor = new Map<string, number>();
let srv: http.Server;
let base: string;

before(async () => {
  srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      received.push({ method: req.method ?? '', url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(statusFor.get(url) ?? 200, { 'content-type': 'text/plain' }).end('OK');
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(srv.address() as AddressInfo).port}`;
});
after(() => new Promise((resolve) => srv.close(resolve)));

const clock = new ManualClock(Date.UTC(2026, 5, 1, 2));
const payload = (e: AlertEvent) => toPayload('a1b2c3d4e5f60718', clock.now(), e);
/** The requests received since `from` whose path starts with `prefix`. */
const since = (from: number, prefix: string) => received.slice(from).filter((r) => r.url.startsWith(prefix));

describe('healthchecks channel', () => {
  const url = () => `${base}/ping/5f0c2a9e-uuid-secret`;

  it('pings <url>/start when a run starts, <url> on success, <url>/fail on failure and incomplete runs', async () => {
    const from = received.length;
    const started = runStarted({ plan: 'nightly', runId: 'r1a2b3c4d5', trigger: 'scheduled' });
    const ok = runSucceeded({ plan: 'nightly', runId: 'r1a2b3c4d5', tasks: 3 });
    const failed = runFailed({ plan: 'nightly', runId: 'r2', reason: 'QA1 down' });
    const partial = alertEvent('run-incomplete', 'plan nightly: run r3 refused: backups are disabled', {
      plan: 'nightly',
    });
    const results = [];
    for (const e of [started, ok, failed, partial])
      results.push(await sendHealthchecksPing(payload(e), { url: url() }, clock));
    assert.deepEqual(
      results.map((r) => r.ok),
      [true, true, true, true],
    );
    assert.deepEqual(
      since(from, '/ping/').map((r) => [r.method, r.url, r.body]),
      [
        ['POST', '/ping/5f0c2a9e-uuid-secret/start', started.summary],
        ['POST', '/ping/5f0c2a9e-uuid-secret', ok.summary],
        ['POST', '/ping/5f0c2a9e-uuid-secret/fail', failed.summary],
        ['POST', '/ping/5f0c2a9e-uuid-secret/fail', partial.summary],
      ],
    );
    assert.equal(results[2]!.detail, `HTTP 200 from ${base}/…/fail`, 'the ping URL (a secret) is not shown');
  });

  it('keeps a query and a trailing slash of the base URL in place', () => {
    assert.equal(
      pingUrl('https://hc.example/ping/k/slug/?create=1', 'run-started'),
      'https://hc.example/ping/k/slug/start?create=1',
    );
    assert.equal(pingUrl('https://hc.example/ping/uuid', 'run-succeeded'), 'https://hc.example/ping/uuid');
  });

  it('a failing ping is retried, and its result does not show the secret path', async () => {
    statusFor.set('/ping/flaky-secret/fail', 503);
    const slept: number[] = [];
    const instant: Clock = { now: () => clock.now(), sleep: async (ms) => void slept.push(ms) };
    const r = await sendHealthchecksPing(
      payload(runFailed({ plan: 'nightly', runId: 'r4', reason: 'x' })),
      { url: `${base}/ping/flaky-secret`, retryDelaysMs: [30_000] },
      instant,
    );
    assert.equal(r.ok, false);
    assert.equal(r.attempts, 2);
    assert.deepEqual(slept, [30_000]);
    assert.ok(!r.detail.includes('flaky-secret'), r.detail);
    assert.match(r.detail, /^HTTP 503 from http:\/\/127\.0\.0\.1:\d+\/…\/fail: OK \(after 2 attempts\)$/);
  });
});

describe('ntfy channel', () => {
  it('publishes the summary with title, priority from the severity, tags and the token', async () => {
    const from = received.length;
    const critical = runFailed({ plan: 'nightly', runId: 'r1', reason: 'QA1 down' });
    const warning = alertEvent('low-space', 'low space on /srv', {});
    const info = runStarted({ plan: 'nightly', runId: 'r2', trigger: 'on-demand' });
    const cfg = { url: `${base}/ntfy/safehold-topic`, token: 'tk_secret' };
    const r = await sendNtfy(payload(critical), cfg, clock);
    await sendNtfy(payload(warning), { url: cfg.url }, clock);
    await sendNtfy(payload(info), cfg, clock);
    assert.equal(r.ok, true);
    assert.ok(!r.detail.includes('safehold-topic') && !r.detail.includes('tk_secret'), r.detail);
    const got = since(from, '/ntfy/');
    assert.deepEqual(
      got.map((x) => [x.url, x.body, x.headers.title, x.headers.priority, x.headers.tags, x.headers.authorization]),
      [
        [
          '/ntfy/safehold-topic',
          critical.summary,
          'Safehold critical run-failed',
          '5',
          'safehold,critical,run-failed',
          'Bearer tk_secret',
        ],
        [
          '/ntfy/safehold-topic',
          warning.summary,
          'Safehold warning low-space',
          '4',
          'safehold,warning,low-space',
          undefined,
        ],
        [
          '/ntfy/safehold-topic',
          info.summary,
          'Safehold info run-started',
          '3',
          'safehold,info,run-started',
          'Bearer tk_secret',
        ],
      ],
    );
    assert.match(String(got[0]!.headers['content-type']), /^text\/plain/);
  });
});

describe('chat channel', () => {
  const e = runFailed({ plan: 'nightly', runId: 'r1', reason: 'QA1 down' });
  const text = `[CRITICAL] run-failed: ${e.summary} (alert a1b2c3d4e5f60718)`;

  for (const [format, body] of [
    ['slack', { text }],
    ['discord', { content: text }],
    ['matrix', { msgtype: 'm.text', body: text }],
  ] as const) {
    it(`${format}: posts that service's JSON body to the incoming webhook`, async () => {
      const from = received.length;
      const hookUrl = `${base}/chat/${format}/T000/B000/secret-token`;
      const r = await sendChat(payload(e), { format, url: hookUrl }, clock);
      assert.equal(r.ok, true, r.detail);
      assert.ok(!r.detail.includes('secret-token'), r.detail);
      const got = since(from, `/chat/${format}/`);
      assert.equal(got.length, 1);
      assert.equal(got[0]!.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(got[0]!.body), body);
    });
  }

  it('discord: a message over 2000 characters is cut with an ellipsis', () => {
    const long = alertEvent('run-failed', 'x'.repeat(3000), {});
    const content = chatBody('discord', payload(long)).content!;
    assert.equal(content.length, 2000);
    assert.ok(content.endsWith('…'));
  });
});

describe('from safehold.yaml to the wire', () => {
  it('ntfy and chat channels loaded from a configuration deliver through sendAlert; minSeverity applies', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-http-channels-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'safehold.yaml');
    fs.writeFileSync(
      file,
      `alerts:
  channels:
    phones: { type: ntfy, url: '${base}/yaml/ntfy/topic', token: { env: NTFY_TOKEN }, minSeverity: critical }
    room: { type: chat, format: matrix, url: { env: ROOM_HOOK }, retryDelays: [1s], timeout: 5s }
`,
    );
    const config = loadConfig(file, { NTFY_TOKEN: 'tk_yaml', ROOM_HOOK: `${base}/yaml/room/secret` });
    const catalog = Catalog.open(path.join(dir, 'data'), clock);
    t.after(() => catalog.close());
    const from = received.length;
    const warning = alertEvent('low-space', 'low space on /srv', {});
    const sent = await sendAlert(catalog, warning, channelsFromConfig(config.alerts), clock);
    assert.deepEqual(
      sent.deliveries.map((d) => [d.channel, d.ok, d.suppressed ?? false]),
      [
        ['phones', false, true],
        ['room', true, false],
      ],
    );
    assert.deepEqual(
      since(from, '/yaml/').map((r) => [r.url, JSON.parse(r.body).msgtype]),
      [['/yaml/room/secret', 'm.text']],
    );
    await sendAlert(
      catalog,
      runFailed({ plan: 'p', runId: 'r', reason: 'x' }),
      channelsFromConfig(config.alerts),
      clock,
    );
    const ntfy = since(from, '/yaml/ntfy/');
    assert.deepEqual(
      ntfy.map((r) => [r.headers.priority, r.headers.authorization]),
      [['5', 'Bearer tk_yaml']],
    );
  });
});
