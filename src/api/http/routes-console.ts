// The web console (web/, built into web/dist by `npm run build`) served at
// `/`: static files with their content types, and every other GET (but /api
// and /metrics) answered with index.html so the single-page app's own routes
// survive a reload. Paths are resolved inside the dist directory only (no traversal,
// no dot-files, no directory listings). Without a build, 503 says how to make
// one. The routes are hidden from the OpenAPI document and need no role: the
// page itself holds no data, the API calls it makes are authenticated.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ApiApp, RouteContext } from './route-def.ts';

/** web/dist of this checkout. */
export const CONSOLE_DIST = fileURLToPath(new URL('../../../web/dist', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/**
 * The file under `root` that a URL path names, or null when it names none
 * (outside root, a dot-file, a directory, missing, or malformed).
 */
export function resolveStatic(root: string, urlPath: string): string | null {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (rel.includes('\0') || rel.includes('\\')) return null;
  const parts = rel.split('/').filter((p) => p !== '');
  if (parts.some((p) => p === '..' || p.startsWith('.'))) return null;
  const file = path.resolve(root, ...parts);
  if (file !== root && !file.startsWith(root + path.sep)) return null;
  try {
    const real = fs.realpathSync(file);
    const realRoot = fs.realpathSync(root);
    if (!real.startsWith(realRoot + path.sep)) return null;
    return fs.statSync(real).isFile() ? real : null;
  } catch {
    return null;
  }
}

export function consoleRoutes(app: ApiApp, _ctx: RouteContext, root: string = CONSOLE_DIST): void {
  const serve = async (req: FastifyRequest, reply: FastifyReply) => {
    const urlPath = req.url.split('?')[0] ?? '/';
    // The server's own paths are never pages: /metrics when metrics are off, unknown /api routes.
    if (urlPath === '/api' || urlPath.startsWith('/api/') || urlPath === '/metrics') {
      return reply
        .code(404)
        .type('application/json')
        .send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${urlPath}`, requestId: req.id } });
    }
    const index = path.join(root, 'index.html');
    if (!fs.existsSync(index)) {
      return reply.code(503).type('text/plain; charset=utf-8').send('console not built: run npm run build\n');
    }
    const file = resolveStatic(root, urlPath);
    reply.header('x-content-type-options', 'nosniff');
    if (file && path.basename(file) !== 'index.html') {
      const type = TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
      // Vite puts content hashes in the names under assets/: they never change.
      reply.header(
        'cache-control',
        urlPath.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
      );
      return reply.type(type).send(fs.createReadStream(file));
    }
    if (!file && path.extname(urlPath) !== '')
      return reply.code(404).type('text/plain; charset=utf-8').send('not found\n');
    // A page route of the SPA: the app decides what to show.
    reply.header('cache-control', 'no-cache');
    reply.header('content-security-policy', CSP);
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    return reply.type(TYPES['.html']!).send(fs.createReadStream(index));
  };
  app.get('/', { schema: { hide: true } }, serve);
  app.get('/*', { schema: { hide: true } }, serve);
}
