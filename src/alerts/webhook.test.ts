// The webhook channel against a real local HTTP server: the body and the
// HMAC signature are checked on the server side with the secret; retries are
// timed with a ManualClock; 4xx is not retried; no secret leaks into results.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../core/clock.ts';
import { runFailed, toPayload } from './events.ts';
import { redactUrl, sendWebhook, signBody } from './webhook.ts';
import { until } from '../../test/helpers/wait.ts';

interface Received {
  at: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  url: string;
}

/** A clock that also lists every sleep asked of it, so a test knows when a retry is waiting. */
class RecordingClock extends ManualClock {
  sleeps: number[] = [];
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    return super.sleep(ms);
  }
}

async function server(
  t: { after(fn: () => unknown): void },
  clock: ManualClock,
  respond: (n: number, r: Received) => [number, string],
) {
  const received: Received[] = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = {
        at: clock.now(),
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        url: req.url ?? '',
      };
      received.push(r);
      const [status, text] = respond(received.length, r);
      res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => srv.close(resolve)));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`, received };
}

const payload = toPayload(
  'abc123',
  Date.UTC(2026, 0, 1, 3),
  runFailed({ plan: 'nightly', runId: 'r1', reason: 'device QA1 unreachable' }),
);

test('webhook: posts the alert JSON, signed with HMAC-SHA256 that the server verifies with the secret', async (t) => {
  const clock = new ManualClock();
  const secret = 'hunter2-shared-secret';
  const srv = await server(t, clock, (_n, r) => {
    const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`);
    const got = Buffer.from(String(r.headers['x-safehold-signature'] ?? ''));
    return got.length === expected.length && timingSafeEqual(got, expected) ? [204, ''] : [401, 'bad signature'];
  });
  const r = await sendWebhook(payload, { url: srv.url, secret }, clock);
  assert.deepEqual(r, { ok: true, detail: `HTTP 204 from ${srv.url}`, attempts: 1 });
  assert.equal(srv.received.length, 1);
  const got = srv.received[0]!;
  assert.equal(got.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(got.body), {
    event: 'run-failed',
    severity: 'critical',
    summary: 'plan nightly run r1 failed: device QA1 unreachable',
    details: { plan: 'nightly', runId: 'r1', reason: 'device QA1 unreachable' },
    at: '2026-01-01T03:00:00.000Z',
    id: 'abc123',
  });

  // A wrong secret is refused by the server (the signature really covers the body).
  const bad = await sendWebhook(payload, { url: srv.url, secret: 'other' }, clock);
  assert.equal(bad.ok, false);
  assert.match(bad.detail, /HTTP 401 .*bad signature/);
  assert.equal(signBody('x', 'k'), `sha256=${createHmac('sha256', 'k').update('x').digest('hex')}`);
});

test('webhook: no secret, no signature header', async (t) => {
  const clock = new ManualClock();
  const srv = await server(t, clock, () => [200, 'ok']);
  assert.equal((await sendWebhook(payload, { url: srv.url }, clock)).ok, true);
  assert.equal(srv.received[0]!.headers['x-safehold-signature'], undefined);
});

test('webhook: 5xx retried at +0, +30 s, +2 min on the injected clock, then delivered', async (t) => {
  const clock = new RecordingClock();
  const t0 = clock.now();
  const srv = await server(t, clock, (n) => (n < 3 ? [503, 'busy'] : [200, 'ok']));
  const p = sendWebhook(payload, { url: srv.url }, clock);
  await until(() => clock.sleeps.length === 1, 'first backoff');
  assert.equal(srv.received.length, 1);
  await clock.advance(29_999);
  assert.equal(srv.received.length, 1, 'no retry before 30 s');
  await clock.advance(1);
  await until(() => clock.sleeps.length === 2, 'second backoff');
  await clock.advance(120_000);
  const r = await p;
  assert.deepEqual(r, { ok: true, detail: `HTTP 200 from ${srv.url}`, attempts: 3 });
  assert.deepEqual(
    srv.received.map((x) => x.at - t0),
    [0, 30_000, 150_000],
  );
  assert.deepEqual(clock.sleeps, [30_000, 120_000]);
  assert.equal(new Set(srv.received.map((x) => x.body)).size, 1, 'the same body every time');
});

test('webhook: configurable backoff; gives up after the last attempt with the last status', async (t) => {
  const clock = new RecordingClock();
  const t0 = clock.now();
  const srv = await server(t, clock, () => [500, 'down']);
  const p = sendWebhook(payload, { url: srv.url, retryDelaysMs: [1000, 2000, 4000] }, clock);
  for (let i = 1; i <= 3; i++) {
    await until(() => clock.sleeps.length === i, `backoff ${i}`);
    await clock.advance(clock.sleeps[i - 1]!);
  }
  const r = await p;
  assert.equal(r.ok, false);
  assert.equal(r.attempts, 4);
  assert.match(r.detail, /^HTTP 500 from .*: down \(after 4 attempts\)$/);
  assert.deepEqual(
    srv.received.map((x) => x.at - t0),
    [0, 1000, 3000, 7000],
  );
});

test('webhook: a 4xx is not retried', async (t) => {
  const clock = new RecordingClock();
  const srv = await server(t, clock, () => [404, 'no such hook']);
  const r = await sendWebhook(payload, { url: srv.url }, clock);
  assert.deepEqual(r, { ok: false, detail: `HTTP 404 from ${srv.url}: no such hook`, attempts: 1 });
  assert.equal(srv.received.length, 1);
  assert.deepEqual(clock.sleeps, []);
});

test('webhook: a network error is retried, and no credential of the URL appears in the result', async () => {
  // A port nobody listens on: connect is refused.
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const clock = new RecordingClock();
  const url = `http://alice:pa55word@127.0.0.1:${port}/hook?token=tok3n`;
  const p = sendWebhook(payload, { url, retryDelaysMs: [10, 20] }, clock);
  await until(() => clock.sleeps.length === 1, 'first backoff');
  await clock.advance(10);
  await until(() => clock.sleeps.length === 2, 'second backoff');
  await clock.advance(20);
  const r = await p;
  assert.equal(r.ok, false);
  assert.equal(r.attempts, 3);
  assert.match(r.detail, /cannot reach http:\/\/127\.0\.0\.1:\d+\/hook: ECONNREFUSED \(after 3 attempts\)/);
  assert.doesNotMatch(r.detail, /alice|pa55word|tok3n/);
  assert.equal(redactUrl(url), `http://127.0.0.1:${port}/hook`);
});

test('webhook: credentials in the URL are sent as Basic authorization, not in the request line', async (t) => {
  const clock = new ManualClock();
  const srv = await server(t, clock, () => [500, 'nope']);
  const url = `${srv.url.replace('http://', 'http://alice:pa%2055word@')}?token=tok3n`;
  const r = await sendWebhook(payload, { url, retryDelaysMs: [] }, clock);
  assert.equal(r.ok, false);
  assert.equal(srv.received[0]!.headers.authorization, `Basic ${Buffer.from('alice:pa 55word').toString('base64')}`);
  assert.equal(srv.received[0]!.url, '/hook?token=tok3n');
  assert.doesNotMatch(r.detail, /alice|pa55word|pa%2055word|tok3n/);
});

test('webhook: an invalid URL is a failed delivery, not an exception', async () => {
  const r = await sendWebhook(payload, { url: 'ftp://example.invalid/x' }, new ManualClock());
  assert.deepEqual(r, {
    ok: false,
    detail: 'webhook URL ftp://example.invalid/x is not a valid http(s) URL',
    attempts: 0,
  });
});
