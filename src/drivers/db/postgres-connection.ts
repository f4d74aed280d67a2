// Connecting to a PostgreSQL server for the postgres driver: the settings,
// SQL through node-postgres (one connection per call, errors as IO without
// the password, connection problems retryable), the environment and argv
// pieces for the client programs (pg_dump, pg_restore, psql, pg_dumpall,
// pg_basebackup: the password travels in PGPASSWORD, never in argv),
// database-name checks and quoting, and the statements on the maintenance
// database (looking up, creating and dropping databases).

import * as path from 'node:path';
import pg from 'pg';
import { SafeholdError } from '../../core/errors.ts';
import { childEnv } from '../../core/child-env.ts';

export interface PostgresDriverConfig {
  /** The target name, for messages. */
  name: string;
  /** Host name or address, or a directory holding the server's Unix socket (starts with '/'). */
  host: string;
  port: number;
  user: string;
  password: string | null;
  /** Glob of the databases that are units (default '*'). */
  databases?: string;
  /** Globs of databases (or '_globals') left out (default none). */
  exclude?: readonly string[];
  /** The database to connect to for listing, creating and dropping databases (default 'postgres'). */
  maintenanceDb?: string;
  /** Parallel dump jobs: only 1 is possible, since a streamed dump cannot use pg_dump's directory format. */
  dumpJobs?: number;
  /** Restore without the dump's owners (everything owned by `user`); default: owners kept, so the roles must exist. */
  noOwner?: boolean;
  /** Directory of the client programs (e.g. /usr/lib/postgresql/16/bin); default: found on PATH. */
  binDir?: string;
  /** Time limit for connecting, for catalog statements and for the dump's table locks, in ms. */
  timeoutMs: number;
  /** Things worth telling that are not failures (e.g. roles that already existed when restoring _globals). */
  onWarning?(message: string): void;
}

/** The longest database name PostgreSQL keeps (NAMEDATALEN - 1 bytes); longer ones it would truncate. */
const MAX_NAME_BYTES = 63;

export function checkConfig(cfg: PostgresDriverConfig): void {
  const bad = (m: string) => new SafeholdError('CONFIG', `${cfg.name}: ${m}`);
  if (!cfg.host) throw bad('host is empty');
  if (!Number.isInteger(cfg.port) || cfg.port < 1 || cfg.port > 65535) throw bad(`port ${cfg.port} is not a TCP port`);
  if (!cfg.user) throw bad('user is empty');
  if (!(cfg.timeoutMs > 0)) throw bad(`timeoutMs must be positive, not ${cfg.timeoutMs}`);
  if (cfg.dumpJobs !== undefined && cfg.dumpJobs !== 1) {
    throw bad(
      `dumpJobs ${cfg.dumpJobs}: parallel dumps need pg_dump's directory format, which cannot be streamed; only 1 is supported`,
    );
  }
  if (cfg.maintenanceDb !== undefined) checkDbName(cfg.maintenanceDb, 'maintenanceDb', 'CONFIG');
}

/** Refuses names PostgreSQL would reject or silently truncate. */
export function checkDbName(name: string, what = 'database name', code: 'USAGE' | 'CONFIG' = 'USAGE'): void {
  if (typeof name !== 'string' || name.length === 0) throw new SafeholdError(code, `${what} is empty`);
  if (name.includes('\0')) throw new SafeholdError(code, `${what} ${JSON.stringify(name)} contains a NUL character`);
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) {
    throw new SafeholdError(
      code,
      `${what} ${JSON.stringify(name)} is longer than PostgreSQL's limit of ${MAX_NAME_BYTES} bytes`,
    );
  }
}

