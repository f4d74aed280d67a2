// The webhook alert channel: POSTs the alert as JSON to a URL, optionally
// signed (X-Safehold-Signature: sha256=<hex HMAC-SHA256 of the exact body>),
// retrying network errors, 5xx and 429 with backoff on the injected Clock.
// Its HTTP machinery (postWithRetries) also carries the healthchecks, ntfy
// and chat channels.
// Secrets never appear in results: the URL is shown without credentials or
// query, and credentials in the URL are sent as HTTP Basic authorization.

import { createHmac } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import type { AlertPayload } from './events.ts';

export interface WebhookConfig {
  url: string;
  /** When set, every request carries X-Safehold-Signature over the exact body. */
  secret?: string;
  /** Extra request headers (e.g. an API key header). */
  headers?: Record<string, string>;
  /** Waits before the 2nd, 3rd, ... attempt; default 30 s then 2 min (3 attempts). */
  retryDelaysMs?: number[];
  /** Per-attempt timeout (real time); default 10 s. */
  timeoutMs?: number;
}

export interface DeliveryResult {
  ok: boolean;
  /** One line: what happened (never a secret). */
  detail: string;
  attempts: number;
}

export const DEFAULT_RETRY_DELAYS_MS = [30_000, 120_000];
const DEFAULT_TIMEOUT_MS = 10_000;
const SIGNATURE_HEADER = 'X-Safehold-Signature';

/** `sha256=<hex>` of HMAC-SHA256(secret, body). */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** A URL that is itself a secret (a ping or chat webhook URL) as safe to show: scheme and host only. */
export function hostOnly(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}/…`;
  } catch {
    return '(invalid URL)';
  }
}

/** The URL as safe to show: scheme, host and path only (no credentials, no query, no fragment). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

/** Delivers one alert. Never throws: failures are in the result. */
export function sendWebhook(payload: AlertPayload, cfg: WebhookConfig, clock: Clock): Promise<DeliveryResult> {
  const body = JSON.stringify(payload);
  return postWithRetries(
    {
      kind: 'webhook',
      url: cfg.url,
      shown: redactUrl(cfg.url),
      body,
      headers: {
        'content-type': 'application/json',
        ...(cfg.headers ?? {}),
        ...(cfg.secret ? { [SIGNATURE_HEADER]: signBody(body, cfg.secret) } : {}),
      },
      ...(cfg.retryDelaysMs ? { retryDelaysMs: cfg.retryDelaysMs } : {}),
      ...(cfg.timeoutMs !== undefined ? { timeoutMs: cfg.timeoutMs } : {}),
    },
    clock,
  );
}

/** One HTTP delivery: what every channel built on webhooks (healthchecks, ntfy, chat) hands to postWithRetries. */
export interface HttpPost {
  /** The channel kind, for messages ('webhook', 'ntfy', ...). */
  kind: string;
  url: string;
  /** The URL as results show it (redactUrl, or hostOnly when the URL itself is a secret). */
  shown: string;
  body: string;
  headers: Record<string, string>;
  retryDelaysMs?: number[];
  timeoutMs?: number;
}

/**
 * POSTs `req.body` to `req.url`, retrying network errors, 5xx and 429 after
 * each of the retry delays (on the injected Clock), each attempt limited to
 * the timeout; credentials in the URL become HTTP Basic authorization. Never
 * throws: failures are in the result, which names the URL only as `shown`.
 */
export async function postWithRetries(req: HttpPost, clock: Clock): Promise<DeliveryResult> {
  const { shown, body } = req;
  let target: URL;
  try {
    target = new URL(req.url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    return { ok: false, detail: `${req.kind} URL ${shown} is not a valid http(s) URL`, attempts: 0 };
  }
  const headers: Record<string, string> = { 'user-agent': 'safehold-alerts', ...req.headers };
  if (target.username || target.password) {
    const user = decodeURIComponent(target.username);
    const pass = decodeURIComponent(target.password);
    headers.authorization = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  const delays = req.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const timeoutMs = req.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let detail = '';
  for (let attempt = 1; ; attempt++) {
    let retryable: boolean;
    try {
      const res = await fetch(target, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text().catch(() => '');
      if (res.status >= 200 && res.status < 300)
        return { ok: true, detail: `HTTP ${res.status} from ${shown}`, attempts: attempt };
      detail = `HTTP ${res.status} from ${shown}${text ? `: ${oneLine(text)}` : ''}`;
      retryable = res.status >= 500 || res.status === 429;
    } catch (e) {
      detail = `cannot reach ${shown}: ${networkReason(e, timeoutMs)}`;
      retryable = true;
    }
    if (!retryable || attempt > delays.length) {
      return { ok: false, detail: attempt > 1 ? `${detail} (after ${attempt} attempts)` : detail, attempts: attempt };
    }
    await clock.sleep(delays[attempt - 1]!);
  }
}

function networkReason(e: unknown, timeoutMs: number): string {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError'))
    return `no answer within ${timeoutMs} ms`;
  const cause = e instanceof Error ? (e.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return oneLine(cause.message);
  return e instanceof Error ? oneLine(e.message) : String(e);
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 200)}…` : t;
}
