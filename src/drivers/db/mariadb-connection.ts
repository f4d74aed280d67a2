// Connecting to a MariaDB (or MySQL) server for the mariadb driver: the
// settings and their checks, SQL through mysql2 (one connection per call,
// errors as IO without the password, connection problems retryable), the
// environment and argv pieces for the client programs (mariadb-dump, mariadb:
// the password travels in MYSQL_PWD, never in argv), and database-name checks
// and quoting.

import * as path from 'node:path';
import mysql from 'mysql2/promise';
import { SafeholdError } from '../../core/errors.ts';
import { childEnv } from '../../core/child-env.ts';

export interface MariadbDriverConfig {
  /** The target name, for messages. */
  readonly name: string;
  /** Host name or address, or the path of the server's Unix socket (starts with '/'). */
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string | null;
  /** Glob of the databases that are units (default '*'); the system databases are never units. */
  readonly databases?: string;
  /** Globs of databases left out (default none). */
  readonly exclude?: readonly string[];
  /** Time limit for connecting and for catalog statements, in ms (a dump or a digest itself has none). */
  readonly timeoutMs: number;
  /** Time limit of one whole dump or restore, in ms (default: none; the caller's abort signal ends it). */
  readonly operationTimeoutMs?: number;
  /** Directory of the client programs (mariadb-dump, mariadb); default: found on PATH. */
  readonly binDir?: string;
}

/** Databases of the server itself: never units, never restored into or dropped. */
export const SYSTEM_DATABASES: ReadonlySet<string> = new Set([
  'information_schema',
  'performance_schema',
  'mysql',
  'sys',
]);
/** MariaDB's limit for a database name, in characters. */
const MAX_NAME_CHARS = 64;

export type Conn = mysql.Connection;

export function checkConfig(cfg: MariadbDriverConfig): void {
  const bad = (m: string) => new SafeholdError('CONFIG', `${cfg.name}: ${m}`);
  if (!cfg.host) throw bad('host is empty');
  if (!Number.isInteger(cfg.port) || cfg.port < 1 || cfg.port > 65535) throw bad(`port ${cfg.port} is not a TCP port`);
  if (!cfg.user) throw bad('user is empty');
  if (!(cfg.timeoutMs > 0)) throw bad(`timeoutMs must be positive, not ${cfg.timeoutMs}`);
  if (cfg.operationTimeoutMs !== undefined && !(cfg.operationTimeoutMs > 0))
    throw bad(`operationTimeoutMs must be positive, not ${cfg.operationTimeoutMs}`);
}

/** Refuses names MariaDB would reject (NUL, over 64 characters, a trailing space). */
export function checkDbName(name: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new SafeholdError('USAGE', 'the database name is empty');
  if (name.includes('\0'))
    throw new SafeholdError('USAGE', `database name ${JSON.stringify(name)} contains a NUL character`);
  if ([...name].length > MAX_NAME_CHARS)
    throw new SafeholdError(
      'USAGE',
      `database name ${JSON.stringify(name)} is longer than MariaDB's limit of ${MAX_NAME_CHARS} characters`,
    );
  if (name.endsWith(' '))
    throw new SafeholdError(
      'USAGE',
      `database name ${JSON.stringify(name)} ends with a space, which MariaDB does not allow`,
    );
}

/** A quoted SQL identifier. */
export function ident(name: string): string {
  return `\`${name.replace(/`/g, '``')}\``;
}

/** Where the target is, for messages: host:port or the socket. */
export function where(cfg: MariadbDriverConfig): string {
  return cfg.host.startsWith('/') ? `${cfg.name} (${cfg.host})` : `${cfg.name} (${cfg.host}:${cfg.port})`;
}

export function redactions(cfg: MariadbDriverConfig): string[] {
  return cfg.password ? [cfg.password] : [];
}

