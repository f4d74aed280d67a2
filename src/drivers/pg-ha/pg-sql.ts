// SQL on one server for the HA primitives: a connection per call through
// node-postgres, with a time limit and the abort signal, errors without the
// password. `tryConnect` tells "cannot connect" (the server is unreachable:
// a normal answer for status and fence) apart from failures of a statement.

import pg from 'pg';
import { SafeholdError } from '../../core/errors.ts';
import { pgTarget } from './pg-target.ts';
import type { PgTarget } from './pg-target.ts';

export interface SqlOptions {
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** A one-row query. */
export type Query = <T = Record<string, unknown>>(text: string, values?: unknown[]) => Promise<T[]>;

function clean(t: PgTarget, e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return t.password ? msg.split(t.password).join('***') : msg;
}

/** Opens a client, or returns null when the server cannot be reached (refused, timed out, shutting down). */
async function connect(t: PgTarget, o: SqlOptions): Promise<pg.Client | null> {
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = new pg.Client({
    host: t.host,
    port: t.port,
    user: t.user,
    database: t.database,
    password: t.password ?? undefined,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    application_name: 'safehold',
  });
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (e) {
    await client.end().catch(() => {});
    const code = (e as { code?: string }).code ?? '';
    // 57P03 cannot_connect_now (starting up / shutting down), 57P01 admin shutdown, 08xxx connection exceptions.
    if (
      /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOENT|EAI_AGAIN|ENOTFOUND|57P0[1-3]|08)/.test(code)
    )
      return null;
    if (/timeout|terminated|Connection terminated/i.test(clean(t, e))) return null;
    throw new SafeholdError('IO', `cannot connect to ${t.where}: ${clean(t, e)}`, { cause: e });
  }
}

/**
 * Runs `fn` with a query function on `spec`; `null` when the server cannot be
 * reached. Statement failures are SafeholdErrors (IO) naming the server.
 */
export async function tryWithServer<R>(spec: string | PgTarget, fn: (q: Query) => Promise<R>, o: SqlOptions = {}) {
  const t = typeof spec === 'string' ? pgTarget(spec) : spec;
  o.signal?.throwIfAborted();
  const client = await connect(t, o);
  if (!client) return null;
  const onAbort = () => void client.end().catch(() => {});
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const q: Query = async <T>(text: string, values?: unknown[]) => (await client.query(text, values)).rows as T[];
    return { value: await fn(q) };
  } catch (e) {
    if (o.signal?.aborted) throw new SafeholdError('CANCELLED', `the statement on ${t.where} was cancelled`);
    if (e instanceof SafeholdError) throw e;
    throw new SafeholdError('IO', `${t.where}: ${clean(t, e)}`, { cause: e, retryable: true });
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
    await client.end().catch(() => {});
  }
}

/** Like tryWithServer, but an unreachable server is an error (retryable). */
export async function withServer<R>(spec: string | PgTarget, fn: (q: Query) => Promise<R>, o: SqlOptions = {}) {
  const t = typeof spec === 'string' ? pgTarget(spec) : spec;
  const r = await tryWithServer(t, fn, o);
  if (!r) throw new SafeholdError('IO', `cannot connect to the PostgreSQL server at ${t.where}`, { retryable: true });
  return r.value;
}
