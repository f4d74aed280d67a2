// A real SMTP server for tests, as a separate process (smtp-sink-process.ts
// run by this Node): it records each message (envelope + raw data) and each
// AUTH attempt, can require a user and password, and can be told to refuse
// MAIL, RCPT or DATA with a given 4xx/5xx reply (the first N times, or
// always). Also a small MIME reader so tests can look inside a message.

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./smtp-sink-process.ts', import.meta.url));

export interface SmtpSinkOptions {
  /** When set, AUTH is offered and required with exactly this user and password. */
  user?: string;
  password?: string;
  /** Refuse at `stage` with `code message`, the first `times` times (default: always). */
  reject?: { stage: 'mail' | 'rcpt' | 'data'; code: number; message: string; times?: number };
  /** Recipients refused with 550 at RCPT. */
  rejectRecipients?: string[];
}

export interface ReceivedMail {
  from: string | null;
  to: string[];
  /** The authenticated user, if any. */
  user: string | null;
  raw: string;
}

export type SinkEvent =
  | { type: 'auth'; user: string | null; method: string; ok: boolean }
  | { type: 'reject'; stage: string; code: number; recipient?: string }
  | ({ type: 'message' } & ReceivedMail);

export interface SmtpSink {
  host: string;
  port: number;
  /** Every auth attempt, rejection and message, in order. */
  events: SinkEvent[];
  messages(): ReceivedMail[];
  /**
   * Waits until `n` client connections have closed: then every event of
   * those sessions is in `events` (reports come over a pipe, so they can
   * trail the SMTP replies the client already has).
   */
  waitForSessions(n: number): Promise<SinkEvent[]>;
  stop(): Promise<void>;
}

interface TestContext {
  after(fn: () => unknown): void;
}

/** Starts the sink; it is stopped after the test. */
export async function startSmtpSink(t: TestContext, opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', SCRIPT], {
    env: { ...process.env, SMTP_SINK_CONFIG: JSON.stringify(opts) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => stop(child));
  const events: SinkEvent[] = [];
  let closed = 0;
  let stderr = '';
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`smtp sink did not start within 10 s: ${stderr}`)), 10_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const o = JSON.parse(line) as { type: string; port?: number };
      if (o.type === 'listening') {
        clearTimeout(timer);
        resolve(o.port!);
      } else if (o.type === 'closed') closed++;
      else events.push(o as SinkEvent);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      stderr += d;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`smtp sink exited ${code}: ${stderr}`));
    });
  });
  return {
    host: '127.0.0.1',
    port,
    events,
    messages: () => events.filter((e): e is { type: 'message' } & ReceivedMail => e.type === 'message'),
    async waitForSessions(n) {
      const end = Date.now() + 5000;
      while (closed < n) {
        if (Date.now() > end)
          throw new Error(
            `smtp sink saw ${closed} sessions end, not ${n}: ${JSON.stringify(events.map((e) => e.type))}`,
          );
        await new Promise((r) => setTimeout(r, 5));
      }
      return events;
    },
    stop: () => stop(child),
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await exited;
}

export interface MimePart {
  /** Lower-case header names; folded lines unfolded. */
  headers: Record<string, string>;
  /** The body with its transfer encoding undone, as UTF-8 text with LF line ends. */
  text: string;
}

export interface ParsedMail {
  headers: Record<string, string>;
  /** The leaf parts in order (one for a single-part message). */
  parts: MimePart[];
}

/** Reads a message as nodemailer writes it: headers, multipart bodies, base64 / quoted-printable. */
export function parseMail(raw: string): ParsedMail {
  const { headers, body } = splitHeaders(raw);
  return { headers, parts: leaves(headers, body) };
}

function splitHeaders(raw: string): { headers: Record<string, string>; body: string } {
  const at = raw.indexOf('\r\n\r\n');
  const head = at < 0 ? raw : raw.slice(0, at);
  const body = at < 0 ? '' : raw.slice(at + 4);
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r\n(?=[ \t])/g, '').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] ??= line.slice(colon + 1).trim();
  }
  return { headers, body };
}

function leaves(headers: Record<string, string>, body: string): MimePart[] {
  const boundary = /^multipart\/.*boundary="?([^";]+)"?/i.exec(headers['content-type'] ?? '')?.[1];
  if (!boundary) return [{ headers, text: decode(body, headers['content-transfer-encoding'] ?? '7bit') }];
  const sections = body.split(`--${boundary}`).slice(1);
  const out: MimePart[] = [];
  for (const s of sections) {
    if (s.startsWith('--')) break;
    const part = splitHeaders(s.replace(/^\r\n/, '').replace(/\r\n$/, ''));
    out.push(...leaves(part.headers, part.body));
  }
  return out;
}

function decode(body: string, encoding: string): string {
  const enc = encoding.toLowerCase();
  let bytes: Buffer;
  if (enc === 'base64') bytes = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  else if (enc === 'quoted-printable') bytes = qp(body);
  else bytes = Buffer.from(body, 'utf8');
  return bytes.toString('utf8').replace(/\r\n/g, '\n');
}

function qp(body: string): Buffer {
  const s = body.replace(/=\r\n/g, '');
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(s.slice(i + 1, i + 3))) {
      out.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else out.push(...Buffer.from(s[i]!, 'utf8'));
  }
  return Buffer.from(out);
}
