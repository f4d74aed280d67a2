// The chat alert channel: posts the alert as one line of text to a chat
// service's incoming webhook, in that service's JSON: Slack ({text}),
// Discord ({content}) or Matrix (a hookshot-style generic webhook:
// {msgtype: 'm.text', body}). The webhook URL is a secret (its path holds
// the token): results show its host only. HTTP, retries and timeouts are the
// webhook's.

import type { Clock } from '../core/clock.ts';
import type { AlertPayload } from './events.ts';
import { hostOnly, postWithRetries } from './webhook.ts';
import type { DeliveryResult } from './webhook.ts';

export const CHAT_FORMATS = ['slack', 'discord', 'matrix'] as const;
export type ChatFormat = (typeof CHAT_FORMATS)[number];

export interface ChatConfig {
  format: ChatFormat;
  /** The incoming webhook's URL (a secret). */
  url: string;
  retryDelaysMs?: number[];
  timeoutMs?: number;
}

/** Discord refuses a message over 2000 characters. */
const DISCORD_MAX = 2000;

/** The message: `[SEVERITY] event: summary (alert id)`. */
export function chatText(payload: AlertPayload): string {
  return `[${payload.severity.toUpperCase()}] ${payload.event}: ${payload.summary} (alert ${payload.id})`;
}

/** The JSON body `format` expects. */
export function chatBody(format: ChatFormat, payload: AlertPayload): Record<string, string> {
  const text = chatText(payload);
  switch (format) {
    case 'slack':
      return { text };
    case 'discord':
      return { content: text.length > DISCORD_MAX ? `${text.slice(0, DISCORD_MAX - 1)}…` : text };
    case 'matrix':
      return { msgtype: 'm.text', body: text };
  }
}

/** Posts one alert. Never throws: failures are in the result. */
export function sendChat(payload: AlertPayload, cfg: ChatConfig, clock: Clock): Promise<DeliveryResult> {
  return postWithRetries(
    {
      kind: `${cfg.format} chat`,
      url: cfg.url,
      shown: hostOnly(cfg.url),
      body: JSON.stringify(chatBody(cfg.format, payload)),
      headers: { 'content-type': 'application/json' },
      ...(cfg.retryDelaysMs ? { retryDelaysMs: cfg.retryDelaysMs } : {}),
      ...(cfg.timeoutMs !== undefined ? { timeoutMs: cfg.timeoutMs } : {}),
    },
    clock,
  );
}
