// Console sessions: login with a user name and password gives a random
// session id (the value of the `safehold_session` cookie) and a CSRF token.
// The catalog keeps only SHA-256 of both. The CSRF token is an HMAC of the
// session id, so the server can hand it to the page again (GET of the current
// session) without storing it, and a page cannot compute it without the
// HttpOnly cookie. Sessions end on logout, after 12 h idle, or 7 days after
// login (times from the injected clock); password change or user removal ends
// them too. Every password check runs under the login throttle
// (throttle.ts): locked names and client addresses are refused before and
// after the check, and only one check per name runs at a time.

import { createHmac, randomBytes } from 'node:crypto';
import type { Catalog } from '../../catalog/catalog.ts';
import type { UserInfo, UserRecord } from '../../catalog/users.ts';
import type { Clock } from '../../core/clock.ts';
import { SafeholdError } from '../../core/errors.ts';
import { hashPassword, verifyPassword } from './password-hash.ts';
import { LoginThrottle } from './throttle.ts';
import { sameHex, sha256Hex } from './tokens.ts';
import type { Role } from './types.ts';

export const SESSION_COOKIE = 'safehold_session';
export const CSRF_HEADER = 'x-csrf-token';
export const SESSION_IDLE_MS = 12 * 3600_000;
export const SESSION_MAX_MS = 7 * 24 * 3600_000;
/** last_seen_at is written at most this often per session (not on every request). */
const TOUCH_EVERY_MS = 60_000;
const SESSION_RE = /^[A-Za-z0-9_-]{43}$/;

export interface LoginResult {
  /** The cookie value: shown to the client once, stored only hashed. */
  sessionId: string;
  csrf: string;
  user: string;
  role: Role;
  expiresAt: number;
}

export interface ActiveSession {
  user: UserInfo;
  csrf: string;
  expiresAt: number;
}

/** The attributes of the session cookie: HttpOnly, SameSite=Strict, Path=/, Secure when served over https. */
export function sessionCookieOptions(secure: boolean): {
  httpOnly: true;
  sameSite: 'strict';
  secure: boolean;
  path: '/';
  maxAge: number;
} {
  return { httpOnly: true, sameSite: 'strict', secure, path: '/', maxAge: SESSION_MAX_MS / 1000 };
}

function csrfFor(sessionId: string): string {
  return createHmac('sha256', sessionId).update('safehold csrf v1').digest('base64url');
}

export class SessionManager {
  private readonly catalog: Catalog;
  private readonly clock: Clock;
  private readonly throttle: LoginThrottle;
  /** A hash to verify against when the user does not exist, so timing does not tell names apart. */
  private dummyHash: Promise<string> | undefined;

  constructor(catalog: Catalog, clock: Clock, throttle: LoginThrottle = new LoginThrottle(clock)) {
    this.catalog = catalog;
    this.clock = clock;
    this.throttle = throttle;
  }

  /**
   * Checks the password and opens a session. Throws 'WRONG_PASSWORD' for an
   * unknown or disabled user or a wrong password (one message for all), and
   * 'LOCKED' (retryable, details.retryAfterMs) while the name or the client
   * address is throttled, or while another login for the name is being checked.
   */
  async login(name: string, password: string, ip: string | null): Promise<LoginResult> {
    const user = await this.throttle.attempt(name, ip, () => this.check(name, password));
    if (!user) throw new SafeholdError('WRONG_PASSWORD', 'wrong user name or password');
    const now = this.clock.now();
    const sessionId = randomBytes(32).toString('base64url');
    const csrf = csrfFor(sessionId);
    const expiresAt = now + SESSION_MAX_MS;
    const sessions = this.catalog.sessions();
    sessions.purge(now, now - SESSION_IDLE_MS);
    sessions.add({
      id: sha256Hex(sessionId),
      user: user.name,
      csrf: sha256Hex(csrf),
      createdAt: now,
      expiresAt,
      lastSeenAt: now,
      ip,
    });
    return { sessionId, csrf, user: user.name, role: user.role, expiresAt };
  }

  /** Ends the session with this cookie value; returns whether there was one. */
  logout(sessionId: string): boolean {
    if (!SESSION_RE.test(sessionId)) return false;
    return this.catalog.sessions().delete(sha256Hex(sessionId));
  }

  /** The live session of this cookie value (its user read now, so role changes apply at once), or null. */
  resolve(sessionId: string): ActiveSession | null {
    if (!SESSION_RE.test(sessionId)) return null;
    const sessions = this.catalog.sessions();
    const id = sha256Hex(sessionId);
    const s = sessions.get(id);
    if (!s) return null;
    const now = this.clock.now();
    if (now >= s.expiresAt || now - s.lastSeenAt >= SESSION_IDLE_MS) {
      sessions.delete(id);
      return null;
    }
    const csrf = csrfFor(sessionId);
    const user = this.catalog.users().get(s.user);
    if (!user || user.disabledAt !== null || !sameHex(sha256Hex(csrf), s.csrf)) return null;
    if (now - s.lastSeenAt >= TOUCH_EVERY_MS) sessions.touch(id, now);
    const { passwordHash: _hash, ...info } = user;
    return { user: info, csrf, expiresAt: s.expiresAt };
  }

  /** The user when `password` is theirs and they may log in, else null; an unknown name costs the same scrypt check. */
  private async check(name: string, password: string): Promise<UserRecord | null> {
    const user = this.catalog.users().get(name);
    const ok = await verifyPassword(password, user?.passwordHash ?? (await this.dummy()));
    return user && ok && user.disabledAt === null ? user : null;
  }

  private dummy(): Promise<string> {
    this.dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
    return this.dummyHash;
  }
}
