// The healthchecks alert channel: pings a healthchecks.io-style check as a
// plan runs: `<url>/start` when a run starts, `<url>` when it succeeds,
// `<url>/fail` when it fails or ends partial, skipped or refused (the body is
// the summary). The ping URL is a secret (its path holds the check's key):
// results show its host only. HTTP, retries and timeouts are the webhook's.

import type { Clock } from '../core/clock.ts';
import type { AlertEventType } from '../core/alert-event.ts';
import type { AlertPayload } from './events.ts';
import { hostOnly, postWithRetries } from './webhook.ts';
import type { DeliveryResult } from './webhook.ts';

export interface HealthchecksConfig {
  /** The check's ping URL, e.g. https://hc-ping.com/<uuid> (a secret). */
  url: string;
  retryDelaysMs?: number[];
  timeoutMs?: number;
}

/** The events a healthchecks channel pings for, and the path each one adds to the ping URL. */
export const HEALTHCHECKS_PINGS: Readonly<Partial<Record<AlertEventType, string>>> = {
  'run-started': '/start',
  'run-succeeded': '',
  'run-failed': '/fail',
  'run-incomplete': '/fail',
};

/** The ping URL for `event`: the base URL with the event's path added before any query. */
export function pingUrl(base: string, event: AlertEventType): string {
  const suffix = HEALTHCHECKS_PINGS[event] ?? '';
  const u = new URL(base);
  u.pathname = `${u.pathname.replace(/\/+$/, '')}${suffix}`;
  return u.toString();
}

/** Pings the check for one run event. Never throws: failures are in the result. */
export function sendHealthchecksPing(
  payload: AlertPayload,
  cfg: HealthchecksConfig,
  clock: Clock,
): Promise<DeliveryResult> {
  let url: string;
  try {
    url = pingUrl(cfg.url, payload.event);
  } catch {
    return Promise.resolve({ ok: false, detail: 'healthchecks URL is not a valid http(s) URL', attempts: 0 });
  }
  return postWithRetries(
    {
      kind: 'healthchecks',
      url,
      shown: `${hostOnly(cfg.url)}${HEALTHCHECKS_PINGS[payload.event] ?? ''}`,
      body: payload.summary,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      ...(cfg.retryDelaysMs ? { retryDelaysMs: cfg.retryDelaysMs } : {}),
      ...(cfg.timeoutMs !== undefined ? { timeoutMs: cfg.timeoutMs } : {}),
    },
    clock,
  );
}
