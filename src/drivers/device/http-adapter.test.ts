// Tests for the HTTP device adapter: the shared conformance suite against the
// appliance simulator's HTTP server, plus what only HTTP has: the wire format
// (paths, methods, headers, JSON bodies), base URLs with a path and with
// credentials, malformed answers and status-code mapping.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpAdapter } from './http-adapter.ts';
import { deviceAdapterConformanceSuite } from '../../../test/helpers/device-conformance.ts';
import { isSafeholdError } from '../../core/errors.ts';
import { startAppliance } from '../../../test/helpers/appliance-server.ts';

/** A URL where nothing listens: a server's port right after it closed. */
async function deadUrl(): Promise<string> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return `http://127.0.0.1:${port}`;
}

deviceAdapterConformanceSuite(
  'http',
  async (opts, conn = {}) => {
    const app = await startAppliance(opts);
    const url = conn.down ? await deadUrl() : app.url;
    const adapter = createHttpAdapter({
      name: opts.name ?? 'DEVICE',
      url,
      token: conn.token === undefined ? app.token : conn.token,
      timeoutMs: conn.timeoutMs ?? 5000,
    });
    return {
      adapter,
      token: app.token,
      read: async () => app.state,
      update: async (fn) => fn(app.state),
      close: () => app.close(),
    };
  },
  { delayMs: 150, timeoutMs: 300 },
);

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A scripted server: records requests and answers with `reply`. */
async function scripted(
  reply: (req: Seen, res: http.ServerResponse) => void,
): Promise<{ url: string; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      const s = { method: req.method!, url: req.url!, headers: req.headers, body };
      seen.push(s);
      reply(s, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
}

describe('http adapter: wire format', () => {
  it('uses the documented methods, paths, query and JSON bodies, under the base path', async () => {
    const srv = await scripted((req, res) => {
      if (req.url.includes('/backup')) {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.end('BYTES');
        return;
      }
      const answers: Record<string, unknown> = {
        health: { available: true },
        units: { units: ['D1'] },
        state: { state: 'active' },
        quiesced: { units: [] },
        quiesce: {},
        unquiesce: {},
        unsaved: { unsaved: false },
        space: { free: 10, backupSize: 5 },
      };
      json(res, req.method === 'POST' ? 202 : 200, answers[req.url.split('?')[0]!.split('/').pop()!]);
    });
    try {
      const a = createHttpAdapter({ name: 'QA1', url: `${srv.url}/dp/api/`, token: 'tok-123456' });
      await a.available();
      await a.listUnits();
      await a.quiesceState('D 1/x');
      await a.quiesceState(null);
      await a.quiescedUnits();
      await a.quiesce('D1', 90);
      await a.unquiesce(null, 0);
      await a.unsavedChanges('D1');
      await a.freeSpace();
      const s = await a.backup({ unit: 'D1', kind: 'export', state: 'running' });
      let text = '';
      for await (const c of s) text += c;
      assert.equal(text, 'BYTES');
      assert.deepEqual(
        srv.seen.map((r) => `${r.method} ${r.url} ${r.body}`),
        [
          'GET /dp/api/v1/health ',
          'GET /dp/api/v1/units ',
          'GET /dp/api/v1/state?unit=D+1%2Fx ',
          'GET /dp/api/v1/state ',
          'GET /dp/api/v1/quiesced ',
          'POST /dp/api/v1/quiesce {"unit":"D1","timeout":90}',
          'POST /dp/api/v1/unquiesce {"unit":null,"timeout":0}',
          'GET /dp/api/v1/unsaved?unit=D1 ',
          'GET /dp/api/v1/space ',
          'POST /dp/api/v1/backup {"unit":"D1","kind":"export","state":"running"}',
        ],
      );
      for (const r of srv.seen) assert.equal(r.headers.authorization, 'Bearer tok-123456');
      assert.equal(srv.seen[5]!.headers['content-type'], 'application/json');
      assert.equal(a.address, `${srv.url}/dp/api`);
    } finally {
      await srv.close();
    }
  });

  it('credentials in the URL become Basic auth and never appear in the address or messages', async () => {
    const srv = await scripted((_req, res) => json(res, 500, { error: 'boom' }));
    try {
      const a = createHttpAdapter({
        name: 'QA2',
        url: `${srv.url.replace('http://', 'http://admin:pa%24%24word@')}/?x=1`,
      });
      await assert.rejects(a.listUnits(), (e: unknown) => {
        assert.ok(isSafeholdError(e, 'IO'));
        assert.equal(e.message, `device QA2 (${srv.url}): list units failed: HTTP 500 Internal Server Error: boom`);
        assert.equal(e.retryable, true);
        return true;
      });
      assert.equal(srv.seen[0]!.headers.authorization, `Basic ${Buffer.from('admin:pa$$word').toString('base64')}`);
      assert.equal(a.address, srv.url);
    } finally {
      await srv.close();
    }
  });

  it('maps status codes: 5xx/429 retryable, other 4xx not; the token is redacted from what the server says', async () => {
    let status = 0;
    const srv = await scripted((_req, res) =>
      json(res, status, { error: 'rejected token tok-SECRET-99 for this call' }),
    );
    try {
      const a = createHttpAdapter({ name: 'QA3', url: srv.url, token: 'tok-SECRET-99' });
      for (const [st, retry] of [
        [400, false],
        [403, false],
        [404, false],
        [429, true],
        [500, true],
        [502, true],
        [503, true],
      ] as const) {
        status = st;
        await assert.rejects(a.freeSpace(), (e: unknown) => {
          assert.ok(isSafeholdError(e, 'IO'));
          assert.equal(e.retryable, retry, `status ${st}`);
          assert.match(
            e.message,
            new RegExp(`free space query failed: HTTP ${st}\\b.*: rejected token \\*\\*\\* for this call$`),
          );
          assert.equal((e.details as { status: number }).status, st);
          return true;
        });
      }
    } finally {
      await srv.close();
    }
  });

  it('malformed answers are non-retryable IO errors saying what was expected', async () => {
    const bodies = [
      'not json at all',
      '{"units": "D1"}',
      '{"state": "sleeping"}',
      '{"free": -1, "backupSize": 2}',
      '[1,2]',
    ];
    let i = 0;
    const srv = await scripted((_req, res) => json(res, 200, bodies[i++]!));
    try {
      const a = createHttpAdapter({ name: 'QA4', url: srv.url });
      const expect = async (p: Promise<unknown>, re: RegExp) =>
        assert.rejects(p, (e: unknown) => {
          assert.ok(isSafeholdError(e, 'IO'));
          assert.equal(e.retryable, false);
          assert.match(e.message, re);
          return true;
        });
      await expect(a.listUnits(), /list units failed: invalid answer: not JSON: "not json at all"/);
      await expect(a.listUnits(), /invalid answer: expected \{"units": \[string, \.\.\.\]\}/);
      await expect(
        a.quiesceState('D1'),
        /invalid answer: expected \{"state": "active"\|"quiescing"\|"quiesced"\|"unquiescing"\}/,
      );
      await expect(a.freeSpace(), /invalid answer: expected \{"free": bytes, "backupSize": bytes\}/);
      await expect(a.freeSpace(), /invalid answer: expected a JSON object/);
      assert.equal((await a.available()).ok, false, 'a malformed health answer is unavailable');
    } finally {
      await srv.close();
    }
  });

  it('a redirect is refused rather than followed with the token', async () => {
    const target = await scripted((_req, res) => json(res, 200, { units: ['X'] }));
    const srv = await scripted((_req, res) => {
      res.writeHead(302, { location: `${target.url}/v1/units` });
      res.end();
    });
    try {
      const a = createHttpAdapter({ name: 'QA5', url: srv.url, token: 'tok-abcdef' });
      await assert.rejects(a.listUnits(), (e: unknown) => {
        assert.ok(isSafeholdError(e, 'IO'));
        assert.equal(
          e.message,
          `device QA5 (${srv.url}): list units failed: HTTP 302 Found: redirects are not followed`,
        );
        assert.equal(e.retryable, false);
        return true;
      });
      assert.equal(target.seen.length, 0);
    } finally {
      await srv.close();
      await target.close();
    }
  });

  it('a backup whose server goes quiet mid-stream fails after the inactivity timeout, not at once', {
    timeout: 20_000,
  }, async () => {
    const srv = await scripted((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.write(Buffer.alloc(1000, 1));
      setTimeout(() => res.write(Buffer.alloc(1000, 2)), 150);
      // ...then nothing more, connection left open.
    });
    try {
      const a = createHttpAdapter({ name: 'QA6', url: srv.url, timeoutMs: 400 });
      const t0 = performance.now();
      const s = await a.backup({ unit: null, kind: 'backup', state: 'persisted' });
      let got = 0;
      await assert.rejects(
        (async () => {
          for await (const c of s) got += c.length;
        })(),
        (e: unknown) => {
          assert.ok(isSafeholdError(e, 'IO'));
          assert.match(e.message, /backup of the whole device \(persisted\) failed: no data for 400 ms/);
          return true;
        },
      );
      assert.equal(got, 2000);
      const ms = performance.now() - t0;
      assert.ok(ms >= 540 && ms < 3000, `failed after ${ms} ms`);
    } finally {
      await srv.close();
    }
  });

  it('a slow reader does not trip the inactivity timeout', { timeout: 20_000 }, async () => {
    const app = await startAppliance({ name: 'QA7', backupBytes: 4 * 1024 * 1024 });
    try {
      const a = createHttpAdapter({ name: 'QA7', url: app.url, token: app.token, timeoutMs: 200 });
      const s = await a.backup({ unit: null, kind: 'backup', state: 'persisted' });
      let got = 0;
      let first = true;
      for await (const c of s) {
        got += c.length;
        if (first) {
          first = false;
          await new Promise((r) => setTimeout(r, 500));
        }
      }
      assert.equal(got, 4 * 1024 * 1024);
    } finally {
      await app.close();
    }
  });
});
