// The HTTP device adapter: the REST contract of docs/adapters.md over Node's
// fetch, with an optional bearer token, a per-request timeout and JSON bodies;
// the backup arrives as an application/octet-stream body, handed on as a
// Readable with an inactivity timeout. Messages name the device's URL without
// credentials and never contain the token.

import { Readable } from 'node:stream';
import { DEFAULT_DEVICE_TIMEOUT_MS, deviceError, lastLine, redact, wireAdapter } from './adapter.ts';
import type { BackupRequest, DeviceAdapter, DeviceTransport, WireOp, WireParams } from './adapter.ts';

export interface HttpAdapterOptions {
  /** The target's name, for messages. */
  readonly name: string;
  /** Base URL; endpoints are resolved under it (`https://dp1:5554/safehold` → `/safehold/v1/units`). User and password in it become Basic auth. */
  readonly url: string;
  /** Sent as `Authorization: Bearer <token>`; null or absent: none. */
  readonly token?: string | null;
  /** Per request; for a backup, the wait for the answer's headers and then for each next chunk. */
  readonly timeoutMs?: number;
}

const ROUTES: Record<WireOp, { method: 'GET' | 'POST'; path: string }> = {
  health: { method: 'GET', path: 'v1/health' },
  units: { method: 'GET', path: 'v1/units' },
  state: { method: 'GET', path: 'v1/state' },
  quiesced: { method: 'GET', path: 'v1/quiesced' },
  quiesce: { method: 'POST', path: 'v1/quiesce' },
  unquiesce: { method: 'POST', path: 'v1/unquiesce' },
  unsaved: { method: 'GET', path: 'v1/unsaved' },
  space: { method: 'GET', path: 'v1/space' },
};

/** Status codes worth retrying besides 5xx. */
const RETRYABLE_4XX = new Set([408, 425, 429]);

export function createHttpAdapter(opts: HttpAdapterOptions): DeviceAdapter {
  return wireAdapter(new HttpTransport(opts));
}

class HttpTransport implements DeviceTransport {
  readonly name: string;
  readonly address: string;
  private readonly base: URL;
  private readonly headers: Record<string, string>;
  private readonly secrets: string[];
  private readonly timeoutMs: number;

  constructor(opts: HttpAdapterOptions) {
    this.name = opts.name;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_DEVICE_TIMEOUT_MS;
    const u = new URL(opts.url);
    const user = decodeURIComponent(u.username);
    const password = decodeURIComponent(u.password);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    if (!u.pathname.endsWith('/')) u.pathname += '/';
    this.base = u;
    this.address = `${u.protocol}//${u.host}${u.pathname.replace(/\/$/, '')}`;
    this.headers = { accept: 'application/json' };
    this.secrets = [];
    if (opts.token) {
      this.headers.authorization = `Bearer ${opts.token}`;
      this.secrets.push(opts.token);
    } else if (user !== '' || password !== '') {
      this.headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      this.secrets.push(password);
    }
  }

  async call(op: WireOp, params: WireParams, what: string): Promise<unknown> {
    const route = ROUTES[op];
    const url = new URL(route.path, this.base);
    let body: string | undefined;
    if (route.method === 'GET') {
      if (params.unit != null) url.searchParams.set('unit', params.unit);
    } else {
      body = JSON.stringify({ unit: params.unit ?? null, timeout: params.timeout });
    }
    const signal = AbortSignal.timeout(this.timeoutMs);
    let text: string;
    let res: Response;
    try {
      res = await fetch(url, {
        method: route.method,
        signal,
        redirect: 'manual',
        body,
        headers: body === undefined ? this.headers : { ...this.headers, 'content-type': 'application/json' },
      });
      text = await res.text();
    } catch (e) {
      throw this.transportError(what, e, signal);
    }
    if (!res.ok) throw this.statusError(what, res, text);
    try {
      return JSON.parse(text);
    } catch {
      throw deviceError(
        this.name,
        this.address,
        what,
        `invalid answer: not JSON: ${JSON.stringify(lastLine(redact(text, this.secrets), 80))}`,
        { retryable: false },
      );
    }
  }

  async stream(req: BackupRequest, what: string): Promise<Readable> {
    const ctl = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        ctl.abort();
      }, this.timeoutMs);
    };
    arm();
    let res: Response;
    try {
      res = await fetch(new URL('v1/backup', this.base), {
        method: 'POST',
        signal: ctl.signal,
        redirect: 'manual',
        headers: { ...this.headers, accept: 'application/octet-stream', 'content-type': 'application/json' },
        body: JSON.stringify({ unit: req.unit, kind: req.kind, state: req.state }),
      });
    } catch (e) {
      clearTimeout(timer);
      throw this.transportError(what, e, timedOut ? 'timeout' : undefined);
    }
    if (!res.ok || res.body === null) {
      const text = await res.text().catch(() => '');
      clearTimeout(timer);
      throw this.statusError(what, res, text);
    }
    clearTimeout(timer);
    const reader = res.body.getReader();
    const fail = (e: unknown) =>
      timedOut
        ? deviceError(this.name, this.address, what, `no data for ${this.timeoutMs} ms`, { retryable: true, cause: e })
        : this.transportError(what, e);
    // One pending read at a time; the inactivity timer only runs while the device owes us data.
    return new Readable({
      read() {
        arm();
        reader.read().then(
          ({ done, value }) => {
            clearTimeout(timer);
            if (this.destroyed) return;
            if (done) this.push(null);
            else this.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
          },
          (e: unknown) => {
            clearTimeout(timer);
            if (!this.destroyed) this.destroy(fail(e));
          },
        );
      },
      destroy(err, cb) {
        clearTimeout(timer);
        // Ending early (or failing) cancels the transfer on the device side.
        reader.cancel().catch(() => {});
        ctl.abort();
        cb(err);
      },
    });
  }

  /** Network failures and timeouts: retryable, with the underlying reason (ECONNREFUSED, ...). */
  private transportError(what: string, e: unknown, signal?: AbortSignal | 'timeout') {
    const timedOut = signal === 'timeout' || signal?.aborted || (e instanceof Error && e.name === 'TimeoutError');
    if (timedOut)
      return deviceError(this.name, this.address, what, `no answer within ${this.timeoutMs} ms`, {
        retryable: true,
        cause: e,
      });
    const cause = e instanceof Error && e.cause instanceof Error ? e.cause : e;
    const code =
      typeof cause === 'object' && cause !== null && 'code' in cause ? String((cause as { code: unknown }).code) : '';
    const msg = cause instanceof Error ? cause.message : String(cause);
    const detail = redact(code !== '' && !msg.includes(code) ? `${msg} (${code})` : msg, this.secrets);
    return deviceError(this.name, this.address, what, `connection failed: ${detail}`, { retryable: true, cause: e });
  }

  /** A non-2xx answer: 5xx (and 408/425/429) retryable, other 4xx not; the server's error text is shown, redacted. */
  private statusError(what: string, res: Response, text: string) {
    let said = text;
    try {
      const j = JSON.parse(text) as { error?: unknown };
      if (typeof j.error === 'string') said = j.error;
    } catch {
      /* plain text */
    }
    said =
      res.status >= 300 && res.status < 400 ? 'redirects are not followed' : lastLine(redact(said, this.secrets), 200);
    const detail = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${said ? `: ${said}` : ''}`;
    return deviceError(this.name, this.address, what, detail, {
      retryable: res.status >= 500 || RETRYABLE_4XX.has(res.status),
      details: { status: res.status },
    });
  }
}
