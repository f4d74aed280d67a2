// A server's data directory on this machine: whether it is there and
// running, starting and stopping it (pg_ctl), its control data
// (pg_controldata), finishing crash recovery without letting clients in
// (postgres --single, as pg_rewind does), and settings in
// postgresql.auto.conf (primary_conninfo, primary_slot_name, port...) with
// standby.signal. Files written keep the directory's owner.

import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import type { Clock } from '../../core/clock.ts';
import { systemClock } from '../../core/clock.ts';
import { SafeholdError } from '../../core/errors.ts';
import { pgBinDirFor, runPg, runPgOrThrow } from './pg-bin.ts';

export interface DataDirOptions {
  readonly signal?: AbortSignal;
  /** How long pg_ctl waits for the server to start or stop, in seconds (default 60). */
  readonly waitSeconds?: number;
}

export interface StartOptions {
  readonly port?: number;
  /** Only launch it (pg_ctl -W) instead of waiting until it accepts connections. */
  readonly noWait?: boolean;
  /** The server log (default: serverLog(dataDir), beside the directory). */
  readonly log?: string;
  /** Settings for this start only (postgres -c NAME=VALUE; values without spaces). */
  readonly settings?: Readonly<Record<string, string>>;
  /** Variables the server needs (e.g. for its restore_command), on top of the allow-listed ones. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** Whether `dataDir` is a PostgreSQL data directory on this machine. */
export async function isLocalDataDir(dataDir: string): Promise<boolean> {
  return fsp
    .access(path.join(dataDir, 'PG_VERSION'))
    .then(() => true)
    .catch(() => false);
}

/**
 * Why `dataDir` holds no copy of a server to start from ('does not exist',
 * 'is empty', 'has no PG_VERSION', 'has no global/pg_control'), or null when
 * it has one.
 */
export async function missingCopy(dataDir: string): Promise<string | null> {
  const entries = await fsp.readdir(dataDir).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? null : []));
  if (entries === null) return 'does not exist';
  if (entries.length === 0) return 'is empty';
  for (const f of ['PG_VERSION', path.join('global', 'pg_control')]) {
    const ok = await fsp.access(path.join(dataDir, f)).then(
      () => true,
      () => false,
    );
    if (!ok) return `has no ${f}`;
  }
  return null;
}

/** Refuses a path that is not a PostgreSQL data directory on this machine. */
export async function mustBeLocal(dataDir: string): Promise<void> {
  if (!(await isLocalDataDir(dataDir)))
    throw new SafeholdError('PATH_NOT_FOUND', `${dataDir} is not a PostgreSQL data directory on this machine`);
}

/** Where pg_ctl writes the server's output: beside the data directory. */
export function serverLog(dataDir: string): string {
  const abs = path.resolve(dataDir);
  return path.join(path.dirname(abs), `${path.basename(abs)}.server.log`);
}

async function pgCtl(dataDir: string): Promise<string> {
  return path.join(await pgBinDirFor(dataDir), 'pg_ctl');
}

/**
 * The postmaster named by `dataDir`/postmaster.pid: 'none' (no such file),
 * 'dead' (its process is gone or a zombie: killed, not yet reaped by its
 * parent, which pg_ctl takes for alive), 'alive', or 'unknown' when the file
 * cannot be read (not root, not its owner).
 */
