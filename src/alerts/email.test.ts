// The email channel against a real SMTP server in its own process
// (test/helpers/smtp-sink.ts): subject, recipients, body and the JSON
// attachment as received; AUTH with the right and a wrong password (never
// shown); 5xx not retried; 4xx, a refused connection and a silent server
// retried on a ManualClock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { ManualClock } from '../core/clock.ts';
import { retriesExhausted, runFailed, toPayload } from './events.ts';
import { alertSubject, sendEmail } from './email.ts';
import { parseMail, startSmtpSink } from '../../test/helpers/smtp-sink.ts';
import { until } from '../../test/helpers/wait.ts';

/** A clock that also lists every sleep asked of it, so a test knows when a retry is waiting. */
class RecordingClock extends ManualClock {
  sleeps: number[] = [];
  sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    return super.sleep(ms);
  }
}

const payload = toPayload(
  'abc123',
  Date.UTC(2026, 0, 1, 3),
  runFailed({ plan: 'nightly', runId: 'r1', reason: 'device QA1 unreachable' }),
);
const PASSWORD = 'Tr0ub4dor&3-smtp';
/** A wrong retry would wait on the ManualClock forever: fail instead. */
const LIMIT = { timeout: 15_000 };
const base = { from: 'safehold@backup.example', to: ['ops@example.com', 'dba@example.com'], timeoutMs: 5000 };

test('email: the alert arrives with its subject, recipients, body fields and the JSON attached', LIMIT, async (t) => {
  const sink = await startSmtpSink(t);
  const r = await sendEmail(payload, { ...base, host: sink.host, port: sink.port }, new ManualClock());
  assert.equal(r.ok, true, r.detail);
  assert.equal(r.attempts, 1);
  assert.match(
    r.detail,
    new RegExp(
      `^accepted by 127\\.0\\.0\\.1:${sink.port} for ops@example\\.com, dba@example\\.com: 250 .*queued by the safehold test sink`,
    ),
  );

  await sink.waitForSessions(1);
  const [mail] = sink.messages();
  assert.equal(sink.messages().length, 1);
  assert.equal(mail!.from, 'safehold@backup.example');
  assert.deepEqual(mail!.to, ['ops@example.com', 'dba@example.com']);
  const m = parseMail(mail!.raw);
  assert.equal(m.headers.subject, '[Safehold] CRITICAL run-failed: plan nightly run r1 failed: device QA1 unreachable');
  assert.equal(m.headers.to, 'ops@example.com, dba@example.com');
  assert.equal(m.headers['x-safehold-alert-id'], 'abc123');
  assert.equal(m.headers['x-safehold-event'], 'run-failed');
  assert.equal(m.headers['x-priority'], '1 (Highest)');
  assert.equal(new Date(m.headers.date!).getTime(), Date.UTC(2026, 0, 1, 3), 'dated when the alert was raised');
  assert.equal(m.parts.length, 2);
  const [text, json] = m.parts;
  assert.match(text!.headers['content-type']!, /^text\/plain/);
  assert.equal(
    text!.text,
    [
      'plan nightly run r1 failed: device QA1 unreachable',
      '',
      'Event:    run-failed',
      'Severity: critical',
      'Time:     2026-01-01T03:00:00.000Z',
      'Alert:    abc123',
      '',
      'Details:',
      '{',
      '  "plan": "nightly",',
      '  "runId": "r1",',
      '  "reason": "device QA1 unreachable"',
      '}',
      '',
      'The alert as JSON is attached (safehold-alert-abc123.json).',
      '',
    ].join('\n'),
  );
  assert.match(json!.headers['content-type']!, /^application\/json/);
  assert.match(json!.headers['content-disposition']!, /attachment; filename=safehold-alert-abc123\.json/);
  assert.deepEqual(JSON.parse(json!.text), payload);
});

test('email: subject prefix is configurable; an empty prefix leaves none', LIMIT, () => {
  assert.equal(
    alertSubject(payload, '[backup-prod]'),
    '[backup-prod] CRITICAL run-failed: plan nightly run r1 failed: device QA1 unreachable',
  );
  assert.equal(alertSubject(payload, ''), 'CRITICAL run-failed: plan nightly run r1 failed: device QA1 unreachable');
});

test(
  'email: AUTH with the right password delivers; a wrong one fails at once with a clear detail and no password',
  LIMIT,
  async (t) => {
    const sink = await startSmtpSink(t, { user: 'alerts', password: PASSWORD });
    const cfg = {
      ...base,
      host: sink.host,
      port: sink.port,
      user: 'alerts',
      password: PASSWORD,
      startTls: 'never' as const,
    };
    const good = await sendEmail(payload, cfg, new ManualClock());
    assert.equal(good.ok, true, good.detail);
    await sink.waitForSessions(1);
    assert.equal(sink.messages()[0]!.user, 'alerts');

    const clock = new RecordingClock();
    const wrong = 'wr0ng-Passw0rd';
    const bad = await sendEmail(payload, { ...cfg, password: wrong, retryDelaysMs: [1000] }, clock);
    assert.deepEqual(bad, {
      ok: false,
      detail: `127.0.0.1:${sink.port} refused authentication as alerts: 535 Authentication credentials invalid`,
      attempts: 1,
    });
    assert.deepEqual(clock.sleeps, [], 'a 5xx is not retried');
    await sink.waitForSessions(2);
    assert.deepEqual(
      sink.events.filter((e) => e.type === 'auth').map((e) => [e.user, e.ok]),
      [
        ['alerts', true],
        ['alerts', false],
      ],
    );
    assert.equal(sink.messages().length, 1);
    for (const secret of [
      PASSWORD,
      wrong,
      Buffer.from(wrong).toString('base64'),
      Buffer.from(`\0alerts\0${wrong}`).toString('base64'),
    ]) {
      assert.ok(!good.detail.includes(secret) && !bad.detail.includes(secret));
    }
  },
);

