// Runs one SQL statement on a PostgreSQL (node-postgres) or MariaDB/MySQL
// (mysql2) server named by a URL: the user-defined purge of S5 ("DELETE FROM
// events WHERE at < now() - interval '90 days'"). One connection per call,
// closed afterwards; a time limit and an abort signal end it early. Errors
// never show the URL's password.

import pg from 'pg';
import mysql from 'mysql2/promise';
import { SafeholdError } from '../../core/errors.ts';
import { sqlDialect } from '../../config/sql-url.ts';

export interface SqlResult {
  /** Rows the statement changed (DELETE/UPDATE/INSERT), or 0. */
  rowsAffected: number;
}

/** What querySql also tells (runbook sql steps and checks). */
export interface SqlQueryResult extends SqlResult {
  /** Rows the last statement returned (a SELECT), else the rows it changed. */
  rowCount: number;
  /** The first row the last statement returned, or null. */
  firstRow: Record<string, unknown> | null;
}

/** The URL as safe to show: no password. */
export function redactDbUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an invalid URL)';
  }
}

export async function runSql(
  url: string,
  statement: string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<SqlResult> {
  const r = await querySql(url, statement, opts);
  return { rowsAffected: r.rowsAffected };
}

/** Like runSql, also returning the row count and the first row of the last statement. */
export async function querySql(
  url: string,
  statement: string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<SqlQueryResult> {
  const dialect = sqlDialect(url);
  if (!dialect)
    throw new SafeholdError(
      'CONFIG',
      `unsupported database URL ${redactDbUrl(url)}: expected postgres:// or mariadb:// (mysql://)`,
    );
  const where = redactDbUrl(url);
  const secret = safeDecode(new URL(url).password);
  const clean = (e: unknown) => {
    const msg = e instanceof Error ? e.message : String(e);
    return secret ? msg.split(secret).join('***') : msg;
  };
  opts.signal?.throwIfAborted();
  try {
    return dialect === 'postgres' ? await runPostgres(url, statement, opts) : await runMariadb(url, statement, opts);
  } catch (e) {
    if (opts.signal?.aborted)
      throw new SafeholdError('CANCELLED', `the statement on ${where} was cancelled`, { cause: e });
    throw new SafeholdError('IO', `${where}: ${clean(e)}`, { cause: e, retryable: isTransient(e) });
  }
}

async function runPostgres(
  url: string,
  statement: string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<SqlQueryResult> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: opts.timeoutMs,
    statement_timeout: opts.timeoutMs,
    query_timeout: opts.timeoutMs,
  });
  const onAbort = () => void client.end().catch(() => {});
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
    const r = await client.query(statement);
    const results = Array.isArray(r) ? r : [r];
    const last = results[results.length - 1] as pg.QueryResult | undefined;
    return {
      rowsAffected: results.reduce(
        (n: number, x: pg.QueryResult) => n + (x.command === 'SELECT' ? 0 : (x.rowCount ?? 0)),
        0,
      ),
      rowCount: last?.rowCount ?? last?.rows.length ?? 0,
      firstRow: (last?.rows[0] as Record<string, unknown> | undefined) ?? null,
    };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await client.end().catch(() => {});
  }
}

async function runMariadb(
  url: string,
  statement: string,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<SqlQueryResult> {
  const conn = await mysql.createConnection({
    uri: url.replace(/^mariadb:/i, 'mysql:'),
    connectTimeout: opts.timeoutMs,
    multipleStatements: true,
  });
  const onAbort = () => conn.destroy();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const [res, fields] = await conn.query({ sql: statement, timeout: opts.timeoutMs });
    const list = Array.isArray(res) ? res : [res];
    const rows = Array.isArray(res) && Array.isArray(fields) && !Array.isArray(fields[0]) ? (res as unknown[]) : null;
    const changed = list.find((x) => typeof x === 'object' && x !== null && 'affectedRows' in x) as
      | { affectedRows: number }
      | undefined;
    return {
      rowCount: rows !== null ? rows.length : Number(changed?.affectedRows ?? 0),
      firstRow: rows !== null ? ((rows[0] as Record<string, unknown> | undefined) ?? null) : null,
      rowsAffected: list.reduce(
        (n: number, x: unknown) =>
          n +
          (typeof x === 'object' && x !== null && 'affectedRows' in x
            ? Number((x as { affectedRows: number }).affectedRows)
            : 0),
        0,
      ),
    };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await conn.end().catch(() => {});
  }
}

function isTransient(e: unknown): boolean {
  const code = (e as { code?: string }).code ?? '';
  return [
    'ECONNREFUSED',
    'ECONNRESET',
    'ETIMEDOUT',
    'EHOSTUNREACH',
    'PROTOCOL_CONNECTION_LOST',
    '57P01',
    '57P03',
    '53300',
  ].includes(code);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