export async function postmasterState(
  dataDir: string,
): Promise<{ state: 'none' | 'dead' | 'alive' | 'unknown'; pid: number | null }> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(dataDir, 'postmaster.pid'), 'utf8');
  } catch (e) {
    return { state: (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'none' : 'unknown', pid: null };
  }
  const pid = Number(text.split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return { state: 'unknown', pid: null };
  const stat = await fsp.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return { state: fs.existsSync('/proc/self/stat') ? 'dead' : 'unknown', pid };
  // "pid (comm) S ...": the state follows the command name, which may hold spaces and parentheses.
  const procState = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  return { state: procState === 'Z' || procState === 'X' ? 'dead' : 'alive', pid };
}

/** Whether a postmaster runs on `dataDir`: its PID alive and not a zombie (else pg_ctl status). */
export async function isRunning(dataDir: string, o: DataDirOptions = {}): Promise<boolean> {
  const pm = await postmasterState(dataDir);
  if (pm.state !== 'unknown') return pm.state === 'alive';
  const out = await runPg([await pgCtl(dataDir), 'status', '-D', dataDir], { asOwnerOf: dataDir, signal: o.signal });
  return out.exitCode === 0;
}

/**
 * Waits (up to 10 s) while the postmaster of `dataDir` is a zombie: until its
 * parent reaps it, PostgreSQL refuses to start on the directory ("lock file
 * already exists"). Returns at once in every other case.
 */
export async function zombieGone(dataDir: string, o: DataDirOptions & { clock?: Clock } = {}): Promise<void> {
  const clock = o.clock ?? systemClock;
  const end = clock.now() + 10_000;
  for (;;) {
    const pm = await postmasterState(dataDir);
    if (pm.state !== 'dead' || !fs.existsSync(`/proc/${pm.pid}`) || clock.now() >= end) return;
    await clock.sleep(50, o.signal);
  }
}

/** Stops the server on `dataDir` ('fast': clients disconnected, clean shutdown); nothing when it is not running. */
export async function stopServer(dataDir: string, mode: 'fast' | 'immediate' = 'fast', o: DataDirOptions = {}) {
  if (!(await isRunning(dataDir, o))) return false;
  const t = String(o.waitSeconds ?? 60);
  await runPgOrThrow([await pgCtl(dataDir), 'stop', '-D', dataDir, '-m', mode, '-w', '-t', t], `stopping ${dataDir}`, {
    asOwnerOf: dataDir,
    signal: o.signal,
  });
  return true;
}

/**
 * Starts the server on `dataDir` (on `port` when given) and waits until it
 * accepts connections, or with `noWait` only launches it (a standby accepts
 * none before it is consistent, which may never come: the caller watches).
 */
export async function startServer(dataDir: string, o: DataDirOptions & StartOptions = {}) {
  await zombieGone(dataDir, o);
  const argv = [await pgCtl(dataDir), 'start', '-D', dataDir, '-l', o.log ?? serverLog(dataDir)];
  argv.push(...(o.noWait ? ['-W'] : ['-w', '-t', String(o.waitSeconds ?? 60)]));
  const serverArgs = [
    ...(o.port ? [`-p ${o.port}`] : []),
    ...Object.entries(o.settings ?? {}).map(([k, v]) => `-c ${k}=${v}`),
  ];
  if (serverArgs.length > 0) argv.push('-o', serverArgs.join(' '));
  try {
    const env = o.env ?? {};
    await runPgOrThrow(argv, `starting the server on ${dataDir}`, { asOwnerOf: dataDir, signal: o.signal, env });
  } catch (e) {
    const tail = await logTail(dataDir, 4, o.log);
    throw new SafeholdError('IO', `${(e as Error).message}${tail ? `; its log ends: ${tail}` : ''}`, { cause: e });
  }
}

/** The last lines of the server log, one line. */
export async function logTail(dataDir: string, lines = 4, log?: string): Promise<string> {
  const text = await fsp.readFile(log ?? serverLog(dataDir), 'utf8').catch(() => '');
  return text.trim().split('\n').slice(-lines).join(' / ');
}

/** pg_controldata of a stopped or running data directory, as 'Name: value' pairs. */
export async function controlData(dataDir: string, o: DataDirOptions = {}): Promise<Map<string, string>> {
  const bin = path.join(await pgBinDirFor(dataDir), 'pg_controldata');
  const out = await runPgOrThrow([bin, '-D', dataDir], `reading the control data of ${dataDir}`, {
    asOwnerOf: dataDir,
    signal: o.signal,
    env: { LC_ALL: 'C', LANG: 'C' },
  });
  const map = new Map<string, string>();
  for (const line of out.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) map.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return map;
}

/** Whether the control data says the server stopped cleanly. */
export function cleanlyStopped(cd: Map<string, string>): boolean {
  return /^shut down( in recovery)?$/.test(cd.get('Database cluster state') ?? '');
}

/**
 * Finishes crash recovery of a stopped server that did not shut down cleanly
 * (kill -9, power loss), in single-user mode so no client can write; after it
 * the control data's last checkpoint is the end of its WAL. Returns the
 * failure's words when recovery could not finish (e.g. WAL missing).
 */
export async function finishRecovery(dataDir: string, o: DataDirOptions = {}): Promise<string | null> {
  if (cleanlyStopped(await controlData(dataDir, o))) return null;
  await zombieGone(dataDir, o);
  const bin = path.join(await pgBinDirFor(dataDir), 'postgres');
  const out = await runPg([bin, '--single', '-F', '-D', dataDir, '-c', 'exit_on_error=true', 'template1'], {
    asOwnerOf: dataDir,
    signal: o.signal,
    stdin: '',
  });
  if (out.exitCode === 0) return null;
  return out.stderr.trim().split('\n').slice(-3).join(' / ') || `exit status ${out.exitCode}`;
}

/** Gives `file` the owner and group of `dataDir` (when we are root). */
async function sameOwner(file: string, dataDir: string): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const st = await fsp.stat(dataDir);
  await fsp.chown(file, st.uid, st.gid);
}

const quoteConf = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;

/**
 * Sets (string/number) or removes (null) settings in postgresql.auto.conf,
 * replacing earlier lines of the same name; written atomically.
 */
export async function setAutoConf(dataDir: string, settings: Record<string, string | number | null>): Promise<void> {
  const file = path.join(dataDir, 'postgresql.auto.conf');
  const old = await fsp.readFile(file, 'utf8').catch(() => '# Do not edit this file manually!\n');
  const names = new Set(Object.keys(settings));
  const kept = old.split('\n').filter((l) => {
    const m = /^\s*([a-zA-Z_.]+)\s*=/.exec(l);
    return !(m && names.has(m[1]!));
  });
  while (kept.length > 0 && kept[kept.length - 1] === '') kept.pop();
  for (const [k, v] of Object.entries(settings)) {
    if (v !== null) kept.push(`${k} = ${typeof v === 'number' ? v : quoteConf(v)}`);
  }
  const tmp = `${file}.safehold-tmp`;
  await fsp.writeFile(tmp, `${kept.join('\n')}\n`, { mode: 0o600 });
  await sameOwner(tmp, dataDir);
  await fsp.rename(tmp, file);
}

/** Reads one setting from postgresql.auto.conf (unquoted), or null. */
export async function readAutoConf(dataDir: string, name: string): Promise<string | null> {
  const text = await fsp.readFile(path.join(dataDir, 'postgresql.auto.conf'), 'utf8').catch(() => '');
  let value: string | null = null;
  for (const l of text.split('\n')) {
    const m = /^\s*([a-zA-Z_.]+)\s*=\s*(?:'((?:''|\\.|[^'])*)'|(\S+))/.exec(l);
    if (m && m[1] === name) value = m[2] !== undefined ? m[2].replace(/''/g, "'").replace(/\\(.)/g, '$1') : m[3]!;
  }
  return value;
}

/** Makes the next start of `dataDir` a standby (standby.signal). */
export async function writeStandbySignal(dataDir: string): Promise<void> {
  const file = path.join(dataDir, 'standby.signal');
  await fsp.writeFile(file, '', { mode: 0o600 });
  await sameOwner(file, dataDir);
}
