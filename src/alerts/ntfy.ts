// The ntfy alert channel: publishes the alert to an ntfy topic (a POST of
// the summary to <server>/<topic>) with a Title, a Priority from the
// severity and Tags headers, and the token, when given, as a Bearer
// authorization. On a public server the topic is the key, so the URL is a
// secret: results show its host only. HTTP, retries and timeouts are the
// webhook's.

import type { Clock } from '../core/clock.ts';
import type { Severity } from '../core/alert-event.ts';
import type { AlertPayload } from './events.ts';
import { hostOnly, postWithRetries } from './webhook.ts';
import type { DeliveryResult } from './webhook.ts';

export interface NtfyConfig {
  /** The topic's URL: server and topic, e.g. https://ntfy.sh/safehold-alerts (a secret). */
  url: string;
  /** An access token (a secret), sent as Authorization: Bearer. */
  token?: string;
  retryDelaysMs?: number[];
  timeoutMs?: number;
}

/** ntfy's priorities (1 min … 5 max) for each severity. */
export const NTFY_PRIORITY: Readonly<Record<Severity, number>> = { info: 3, warning: 4, critical: 5 };

/** The request headers ntfy reads the message's title, priority and tags from (ASCII only). */
export function ntfyHeaders(payload: AlertPayload, token?: string): Record<string, string> {
  return {
    'content-type': 'text/plain; charset=utf-8',
    title: `Safehold ${payload.severity} ${payload.event}`,
    priority: String(NTFY_PRIORITY[payload.severity]),
    tags: `safehold,${payload.severity},${payload.event}`,
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
}

/** Publishes one alert. Never throws: failures are in the result. */
export function sendNtfy(payload: AlertPayload, cfg: NtfyConfig, clock: Clock): Promise<DeliveryResult> {
  return postWithRetries(
    {
      kind: 'ntfy',
      url: cfg.url,
      shown: hostOnly(cfg.url),
      body: payload.summary,
      headers: ntfyHeaders(payload, cfg.token),
      ...(cfg.retryDelaysMs ? { retryDelaysMs: cfg.retryDelaysMs } : {}),
      ...(cfg.timeoutMs !== undefined ? { timeoutMs: cfg.timeoutMs } : {}),
    },
    clock,
  );
}