/** A quoted SQL identifier. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** A libpq connection string naming only the database (host, port, user come from the environment). */
export function conninfo(db: string): string {
  return `dbname='${db.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Where the target is, for messages: host:port or the socket directory. */
export function where(cfg: PostgresDriverConfig): string {
  return cfg.host.startsWith('/')
    ? `${cfg.name} (${cfg.host}, port ${cfg.port})`
    : `${cfg.name} (${cfg.host}:${cfg.port})`;
}

export function redactions(cfg: PostgresDriverConfig): string[] {
  return cfg.password ? [cfg.password] : [];
}

/** argv[0] for a client program. */
export function tool(cfg: PostgresDriverConfig, program: string): string {
  return cfg.binDir ? path.join(cfg.binDir, program) : program;
}

/**
 * The environment for the client programs: the allow-listed variables
 * (core/child-env.ts) and libpq's own PG* settings (PGSSLMODE, PGPASSFILE…,
 * as node-postgres reads them too), then the connection settings and the
 * password, never prompting.
 */
export function toolEnv(cfg: PostgresDriverConfig): NodeJS.ProcessEnv {
  return childEnv(
    {
      PGHOST: cfg.host,
      PGPORT: String(cfg.port),
      PGUSER: cfg.user,
      PGCONNECT_TIMEOUT: String(Math.max(2, Math.ceil(cfg.timeoutMs / 1000))),
      PGAPPNAME: 'safehold',
      PGDATABASE: undefined,
      PGSERVICE: undefined,
      PGOPTIONS: undefined,
      ...(cfg.password !== null ? { PGPASSWORD: cfg.password } : {}),
    },
    { inherit: (name) => name.startsWith('PG') },
  );
}

const TRANSIENT_CODES = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOENT',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08006',
  '08001',
];

/** Whether a client program's stderr shows a connection problem (worth retrying). */
export function transientStderr(stderr: string): boolean {
  return /could not connect|connection to server .* failed: (Connection refused|timeout expired|No such file)|server closed the connection|the database system is (starting up|shutting down)|too many clients|timeout expired/i.test(
    stderr,
  );
}

/** A SafeholdError for a failed SQL call, without the password; connection problems are retryable. */
export function sqlError(cfg: PostgresDriverConfig, e: unknown, doing: string): SafeholdError {
  if (e instanceof SafeholdError) return e;
  let msg = e instanceof Error ? e.message : String(e);
  if (!msg && e instanceof AggregateError) msg = e.errors.map((x) => (x as Error).message).join('; ');
  for (const r of redactions(cfg)) msg = msg.split(r).join('***');
  const code = (e as { code?: string }).code ?? '';
  if (code === '3D000') return new SafeholdError('NOT_FOUND', `${where(cfg)}: ${doing}: ${msg}`, { cause: e });
  const timeout = /timeout/i.test(msg);
  return new SafeholdError('IO', `${where(cfg)}: ${doing}: ${msg || code}`, {
    cause: e,
    retryable: TRANSIENT_CODES.includes(code) || timeout,
  });
}

/**
 * Runs `fn` with a connection to `db`; `queryTimeout` bounds each statement
 * (default: the target's timeoutMs; null: no limit, for digests).
 */
export async function withClient<T>(
  cfg: PostgresDriverConfig,
  db: string,
  doing: string,
  fn: (c: pg.Client) => Promise<T>,
  queryTimeout: number | null = cfg.timeoutMs,
): Promise<T> {
  const client = new pg.Client({
    host: cfg.host,
    port: cfg.port,
    user: cfg.user,
    database: db,
    password: cfg.password ?? undefined,
    connectionTimeoutMillis: cfg.timeoutMs,
    application_name: 'safehold',
    ...(queryTimeout === null ? {} : { query_timeout: queryTimeout }),
  });
  client.on('error', () => {}); // a dropped connection surfaces as the failing query's error
  try {
    await client.connect();
    return await fn(client);
  } catch (e) {
    throw sqlError(cfg, e, doing);
  } finally {
    await client.end().catch(() => {});
  }
}

/** The database connected to for listing, creating and dropping databases. */
export function maintenanceDb(cfg: PostgresDriverConfig): string {
  return cfg.maintenanceDb ?? 'postgres';
}

/** Catalog statements on the maintenance database, each bounded by the target's timeoutMs. */
export function catalogSql<T>(cfg: PostgresDriverConfig, doing: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withClient(cfg, maintenanceDb(cfg), doing, fn);
}

/**
 * Statements that change databases (create, drop, rename) on the maintenance database, with
 * no client-side time limit: a timed-out DROP would go on in the server while reported failed.
 */
export function ddl<T>(cfg: PostgresDriverConfig, doing: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withClient(cfg, maintenanceDb(cfg), doing, fn, null);
}

export async function databaseExists(cfg: PostgresDriverConfig, name: string): Promise<boolean> {
  const found = (c: pg.Client) => c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return catalogSql(cfg, `looking up database ${name}`, async (c) => (await found(c)).rowCount === 1);
}

/** Drops a database, ending its sessions first. */
export async function dropDatabase(c: pg.Client, name: string): Promise<void> {
  const version = await c.query<{ v: string }>("SELECT current_setting('server_version_num') AS v");
  if (Number(version.rows[0]!.v) >= 130000) {
    await c.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`);
    return;
  }
  const sessions =
    'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()';
  await c.query(sessions, [name]);
  await c.query(`DROP DATABASE IF EXISTS ${ident(name)}`);
}
