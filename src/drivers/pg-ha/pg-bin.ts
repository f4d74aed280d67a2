// Finding and running the PostgreSQL server programs (pg_ctl, pg_rewind,
// pg_basebackup, pg_controldata, postgres --single) for the HA primitives.
// The bin directory is /usr/lib/postgresql/<version>/bin: the version of the
// data directory when it says (PG_VERSION), else the newest installed. When
// Safehold runs as root, a program that touches a data directory runs as the
// OS user owning it (runuser), since PostgreSQL refuses to run as root. Every
// program goes through core/child-process.ts.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { childEnv } from '../../core/child-env.ts';
import { runChild } from '../../core/child-process.ts';
import type { ChildOutcome } from '../../core/child-process.ts';
import { SafeholdError } from '../../core/errors.ts';

const ROOT = '/usr/lib/postgresql';

/** Installed major versions with a bin/pg_ctl, newest first. */
function installedVersions(): string[] {
  let names: string[] = [];
  try {
    names = fs.readdirSync(ROOT);
  } catch {
    return [];
  }
  return names
    .filter((v) => /^\d+(\.\d+)?$/.test(v) && fs.existsSync(path.join(ROOT, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
}

/** The bin directory for a server of `version` (e.g. '15'), or the newest installed. */
export function pgBinDir(version?: string): string {
  const versions = installedVersions();
  const pick = version && versions.includes(version) ? version : versions[0];
  if (!pick)
    throw new SafeholdError('CONFIG', `no PostgreSQL server programs found under ${ROOT}/<version>/bin (pg_ctl)`);
  return path.join(ROOT, pick, 'bin');
}

/** The bin directory matching a data directory's PG_VERSION (newest installed when it cannot be read). */
export async function pgBinDirFor(dataDir: string): Promise<string> {
  const version = await fsp.readFile(path.join(dataDir, 'PG_VERSION'), 'utf8').catch(() => '');
  return pgBinDir(version.trim() || undefined);
}

/** The name of the OS user owning `file` (or its nearest existing parent). */
async function ownerName(file: string): Promise<{ name: string; uid: number }> {
  let p = path.resolve(file);
  for (;;) {
    const st = await fsp.stat(p).catch(() => null);
    if (st) {
      const passwd = await fsp.readFile('/etc/passwd', 'utf8').catch(() => '');
      const line = passwd.split('\n').find((l) => l.split(':')[2] === String(st.uid));
      return { name: line ? line.split(':')[0]! : 'postgres', uid: st.uid };
    }
    const up = path.dirname(p);
    if (up === p) return { name: 'postgres', uid: -1 };
    p = up;
  }
}

/** The uid and gid of OS user `name` (/etc/passwd). */
export async function osUserIds(name: string): Promise<{ uid: number; gid: number }> {
  const passwd = await fsp.readFile('/etc/passwd', 'utf8').catch(() => '');
  const f = passwd
    .split('\n')
    .find((l) => l.split(':')[0] === name)
    ?.split(':');
  if (!f) throw new SafeholdError('CONFIG', `no OS user ${name} to own the data directory`);
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

export interface PgRunOptions {
  /** Run as the OS user owning this path when we are root. */
  readonly asOwnerOf?: string;
  /** Variables for libpq (PGPASSWORD...) on top of the allow-listed environment. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
  readonly stdin?: string;
  /** Secrets to cut out of messages. */
  readonly redact?: readonly string[];
}

/** Runs `argv` (argv[0] a full path), as the data directory's owner when root; never throws. */
export async function runPg(argv: readonly string[], opts: PgRunOptions = {}): Promise<ChildOutcome> {
  let full = [...argv];
  if (process.getuid?.() === 0 && opts.asOwnerOf) {
    const owner = await ownerName(opts.asOwnerOf);
    if (owner.uid !== 0) full = ['runuser', '-u', owner.name, '--', ...argv];
  }
  return runChild({
    argv: full,
    env: childEnv({ PGAPPNAME: 'safehold', ...opts.env }, { inherit: (n) => n.startsWith('PG') }),
    cwd: '/',
    stdout: 'capture',
    signal: opts.signal,
    timeoutMs: opts.timeoutMs,
    stdin: opts.stdin,
  });
}

/** Like runPg, but a failure is a SafeholdError naming `what`; returns stdout. */
export async function runPgOrThrow(argv: readonly string[], what: string, opts: PgRunOptions = {}): Promise<string> {
  const o = await runPg(argv, opts);
  if (o.exitCode === 0) return o.stdout;
  const clean = (s: string) => (opts.redact ?? []).reduce((acc, x) => (x ? acc.split(x).join('***') : acc), s);
  if (o.stopped === 'abort') throw new SafeholdError('CANCELLED', `${what} was cancelled`);
  const why = o.startError
    ? o.startError.message
    : o.stopped === 'timeout'
      ? 'timed out'
      : clean(`${o.stderr.trim() || o.stdout.trim()}`.split('\n').slice(-6).join(' / ')) ||
        `exit status ${o.exitCode ?? o.signal}`;
  throw new SafeholdError('IO', `${what} failed: ${why}`, { details: { exitCode: o.exitCode } });
}
