// The console's only way to the server: fetch() against /api with the session
// cookie (sent by the browser), X-CSRF-Token on every state-changing request,
// and the API's one error shape turned into ApiError. A 401 on any call but
// the login itself tells the app the session is gone.

export type Role = 'viewer' | 'operator' | 'admin';

export interface Session {
  user: string;
  role: Role;
  csrf: string;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let csrf = '';
let onUnauthorized: () => void = () => {};

export function setCsrf(token: string): void {
  csrf = token;
}

export function setUnauthorizedHandler(fn: () => void): void {
  onUnauthorized = fn;
}

const ROLES: Role[] = ['viewer', 'operator', 'admin'];

export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export async function api<T>(path: string, opts: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrf;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin', cache: 'no-store',
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!res.ok) {
    const err = (data as { error?: { code?: string; message?: string } } | null)?.error;
    if (res.status === 401 && path !== '/api/login') onUnauthorized();
    throw new ApiError(res.status, err?.code ?? 'HTTP', err?.message ?? `${res.status} ${res.statusText}`);
  }
  return data as T;
}

export const login = (name: string, password: string) =>
  api<Session & { expiresAt: number }>('/api/login', { method: 'POST', body: { name, password } });
export const currentSession = () => api<Session>('/api/session');
export const logout = () => api<{ ok: true }>('/api/logout', { method: 'POST' });

/** A query string from the defined values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}