function scrub(s: string, cfg: MariadbDriverConfig): string {
  let out = s;
  for (const r of redactions(cfg)) out = out.split(r).join('***');
  return out;
}

const TRANSIENT = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_LOCK_DEADLOCK',
  'ER_SERVER_SHUTDOWN',
]);

/** A mysql2 failure as an IO error without the password; connection problems may be retried. */
export function sqlError(cfg: MariadbDriverConfig, e: unknown, doing: string): SafeholdError {
  if (e instanceof SafeholdError) return e;
  const code = (e as { code?: string }).code ?? '';
  const msg = e instanceof Error && e.message ? e.message : code || String(e);
  return new SafeholdError('IO', `${where(cfg)}: ${doing}: ${scrub(msg, cfg)}`, {
    cause: e,
    retryable: TRANSIENT.has(code),
  });
}

/** Runs `fn` on a fresh connection, closed afterwards; session time zone UTC, so TIMESTAMPs read the same everywhere. */
export async function withConn<T>(cfg: MariadbDriverConfig, doing: string, fn: (c: Conn) => Promise<T>): Promise<T> {
  let conn: Conn;
  try {
    conn = await mysql.createConnection({
      ...(cfg.host.startsWith('/') ? { socketPath: cfg.host } : { host: cfg.host, port: cfg.port }),
      user: cfg.user,
      ...(cfg.password === null ? {} : { password: cfg.password }),
      connectTimeout: cfg.timeoutMs,
      charset: 'utf8mb4',
      timezone: 'Z',
      dateStrings: true,
      supportBigNumbers: true,
      bigNumberStrings: true,
      multipleStatements: false,
    });
  } catch (e) {
    throw sqlError(cfg, e, 'cannot connect');
  }
  conn.on('error', () => {}); // a lost connection also rejects the pending query
  try {
    await conn.query({ sql: "SET time_zone = '+00:00'", timeout: cfg.timeoutMs });
    return await fn(conn);
  } catch (e) {
    throw sqlError(cfg, e, doing);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

/** Rows of a catalog statement (with the time limit). */
export async function rows<T>(cfg: MariadbDriverConfig, c: Conn, sql: string, values: unknown[] = []): Promise<T[]> {
  const [r] = await c.query({ sql, values, timeout: cfg.timeoutMs });
  return r as T[];
}

export async function databaseExists(cfg: MariadbDriverConfig, c: Conn, name: string): Promise<boolean> {
  const r = await rows<{ n: number | string }>(
    cfg,
    c,
    'SELECT COUNT(*) AS n FROM information_schema.schemata WHERE schema_name = ?',
    [name],
  );
  return Number(r[0]?.n ?? 0) > 0;
}

/** The path of a client program. */
export function tool(cfg: MariadbDriverConfig, program: 'mariadb-dump' | 'mariadb'): string {
  return cfg.binDir ? path.join(cfg.binDir, program) : program;
}

/** How the client programs connect: options only, no password (--no-defaults keeps option files from adding settings). */
export function connectArgs(cfg: MariadbDriverConfig): string[] {
  const at = cfg.host.startsWith('/')
    ? ['--protocol=SOCKET', `--socket=${cfg.host}`]
    : ['--protocol=TCP', `--host=${cfg.host}`, `--port=${cfg.port}`];
  return ['--no-defaults', ...at, `--user=${cfg.user}`];
}

/** The client programs' environment: the allow-listed variables (core/child-env.ts) and the password in MYSQL_PWD (or none at all). */
export function toolEnv(cfg: MariadbDriverConfig): NodeJS.ProcessEnv {
  return childEnv(cfg.password !== null ? { MYSQL_PWD: cfg.password } : {});
}

/** Whether a client program's failure looks like a connection problem worth retrying. */
export function transientToolError(stderr: string): boolean {
  return /\b(2002|2003|2006|2013|1040|1205|1213)\b|Lost connection|Can't connect|server has gone away/i.test(stderr);
}
