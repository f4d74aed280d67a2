// Console sessions over HTTP: log in with name and password (sets the
// HttpOnly, SameSite=Strict session cookie, Secure when the request came over
// https, directly or through a proxy's X-Forwarded-Proto), the current
// session with its CSRF token (so a reloaded page can find it again), and log
// out. Wrong credentials are one 401 whatever the cause; a throttled name is
// 429 with Retry-After; a server with no user yet answers 503 saying how to
// add one. Login and logout are audited by app.ts's hook, with the user name
// as the detail (never the password).

import type { FastifyRequest } from 'fastify';
import { isSafeholdError } from '../../core/errors.ts';
import { SESSION_COOKIE, sessionCookieOptions } from '../auth/index.ts';
import type { SessionAuthenticator } from '../auth/index.ts';
import type { Authenticator } from '../auth/types.ts';
import { HttpError } from './errors.ts';
import { loginBodySchema, loginSchema, okSchema, sessionSchema } from './schemas.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

/** The authenticator's login/logout side, when it has one (the catalog's does; a fixed test one may not). */
function sessionsOf(auth: Authenticator): SessionAuthenticator | null {
  const a = auth as Partial<SessionAuthenticator>;
  return typeof a.login === 'function' && typeof a.logout === 'function' ? (auth as SessionAuthenticator) : null;
}

/** Whether the client reached us over https: the socket itself, or a proxy saying so. */
export function cameOverHttps(req: FastifyRequest): boolean {
  if (req.protocol === 'https') return true;
  const xfp = req.headers['x-forwarded-proto'];
  const first = (Array.isArray(xfp) ? xfp[0] : xfp)?.split(',')[0]?.trim().toLowerCase();
  return first === 'https';
}

export function sessionRoutes(app: ApiApp, ctx: RouteContext): void {
  const sessions = () => {
    const s = sessionsOf(ctx.deps.auth);
    if (!s) throw new HttpError(503, 'UNAVAILABLE', 'console logins are not available on this server');
    return s;
  };
  /** Logins need a user: with none yet, 503 says how to add one (rather than a 401 that hides why). */
  const someUser = () => {
    if (ctx.deps.catalog.users().count() === 0)
      throw new HttpError(
        503,
        'UNAVAILABLE',
        "no console users yet: add one with 'safehold user add NAME --role admin --config FILE' (the server's configuration)",
      );
  };

  app.post(
    '/api/login',
    {
      schema: {
        ...op(
          'login',
          'session',
          'none',
          'log in to the console: sets the session cookie; wrong credentials 401, too many failures 429 with Retry-After, no users yet 503',
        ),
        body: loginBodySchema,
        response: { 200: loginSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const { name, password } = req.body;
      const auth = sessions();
      someUser();
      try {
        const r = await auth.login(name, password, req.ip);
        ctx.auditDetail(req, `login ${r.user} (${r.role})`);
        reply.setCookie(SESSION_COOKIE, r.sessionId, sessionCookieOptions(cameOverHttps(req)));
        reply.header('cache-control', 'no-store');
        return { user: r.user, role: r.role, csrf: r.csrf, expiresAt: r.expiresAt };
      } catch (e) {
        if (!isSafeholdError(e)) throw e;
        if (e.code === 'WRONG_PASSWORD') {
          ctx.auditDetail(req, `login refused for ${name}: wrong user name or password`);
          throw new HttpError(401, 'UNAUTHORIZED', 'wrong user name or password');
        }
        if (e.code === 'LOCKED') {
          const ms = Number(e.details?.retryAfterMs ?? 60_000);
          ctx.auditDetail(req, `login refused for ${name}: throttled`);
          reply.header('retry-after', String(Math.max(1, Math.ceil(ms / 1000))));
          throw new HttpError(429, 'LOCKED', e.message);
        }
        throw e;
      }
    },
  );

  app.get(
    '/api/session',
    {
      schema: {
        ...op('getSession', 'session', 'viewer', 'the current console session (or token) with its CSRF token'),
        response: { 200: sessionSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const p = ctx.principalOf(req)!;
      reply.header('cache-control', 'no-store');
      return { user: p.name, role: p.role, csrf: p.csrf ?? '' };
    },
  );

  app.post(
    '/api/logout',
    {
      schema: {
        ...op('logout', 'session', 'viewer', 'end the console session and clear its cookie'),
        response: { 200: okSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const cookie = req.cookies[SESSION_COOKIE];
      const p = ctx.principalOf(req)!;
      if (p.kind === 'user' && cookie) sessions().logout(cookie);
      ctx.auditDetail(req, `logout ${p.name}`);
      const { maxAge: _maxAge, ...opts } = sessionCookieOptions(cameOverHttps(req));
      reply.clearCookie(SESSION_COOKIE, opts);
      return { ok: true as const };
    },
  );
}
