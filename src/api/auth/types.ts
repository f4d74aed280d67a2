// The authentication contract between the HTTP API and the auth stores
// (issue 6): who is calling (an API token or a console user), with which
// role, and the CSRF check for cookie sessions.

export type Role = 'viewer' | 'operator' | 'admin';

export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

/** Whether `have` is allowed what `need` allows (admin ⊃ operator ⊃ viewer). */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export interface Principal {
  kind: 'token' | 'user';
  /** Token id or user name: what the audit log records. */
  id: string;
  name: string;
  role: Role;
  /** Cookie sessions only: the session's CSRF token (state-changing requests must send it in X-CSRF-Token). */
  csrf?: string;
}

export interface AuthRequest {
  headers: Record<string, string | string[] | undefined>;
  cookies: Record<string, string | undefined>;
}

export interface Authenticator {
  /** The caller, from `Authorization: Bearer <token>` or the session cookie; null when neither is valid. */
  authenticate(req: AuthRequest): Promise<Principal | null>;
  /** For state-changing requests: a cookie session must send its CSRF token; bearer tokens need none. */
  checkCsrf(principal: Principal, req: AuthRequest): boolean;
}
