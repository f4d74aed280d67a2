// The email alert channel: one message per alert over SMTP (nodemailer), with
// the subject "[Safehold] CRITICAL run-failed: <summary>", a plain-text body
// (summary, event, severity, time, id, details as indented JSON) and the alert
// JSON attached. Connection failures, timeouts and 4xx replies are retried
// with backoff on the injected Clock; 5xx replies (the server refused for
// good: bad recipient, wrong password, ...) are not. The password never
// appears in results.

import nodemailer from 'nodemailer';
import type { NodemailerError, SMTPTransportOptions, SendMailOptions } from 'nodemailer';
import type { Clock } from '../core/clock.ts';
import type { AlertPayload } from './events.ts';
import { DEFAULT_RETRY_DELAYS_MS } from './webhook.ts';
import type { DeliveryResult } from './webhook.ts';

export interface EmailConfig {
  host: string;
  /** Default 587, or 465 with `secure`. */
  port?: number;
  /** Implicit TLS from the first byte (usually port 465). */
  secure?: boolean;
  /** STARTTLS on a plain connection: 'required' fails without it, 'never' skips it; default 'opportunistic'. */
  startTls?: 'required' | 'opportunistic' | 'never';
  user?: string;
  /** A secret: never shown. */
  password?: string;
  from: string;
  to: string[];
  /** Starts every subject; default '[Safehold]'. */
  subjectPrefix?: string;
  /** Limit for connecting, the greeting and each reply (real time); default 30 s. */
  timeoutMs?: number;
  /** Waits before the 2nd, 3rd, ... attempt; default 30 s then 2 min (3 attempts). */
  retryDelaysMs?: number[];
}

const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_PREFIX = '[Safehold]';

/** The subject line of an alert's message. */
export function alertSubject(payload: AlertPayload, prefix = DEFAULT_PREFIX): string {
  return `${prefix ? `${prefix} ` : ''}${payload.severity.toUpperCase()} ${payload.event}: ${payload.summary}`;
}

/** The plain-text body of an alert's message. */
export function alertText(payload: AlertPayload): string {
  return [
    payload.summary,
    '',
    `Event:    ${payload.event}`,
    `Severity: ${payload.severity}`,
    `Time:     ${payload.at}`,
    `Alert:    ${payload.id}`,
    '',
    'Details:',
    JSON.stringify(payload.details, null, 2),
    '',
    `The alert as JSON is attached (${attachmentName(payload)}).`,
    '',
  ].join('\n');
}

function attachmentName(payload: AlertPayload): string {
  return `safehold-alert-${payload.id}.json`;
}

/** The message for `payload` as nodemailer takes it. */
export function alertMessage(payload: AlertPayload, cfg: EmailConfig): SendMailOptions {
  return {
    from: cfg.from,
    to: cfg.to,
    subject: alertSubject(payload, cfg.subjectPrefix ?? DEFAULT_PREFIX),
    text: alertText(payload),
    date: new Date(payload.at),
    priority: payload.severity === 'critical' ? 'high' : 'normal',
    headers: {
      'X-Safehold-Alert-Id': payload.id,
      'X-Safehold-Event': payload.event,
      'X-Safehold-Severity': payload.severity,
    },
    attachments: [
      {
        filename: attachmentName(payload),
        content: `${JSON.stringify(payload, null, 2)}\n`,
        contentType: 'application/json; charset=utf-8',
      },
    ],
  };
}

/** Sends one message for the alert. Never throws: failures are in the result. */
export async function sendEmail(payload: AlertPayload, cfg: EmailConfig, clock: Clock): Promise<DeliveryResult> {
  if (cfg.to.length === 0) return { ok: false, detail: 'email channel has no recipients', attempts: 0 };
  const port = cfg.port ?? (cfg.secure ? 465 : 587);
  const server = `${cfg.host}:${port}`;
  const timeoutMs = cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const delays = cfg.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const options: SMTPTransportOptions = {
    host: cfg.host,
    port,
    secure: cfg.secure ?? false,
    requireTLS: cfg.startTls === 'required',
    ignoreTLS: cfg.startTls === 'never',
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    ...(cfg.user !== undefined ? { auth: { user: cfg.user, pass: cfg.password ?? '' } } : {}),
  };
  const message = alertMessage(payload, cfg);
  let detail = '';
  for (let attempt = 1; ; attempt++) {
    let retryable: boolean;
    const transport = nodemailer.createTransport(options);
    try {
      const info = await transport.sendMail(message);
      const rejected = info.rejected.map(String);
      return {
        ok: true,
        detail: scrub(
          `accepted by ${server} for ${info.accepted.map(String).join(', ')}${rejected.length ? `; rejected ${rejected.join(', ')}` : ''}: ${oneLine(info.response)}`,
          cfg,
        ),
        attempts: attempt,
      };
    } catch (e) {
      ({ detail, retryable } = describeFailure(
        (e instanceof Error ? e : new Error(String(e))) as NodemailerError,
        server,
        cfg,
        timeoutMs,
      ));
    } finally {
      transport.close();
    }
    if (!retryable || attempt > delays.length) {
      return { ok: false, detail: attempt > 1 ? `${detail} (after ${attempt} attempts)` : detail, attempts: attempt };
    }
    await clock.sleep(delays[attempt - 1]!);
  }
}

/** One line for the failure, and whether another attempt may succeed. */
function describeFailure(
  e: NodemailerError,
  server: string,
  cfg: EmailConfig,
  timeoutMs: number,
): { detail: string; retryable: boolean } {
  const code = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  if (code !== undefined) {
    const what =
      e.code === 'EAUTH'
        ? `authentication as ${cfg.user ?? '(no user)'}`
        : e.command
          ? `${e.command.split(/\s/)[0]}`
          : 'the message';
    const reply = oneLine(e.response ?? e.message);
    return {
      detail: scrub(`${server} refused ${what}: ${reply.startsWith(String(code)) ? reply : `${code} ${reply}`}`, cfg),
      retryable: code < 500,
    };
  }
  const sys = e.originalCode ?? e.code;
  if (e.code === 'ETIMEDOUT') return { detail: `no answer from ${server} within ${timeoutMs} ms`, retryable: true };
  if (e.code === 'ECONNECTION' || e.code === 'ESOCKET' || e.code === 'EDNS') {
    return {
      detail: scrub(`cannot reach ${server}: ${sys && sys !== e.code ? sys : oneLine(e.message)}`, cfg),
      retryable: true,
    };
  }
  return { detail: scrub(`cannot send via ${server}: ${oneLine(e.message)}`, cfg), retryable: false };
}

/** Removes the password (as is and as the SASL PLAIN / LOGIN encodings carry it) from text shown to people. */
function scrub(text: string, cfg: EmailConfig): string {
  const pw = cfg.password;
  if (!pw) return text;
  const forms = [pw, Buffer.from(pw).toString('base64'), Buffer.from(`\0${cfg.user ?? ''}\0${pw}`).toString('base64')];
  let out = text;
  for (const f of forms) out = out.split(f).join('***');
  return out;
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > 300 ? `${t.slice(0, 300)}…` : t;
}
