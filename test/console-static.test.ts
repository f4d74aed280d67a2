// The console's static handler over real HTTP: files with their content
// types and caching, index.html for page paths (SPA fallback) with its
// security headers, JSON 404 for unknown /api paths, no traversal or
// dot-files, and 503 "console not built" without a build.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';
import type { ApiApp, RouteContext } from '../src/api/http/route-def.ts';
import { consoleRoutes, resolveStatic } from '../src/api/http/routes-console.ts';

async function serve(root: string): Promise<{ base: string; port: number; close(): Promise<void> }> {
  const app = Fastify();
  consoleRoutes(app as unknown as ApiApp, {} as RouteContext, root);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  return { base: `http://127.0.0.1:${port}`, port, close: () => app.close() };
}

/** A raw request line, so `..` reaches the server undecoded by fetch's URL parser. */
function rawGet(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () =>
      s.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
    );
    let out = '';
    s.on('data', (d) => {
      out += d.toString('latin1');
    });
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}

describe('console static files', () => {
  let dir = '';
  let root = '';
  let srv: Awaited<ReturnType<typeof serve>>;
  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-console-'));
    root = path.join(dir, 'dist');
    fs.mkdirSync(path.join(root, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>console</title>');
    fs.writeFileSync(path.join(root, 'assets', 'app-1234.js'), 'console.log(1)');
    fs.writeFileSync(path.join(root, 'assets', 'app-1234.css'), 'body{}');
    fs.writeFileSync(path.join(root, 'favicon.svg'), '<svg/>');
    fs.writeFileSync(path.join(root, '.env'), 'SECRET=1');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'outside');
    fs.symlinkSync(path.join(dir, 'secret.txt'), path.join(root, 'link.txt'));
    srv = await serve(root);
  });
  after(async () => {
    await srv.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves files with their content types; hashed assets are immutable', async () => {
    const cases: [string, string, string, string][] = [
      [
        '/assets/app-1234.js',
        'text/javascript; charset=utf-8',
        'console.log(1)',
        'public, max-age=31536000, immutable',
      ],
      ['/assets/app-1234.css', 'text/css; charset=utf-8', 'body{}', 'public, max-age=31536000, immutable'],
      ['/favicon.svg', 'image/svg+xml', '<svg/>', 'no-cache'],
    ];
    for (const [p, type, body, cache] of cases) {
      const r = await fetch(srv.base + p);
      assert.equal(r.status, 200, p);
      assert.deepEqual(
        [
          r.headers.get('content-type'),
          await r.text(),
          r.headers.get('cache-control'),
          r.headers.get('x-content-type-options'),
        ],
        [type, body, cache, 'nosniff'],
      );
    }
  });

  it('answers page paths with index.html and its security headers', async () => {
    for (const p of ['/', '/plans', '/runs/0123456789abcdef', '/index.html']) {
      const r = await fetch(srv.base + p);
      assert.equal(r.status, 200, p);
      assert.equal(r.headers.get('content-type'), 'text/html; charset=utf-8');
      assert.equal(await r.text(), '<!doctype html><title>console</title>');
      assert.match(r.headers.get('content-security-policy')!, /default-src 'self'; script-src 'self'/);
      assert.equal(r.headers.get('x-frame-options'), 'DENY');
    }
  });

  it('a missing file is 404; an unknown /api path and /metrics (when off) the JSON 404', async () => {
    const miss = await fetch(`${srv.base}/assets/nope.js`);
    assert.deepEqual([miss.status, await miss.text()], [404, 'not found\n']);
    for (const p of ['/api/nope', '/metrics']) {
      const api = await fetch(`${srv.base}${p}`);
      assert.equal(api.status, 404, p);
      assert.equal(((await api.json()) as { error: { code: string } }).error.code, 'NOT_FOUND');
    }
  });

  it('no traversal, dot-files or symlinks out of the dist directory', async () => {
    for (const target of [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/..%2fsecret.txt',
      '/.env',
      '/link.txt',
      '/assets%5c..%5c..%5csecret.txt',
    ]) {
      const raw = await rawGet(srv.port, target);
      assert.ok(!raw.includes('outside') && !raw.includes('SECRET'), `${target} leaked: ${raw.slice(0, 200)}`);
      // Refused, or (a page-like path) answered with the SPA's index.html.
      assert.match(raw, /^HTTP\/1\.1 (404|400)|^HTTP\/1\.1 200 [\s\S]*<title>console<\/title>/, target);
    }
    assert.equal(resolveStatic(root, '/assets/app-1234.js'), fs.realpathSync(path.join(root, 'assets', 'app-1234.js')));
    assert.equal(resolveStatic(root, '/../secret.txt'), null);
    assert.equal(resolveStatic(root, '/%E0%A4%A'), null, 'malformed escapes');
    assert.equal(resolveStatic(root, '/assets'), null, 'directories are not files');
  });

  it('without a build: 503 "console not built"', async () => {
    const empty = await serve(path.join(dir, 'missing'));
    try {
      for (const p of ['/', '/plans']) {
        const r = await fetch(empty.base + p);
        assert.deepEqual([r.status, await r.text()], [503, 'console not built: run npm run build\n']);
      }
    } finally {
      await empty.close();
    }
  });
});
