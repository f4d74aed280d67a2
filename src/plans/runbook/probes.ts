// The three ways a runbook looks at the world, shared by the command, sql and
// http steps, by preconditions and by wait-until: run a program (argv, env,
// cwd) and keep its exit status and output; run one SQL statement and keep
// the first row; make one HTTP request and keep the status and JSON body.
// Each turns what it saw into flat outputs (${steps.S.outputs.KEY}).

import { childEnv } from '../../core/child-env.ts';
import { runChild } from '../../core/child-process.ts';
import { SafeholdError } from '../../core/errors.ts';
import { querySql, redactDbUrl } from '../../drivers/sql/sql-exec.ts';
import type { StepOutputs } from './step-kind.ts';
import type { Config } from '../../config/types.ts';

/** Characters of stdout kept as the `stdout` output. */
export const STDOUT_TAIL = 4000;

export interface CommandResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  /** The fields of the last stdout line when it is a JSON object. */
  json: Record<string, unknown> | null;
}

export async function runCommand(
  argv: readonly string[],
  o: { env?: Readonly<Record<string, string>>; cwd?: string; signal: AbortSignal },
): Promise<CommandResult> {
  const out = await runChild({
    argv,
    env: childEnv(o.env ?? {}),
    ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
    signal: o.signal,
    stdout: 'capture',
    maxCapture: 4 * 1024 * 1024,
  });
  if (out.startError) throw new SafeholdError('RUNBOOK_STEP_FAILED', out.startError.message);
  if (out.stopped === 'abort') throw abortError(o.signal, argv[0]!);
  return { exitCode: out.exitCode, stdout: out.stdout, stderr: out.stderr, json: lastLineJson(out.stdout) };
}

function abortError(signal: AbortSignal, what: string): SafeholdError {
  const reason = signal.reason;
  if (reason instanceof SafeholdError) return reason;
  return new SafeholdError('CANCELLED', `${what} was stopped`);
}

/** The fields of the last non-empty line of `text` when it is a JSON object, else null. */
export function lastLineJson(text: string): Record<string, unknown> | null {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const last = lines[lines.length - 1]?.trim();
  if (!last?.startsWith('{')) return null;
  try {
    const v = JSON.parse(last) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** The last `n` characters of `text`, without a trailing newline. */
export function tail(text: string, n = STDOUT_TAIL): string {
  const t = text.replace(/\n$/, '');
  return t.length > n ? t.slice(t.length - n) : t;
}

/** Flat outputs from a JSON object: scalars as they are, anything else as JSON text. */
export function scalarFields(o: Record<string, unknown> | null, prefix = ''): StepOutputs {
  const out: StepOutputs = {};
  for (const [k, v] of Object.entries(o ?? {})) {
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[prefix + k] = v;
    else if (v instanceof Date) out[prefix + k] = v.toISOString();
    else if (typeof v === 'bigint') out[prefix + k] = v.toString();
    else out[prefix + k] = JSON.stringify(v);
  }
  return out;
}

export interface SqlQueryResult {
  rowCount: number;
  firstRow: Record<string, unknown> | null;
}

/** Where an sql step or check connects: its URL, or the configured target it names. */
export interface SqlConnection {
  url?: string | undefined;
  target?: string | null | undefined;
  database?: string | null | undefined;
}

/**
 * The connection URL of an sql step or check: its `url`, or one built from a
 * configured postgres/mariadb target (host, port, user and password secret;
 * database `database`, by default postgres on PostgreSQL). Holds the password:
 * show it only through redactDbUrl.
 */
export function sqlUrlOf(c: SqlConnection, config: Pick<Config, 'targets'>): string {
  if (!c.target) return c.url ?? '';
  const t = config.targets[c.target];
  if (t?.kind !== 'postgres' && t?.kind !== 'mariadb')
    throw new SafeholdError(
      'RUNBOOK_STEP_FAILED',
      `'${c.target}' is not a postgres or mariadb target of the configuration`,
    );
  const auth = `${encodeURIComponent(t.user)}${t.password ? `:${encodeURIComponent(t.password.value)}` : ''}`;
  const host = t.host.startsWith('/') ? encodeURIComponent(t.host) : t.host.includes(':') ? `[${t.host}]` : t.host;
  const db = c.database ?? (t.kind === 'postgres' ? 'postgres' : '');
  return `${t.kind}://${auth}@${host}:${t.port}/${encodeURIComponent(db)}`;
}

/** How an sql step or check's connection reads in messages: never the password. */
export function describeSqlConnection(c: SqlConnection): string {
  if (c.target) return `target ${c.target}${c.database ? ` (database ${c.database})` : ''}`;
  const url = c.url ?? '';
  return url.includes('${') || url.includes('<') ? url : redactDbUrl(url);
}

export async function runSqlQuery(
  url: string,
  sql: string,
  o: { signal: AbortSignal; timeoutMs?: number },
): Promise<SqlQueryResult> {
  if (!/^(postgres(ql)?|mariadb|mysql):\/\//i.test(url))
    throw new SafeholdError('RUNBOOK_STEP_FAILED', `expected a postgres:// or mariadb:// URL, got ${redactDbUrl(url)}`);
  const r = await querySql(url, sql, { timeoutMs: o.timeoutMs ?? 60_000, signal: o.signal });
  return { rowCount: r.rowCount, firstRow: r.firstRow };
}

export interface HttpRequest {
  method?: string;
  url: string;
  headers?: Readonly<Record<string, string | number | boolean>>;
  body?: string | Record<string, unknown>;
}

export interface HttpResult {
  status: number;
  body: string;
  json: Record<string, unknown> | null;
}

export async function runHttp(req: HttpRequest, signal: AbortSignal): Promise<HttpResult> {
  const headers: Record<string, string> = Object.fromEntries(
    Object.entries(req.headers ?? {}).map(([k, v]) => [k, String(v)]),
  );
  let body: string | undefined;
  if (typeof req.body === 'string') body = req.body;
  else if (req.body !== undefined) {
    body = JSON.stringify(req.body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['content-type'] = 'application/json';
  }
  let res: Response;
  try {
    res = await fetch(req.url, {
      method: req.method ?? 'GET',
      headers,
      ...(body !== undefined ? { body } : {}),
      signal,
    });
  } catch (e) {
    if (signal.aborted) throw abortError(signal, req.url);
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new SafeholdError(
      'RUNBOOK_STEP_FAILED',
      `${req.method ?? 'GET'} ${safeUrl(req.url)}: ${cause?.code ?? cause?.message ?? (e as Error).message}`,
      {
        retryable: true,
      },
    );
  }
  const text = await res.text();
  let json: Record<string, unknown> | null = null;
  try {
    const v = JSON.parse(text) as unknown;
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) json = v as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { status: res.status, body: text, json };
}

/** A URL as safe to show (no credentials). */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(an invalid URL)';
  }
}
