// The console's only way to the server: fetch() against /api with the session
// cookie (sent by the browser), X-CSRF-Token on every state-changing request,
// and the API's one error shape turned into ApiError. A 401 on any call but
// the login itself tells the app the session is gone.

import type { ApiErrorBody, LoginRequest, LoginResult, Ok, Role, Session } from './types.ts';

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

/** The roles from least to most allowed. */
const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export async function api<T>(path: string, opts: { method?: string; body?: unknown } = {}): Promise<T> {
  const method = opts.method ?? 'GET';
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['x-csrf-token'] = csrf;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
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
    // The API's error shape, though a proxy in front may answer with anything.
    const err: Partial<ApiErrorBody['error']> | undefined = (data as Partial<ApiErrorBody> | null)?.error;
    if (res.status === 401 && path !== '/api/login') onUnauthorized();
    throw new ApiError(res.status, err?.code ?? 'HTTP', err?.message ?? `${res.status} ${res.statusText}`);
  }
  return data as T;
}

export const login = (name: string, password: string) =>
  api<LoginResult>('/api/login', { method: 'POST', body: { name, password } satisfies LoginRequest });
export const currentSession = () => api<Session>('/api/session');
export const logout = () => api<Ok>('/api/logout', { method: 'POST' });

/** A query string from the defined values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}

// Runbooks (docs/api.md): the calls that change something; reads go through useApi.
import type { RunbookDryRun, RunbookRun, RunbookRunStarted } from './types.ts';
const rb = (name: string) => `/api/runbooks/${encodeURIComponent(name)}`;
const rbRun = (id: string) => `/api/runbook-runs/${encodeURIComponent(id)}`;
export const dryRunRunbook = (name: string, vars: Record<string, string>) =>
  api<RunbookDryRun>(`${rb(name)}/dry-run`, { method: 'POST', body: { vars } });
export const startRunbook = (name: string, vars: Record<string, string>, confirm?: string) =>
  api<RunbookRunStarted>(`${rb(name)}/runs`, { method: 'POST', body: { vars, ...(confirm ? { confirm } : {}) } });
export const approveRunbookStep = (
  id: string,
  step: string,
  action: 'approve' | 'rerun' | 'mark-done',
  confirm?: string,
) =>
  api<RunbookRun>(`${rbRun(id)}/steps/${encodeURIComponent(step)}/approve`, {
    method: 'POST',
    body: { action, ...(confirm ? { confirm } : {}) },
  });
export const abortRunbookRun = (id: string) => api<RunbookRun>(`${rbRun(id)}/abort`, { method: 'POST' });
export const resumeRunbookRun = (id: string) => api<RunbookRunStarted>(`${rbRun(id)}/resume`, { method: 'POST' });
