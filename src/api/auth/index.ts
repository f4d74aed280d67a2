// Authentication for the REST API and the console (issue 6): who is calling,
// from `Authorization: Bearer shk_…` (API tokens) or the `safehold_session`
// cookie (console users); the CSRF check for cookie sessions; login and
// logout; and the audit log writer. The HTTP layer imports only this module
// and types.ts.

import type { Catalog } from '../../catalog/catalog.ts';
import type { AuditEntry } from '../../catalog/audit.ts';
import type { Clock } from '../../core/clock.ts';
import { systemClock } from '../../core/clock.ts';
import { timingSafeEqual } from 'node:crypto';
import { CSRF_HEADER, SESSION_COOKIE, SessionManager } from './sessions.ts';
import type { LoginResult } from './sessions.ts';
import { LoginThrottle } from './throttle.ts';
import type { ThrottlePolicy } from './throttle.ts';
import { checkToken } from './tokens.ts';
import type { AuthRequest, Authenticator, Principal } from './types.ts';

export type { AuthRequest, Authenticator, Principal, Role } from './types.ts';
export { ROLES, roleAllows } from './types.ts';
export { SESSION_COOKIE, CSRF_HEADER, SESSION_IDLE_MS, SESSION_MAX_MS, sessionCookieOptions } from './sessions.ts';
export type { LoginResult } from './sessions.ts';
export { createToken, checkToken } from './tokens.ts';
export { hashPassword, verifyPassword } from './password-hash.ts';
export type { AuditEntry } from '../../catalog/audit.ts';

export interface SessionAuthenticator extends Authenticator {
  /** Opens a console session; throws 'WRONG_PASSWORD' (bad name/password) or 'LOCKED' (throttled, details.retryAfterMs). */
  login(name: string, password: string, ip: string | null): Promise<LoginResult>;
  /** Ends the session with this cookie value; returns whether there was one. */
  logout(sessionId: string): boolean;
}

const BEARER_RE = /^Bearer +(\S+) *$/i;

export function createAuthenticator(
  catalog: Catalog,
  clock: Clock = systemClock,
  opts: { throttle?: ThrottlePolicy } = {},
): SessionAuthenticator {
  const sessions = new SessionManager(catalog, clock, new LoginThrottle(clock, opts.throttle));
  const tokens = catalog.tokens();
  return {
    async authenticate(req: AuthRequest): Promise<Principal | null> {
      const auth = header(req, 'authorization');
      // An Authorization header decides alone: a bad token is not rescued by a cookie.
      if (auth !== undefined) {
        const m = BEARER_RE.exec(auth);
        const token = m ? checkToken(catalog, m[1]!) : undefined;
        if (!token) return null;
        const now = clock.now();
        if (token.lastUsedAt === null || now - token.lastUsedAt >= 60_000) tokens.touch(token.id, now);
        return { kind: 'token', id: token.id, name: token.name, role: token.role };
      }
      const cookie = req.cookies[SESSION_COOKIE];
      if (cookie === undefined || cookie === '') return null;
      const s = sessions.resolve(cookie);
      if (!s) return null;
      return { kind: 'user', id: s.user.name, name: s.user.name, role: s.user.role, csrf: s.csrf };
    },

    checkCsrf(principal: Principal, req: AuthRequest): boolean {
      if (principal.kind === 'token') return true;
      const sent = header(req, CSRF_HEADER);
      if (sent === undefined || principal.csrf === undefined) return false;
      const a = Buffer.from(sent, 'utf8');
      const b = Buffer.from(principal.csrf, 'utf8');
      return a.length === b.length && timingSafeEqual(a, b);
    },

    login: (name, password, ip) => sessions.login(name, password, ip),
    logout: (sessionId) => sessions.logout(sessionId),
  };
}

/** The function the API calls for every state-changing request: appends to the catalog's audit log. */
export function auditTo(catalog: Catalog): (entry: AuditEntry) => void {
  const store = catalog.audit();
  return (entry) => {
    store.record(entry);
  };
}

/** A header's single value (names are matched case-insensitively); undefined when absent or repeated. */
function header(req: AuthRequest, name: string): string | undefined {
  let v = req.headers[name];
  if (v === undefined) {
    const key = Object.keys(req.headers).find((k) => k.toLowerCase() === name);
    if (key !== undefined) v = req.headers[key];
  }
  return typeof v === 'string' ? v : undefined;
}
