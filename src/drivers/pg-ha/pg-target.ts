// One PostgreSQL server as the HA primitives name it: a URL
// (postgres://user:pass@host:port/db, ?host=/socket/dir allowed) or a libpq
// conninfo ("host=... port=... user=..."). Gives the node-postgres settings,
// the conninfo for the server programs and primary_conninfo without the
// password (which travels in PGPASSWORD), and a description safe to show.

import { SafeholdError } from '../../core/errors.ts';

export interface PgTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string | null;
  /** host:port (or socket dir:port), never the password. */
  readonly where: string;
}

/** Parses `host=a port=5432 user='x y'` (libpq key=value conninfo). */
function parseConninfo(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([a-zA-Z_]+)\s*=\s*(?:'((?:\\.|[^'\\])*)'|(\S+))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) out[m[1]!] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!;
  return out;
}

function fromUrl(raw: string): Record<string, string> {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new SafeholdError(
      'CONFIG',
      'a PostgreSQL server must be a postgres:// URL or a conninfo (host=... port=...)',
    );
  }
  const out: Record<string, string> = {};
  if (u.hostname) out.host = decodeURIComponent(u.hostname.replace(/^\[|\]$/g, ''));
  if (u.port) out.port = u.port;
  if (u.username) out.user = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (db) out.dbname = db;
  for (const [k, v] of u.searchParams) out[k] = v;
  return out;
}

/** The server named by a URL or conninfo. */
export function pgTarget(spec: string): PgTarget {
  const s = spec.trim();
  const kv = /^postgres(ql)?:\/\//i.test(s) ? fromUrl(s) : parseConninfo(s);
  const host = kv.host ?? '/var/run/postgresql';
  const port = Number(kv.port ?? 5432);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new SafeholdError('CONFIG', `${kv.port} is not a TCP port`);
  const where = host.startsWith('/') ? `${host} port ${port}` : `${host}:${port}`;
  return {
    host,
    port,
    user: kv.user ?? 'postgres',
    database: kv.dbname ?? 'postgres',
    password: kv.password ?? null,
    where,
  };
}

const quote = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** A libpq conninfo for the server programs and primary_conninfo; the password only when asked. */
export function conninfoOf(t: PgTarget, o: { password?: boolean; dbname?: boolean } = {}): string {
  const parts = [`host=${quote(t.host)}`, `port=${t.port}`, `user=${quote(t.user)}`];
  if (o.dbname !== false) parts.push(`dbname=${quote(t.database)}`);
  if (o.password && t.password !== null) parts.push(`password=${quote(t.password)}`);
  return parts.join(' ');
}

/** libpq variables for a server program: the password, never prompting. */
export function pgEnvOf(t: PgTarget): Record<string, string | undefined> {
  return { PGPASSWORD: t.password ?? undefined, PGCONNECT_TIMEOUT: '5' };
}

/** Secrets to cut out of any message about this server. */
export function secretsOf(t: PgTarget): string[] {
  return t.password ? [t.password] : [];
}