test('email: a 5xx rejection is not retried', LIMIT, async (t) => {
  const sink = await startSmtpSink(t, { reject: { stage: 'data', code: 554, message: 'message refused by policy' } });
  const clock = new RecordingClock();
  const r = await sendEmail(payload, { ...base, host: sink.host, port: sink.port, retryDelaysMs: [1000, 2000] }, clock);
  assert.deepEqual(r, {
    ok: false,
    detail: `127.0.0.1:${sink.port} refused DATA: 554 message refused by policy`,
    attempts: 1,
  });
  assert.deepEqual(clock.sleeps, []);
  await sink.waitForSessions(1);
  assert.deepEqual(
    sink.events.map((e) => e.type),
    ['reject'],
  );
});

test('email: a 4xx is retried after the configured delay on the injected clock, then delivered', LIMIT, async (t) => {
  const sink = await startSmtpSink(t, { reject: { stage: 'mail', code: 451, message: 'try again later', times: 2 } });
  const clock = new RecordingClock();
  const t0 = clock.now();
  const p = sendEmail(payload, { ...base, host: sink.host, port: sink.port, retryDelaysMs: [1000, 5000] }, clock);
  await until(() => clock.sleeps.length === 1, 'first backoff');
  await sink.waitForSessions(1);
  await clock.advance(999);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(sink.events.length, 1, 'no retry before 1 s');
  await clock.advance(1);
  await until(() => clock.sleeps.length === 2, 'second backoff');
  await clock.advance(5000);
  const r = await p;
  assert.equal(r.ok, true, r.detail);
  assert.equal(r.attempts, 3);
  assert.equal(clock.now() - t0, 6000);
  await sink.waitForSessions(3);
  assert.deepEqual(
    sink.events.map((e) => e.type),
    ['reject', 'reject', 'message'],
  );
});

test('email: a refused connection is retried per retryDelaysMs, then reported failed', LIMIT, async () => {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const clock = new RecordingClock();
  const p = sendEmail(
    payload,
    { ...base, host: '127.0.0.1', port, user: 'alerts', password: PASSWORD, retryDelaysMs: [10_000, 60_000] },
    clock,
  );
  await until(() => clock.sleeps.length === 1, 'first backoff');
  await clock.advance(10_000);
  await until(() => clock.sleeps.length === 2, 'second backoff');
  await clock.advance(60_000);
  const r = await p;
  assert.deepEqual(r, {
    ok: false,
    detail: `cannot reach 127.0.0.1:${port}: ECONNREFUSED (after 3 attempts)`,
    attempts: 3,
  });
  assert.deepEqual(clock.sleeps, [10_000, 60_000]);
});

test('email: a server that never answers times out after timeoutMs (real time) and is retried', LIMIT, async (t) => {
  const sockets: net.Socket[] = [];
  const silent = net.createServer((s) => {
    sockets.push(s);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise((resolve) => silent.close(resolve));
  });
  const port = (silent.address() as AddressInfo).port;
  const clock = new RecordingClock();
  const p = sendEmail(payload, { ...base, host: '127.0.0.1', port, timeoutMs: 300, retryDelaysMs: [1000] }, clock);
  await until(() => clock.sleeps.length === 1, 'backoff');
  await clock.advance(1000);
  const r = await p;
  assert.deepEqual(r, {
    ok: false,
    detail: `no answer from 127.0.0.1:${port} within 300 ms (after 2 attempts)`,
    attempts: 2,
  });
  assert.equal(sockets.length, 2, 'connected twice');
});

test('email: a refused recipient is reported; the others still get the alert', LIMIT, async (t) => {
  const sink = await startSmtpSink(t, { rejectRecipients: ['gone@example.com'] });
  const alert = toPayload(
    'def456',
    Date.UTC(2026, 0, 2),
    retriesExhausted({ plan: 'nightly', attempts: 25, reason: 'locked' }),
  );
  const r = await sendEmail(
    alert,
    { ...base, to: ['ops@example.com', 'gone@example.com'], host: sink.host, port: sink.port },
    new ManualClock(),
  );
  assert.equal(r.ok, true, r.detail);
  assert.match(r.detail, /for ops@example\.com; rejected gone@example\.com: 250 /);
  await sink.waitForSessions(1);
  assert.deepEqual(
    sink.messages().map((m) => m.to),
    [['ops@example.com']],
  );
});

test(
  'email: STARTTLS required but not offered fails without retrying; no recipients is not sent at all',
  LIMIT,
  async (t) => {
    const sink = await startSmtpSink(t);
    const clock = new RecordingClock();
    const r = await sendEmail(
      payload,
      { ...base, host: sink.host, port: sink.port, startTls: 'required', retryDelaysMs: [1000] },
      clock,
    );
    assert.deepEqual(r, {
      ok: false,
      detail: `127.0.0.1:${sink.port} refused STARTTLS: 500 Error: command not recognized`,
      attempts: 1,
    });
    assert.deepEqual(clock.sleeps, []);
    await sink.waitForSessions(1);
    assert.deepEqual(sink.messages(), []);
    assert.deepEqual(await sendEmail(payload, { ...base, to: [], host: sink.host, port: sink.port }, clock), {
      ok: false,
      detail: 'email channel has no recipients',
      attempts: 0,
    });
  },
);
