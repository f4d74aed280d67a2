// The `_globals` unit of the postgres driver: the server's roles and
// tablespaces, which belong to no database. Backed up with
// `pg_dumpall --globals-only` (plain SQL), restored by replaying that SQL with
// psql without stopping at errors: a role or tablespace that already exists
// fails its CREATE (counted and reported as a warning), and the ALTER ROLE that
// follows sets its attributes to the backed-up ones; roles not in the backup
// are left alone, nothing is dropped. Any other failed statement fails the
// restore (after the rest ran). Its digest hashes role names and attributes
// (table '_roles') and tablespaces (table '_tablespaces').

import type { Readable } from 'node:stream';
import { SafeholdError } from '../../core/errors.ts';
import { childStream, pipeToChild } from './child-stream.ts';
import type { ContentDigest, DbBackup } from './driver.ts';
import {
  conninfo,
  maintenanceDb,
  redactions,
  tool,
  toolEnv,
  transientStderr,
  where,
  withClient,
} from './postgres-connection.ts';
import type { PostgresDriverConfig } from './postgres-connection.ts';

export const GLOBALS_UNIT = '_globals';
export const GLOBALS_FORMAT = 'pg_dumpall-globals-sql';

/** SQLSTATE duplicate_object: CREATE ROLE / CREATE TABLESPACE of something that exists. */
const DUPLICATE_OBJECT = '42710';

export function backupGlobals(cfg: PostgresDriverConfig, signal?: AbortSignal): DbBackup {
  const argv = [tool(cfg, 'pg_dumpall'), '--globals-only', '--no-password', `--dbname=${conninfo(maintenanceDb(cfg))}`];
  const stream = childStream(argv, toolEnv(cfg), {
    what: `pg_dumpall --globals-only on ${where(cfg)}`,
    signal,
    redact: redactions(cfg),
    retryable: transientStderr,
  });
  return { stream, format: GLOBALS_FORMAT };
}

export interface GlobalsRestoreResult {
  /** Statements that failed because the role or tablespace already existed. */
  existing: number;
}

export async function restoreGlobals(
  cfg: PostgresDriverConfig,
  input: Readable,
  signal?: AbortSignal,
): Promise<GlobalsRestoreResult> {
  let existing = 0;
  const other: string[] = [];
  const argv = [
    tool(cfg, 'psql'),
    '--no-password',
    '--no-psqlrc',
    '--quiet',
    '--set=ON_ERROR_STOP=0',
    '--set=VERBOSITY=verbose',
    `--dbname=${conninfo(maintenanceDb(cfg))}`,
  ];
  await pipeToChild(input, argv, toolEnv(cfg), {
    what: `restoring ${GLOBALS_UNIT} on ${where(cfg)} with psql`,
    signal,
    redact: redactions(cfg),
    retryable: transientStderr,
    onStderrLine(line) {
      const m = /\bERROR:\s+([0-9A-Z]{5}):\s*(.*)$/.exec(line);
      if (!m) return;
      if (m[1] === DUPLICATE_OBJECT) existing++;
      else other.push(m[2]!);
    },
  });
  if (other.length > 0) {
    throw new SafeholdError(
      'IO',
      `${where(cfg)}: restoring ${GLOBALS_UNIT}: ${other.length} statement(s) failed (the others were applied); the first: ${other[0]}`,
    );
  }
  if (existing > 0) {
    cfg.onWarning?.(
      `${where(cfg)}: restoring ${GLOBALS_UNIT}: ${existing} role(s) or tablespace(s) already existed; roles got the backed-up attributes, existing tablespaces were left as they are`,
    );
  }
  return { existing };
}

const ROLES = `
  SELECT count(*)::int8 AS n, md5(coalesce(string_agg(r::text, E'\\n' ORDER BY r.rolname), '')) AS checksum
  FROM (
    SELECT a.rolname, a.rolsuper, a.rolinherit, a.rolcreaterole, a.rolcreatedb, a.rolcanlogin, a.rolreplication,
           a.rolbypassrls, a.rolconnlimit, a.rolvaliduntil,
           ARRAY(SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = a.oid ORDER BY 1) AS member_of
    FROM pg_roles a WHERE a.rolname !~ '^pg_'
  ) r`;

const TABLESPACES = `
  SELECT count(*)::int8 AS n, md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t.spcname), '')) AS checksum
  FROM (SELECT s.spcname, pg_get_userbyid(s.spcowner) AS owner, pg_tablespace_location(s.oid) AS location FROM pg_tablespace s) t`;

export async function digestGlobals(cfg: PostgresDriverConfig): Promise<ContentDigest> {
  return withClient(cfg, maintenanceDb(cfg), `digest of ${GLOBALS_UNIT}`, async (c) => {
    await c.query("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'");
    const roles = (await c.query<{ n: string; checksum: string }>(ROLES)).rows[0]!;
    const spaces = (await c.query<{ n: string; checksum: string }>(TABLESPACES)).rows[0]!;
    return {
      tables: {
        _roles: { rows: Number(roles.n), checksum: roles.checksum },
        _tablespaces: { rows: Number(spaces.n), checksum: spaces.checksum },
      },
    };
  });
}
