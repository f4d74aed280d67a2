// Opens what a command needs: the configuration (--config / SAFEHOLD_CONFIG,
// loaded once, on first use), the repository (location and password from
// --repo and the password options or environment, or from a repository
// destination of the configuration with --destination; the options of a
// remote backend from the destination, the command line and the
// environment: cliBackendOptions) and the catalog in
// the data directory (resolveDataDir: the one rule every command follows),
// and records the command as a run in the catalog from start to end.

import path from 'node:path';
import { Repository } from '../repo/repository.ts';
import { RepoLock } from '../repo/lock.ts';
import { Catalog, defaultDataDir } from '../catalog/catalog.ts';
import type { FinishRun, RunStats } from '../catalog/catalog.ts';
import { initCommandFor, repositoryDestination } from '../plans/run/destination-repo.ts';
import { openBackend, redactLocation } from '../repo/backend/factory.ts';
import type { Backend } from '../repo/backend/backend.ts';
import type { BackendOptions } from '../repo/backend/backend-options.ts';
import { describeRetry } from '../repo/backend/retrying-backend.ts';
import { parseSizeOrPercent } from '../config/values.ts';
import { readPassword } from './password.ts';
import { str } from './command.ts';
import type { CommandContext, Values } from './command.ts';
import type { Config, RepositoryDestination } from '../config/types.ts';
import { SafeholdError } from '../core/errors.ts';

/** The repository a command works on: where it is, and its password when a configured destination gives it. */
export interface RepoTarget {
  location: string;
  /** The destination's password from the configuration (with --destination); else asked as usual. */
  password?: string;
  /** The configured destination's name (with --destination). */
  destination?: string;
  /** The command that creates this repository, for messages. */
  init: string;
  /** Options for the backend factory (remote repositories). */
  backendOptions: BackendOptions;
}

/**
 * The repository of --repo (or SAFEHOLD_REPOSITORY), or of --destination NAME,
 * a repository destination of the configuration (its path and password).
 */
export async function repoTarget(ctx: CommandContext): Promise<RepoTarget> {
  const dest = str(ctx.values, 'destination');
  const repo = str(ctx.values, 'repo');
  if (dest === undefined) {
    const loc = repo ?? ctx.env.SAFEHOLD_REPOSITORY;
    if (!loc)
      throw new SafeholdError(
        'USAGE',
        'no repository given: use --repo PATH, set SAFEHOLD_REPOSITORY, or --destination NAME with --config FILE',
      );
    return { location: loc, init: 'safehold init', backendOptions: cliBackendOptions(ctx) };
  }
  if (repo !== undefined)
    throw new SafeholdError('USAGE', '--repo and --destination both name the repository: give only one');
  if (str(ctx.values, 'password-file') !== undefined)
    throw new SafeholdError(
      'USAGE',
      "--password-file does not go with --destination: the destination's password comes from the configuration",
    );
  const d = await configuredRepository(ctx, dest, '--destination');
  const init = initCommandFor((await commandConfig(ctx)).file, d.name);
  return {
    location: d.location,
    password: d.password.value,
    destination: d.name,
    init,
    backendOptions: cliBackendOptions(ctx, d.backendOptions),
  };
}

/**
 * The backend options of a command: `base` (a configured destination's),
 * with --connections, --limit-upload and --limit-download over it, and
 * SAFEHOLD_CONNECTIONS, SAFEHOLD_LIMIT_UPLOAD, SAFEHOLD_LIMIT_DOWNLOAD,
 * SAFEHOLD_SFTP_KEY_FILE and SAFEHOLD_SFTP_KNOWN_HOSTS under it; S3
 * credentials not configured come from the AWS SDK's chain (AWS_* variables,
 * profile) in the command's environment. Each retry of a failed request is
 * a warning line of the command's output.
 */
export function cliBackendOptions(ctx: CommandContext, base: BackendOptions = {}): BackendOptions {
  const { values, env } = ctx;
  const o: BackendOptions = { ...base, env, retry: { ...base.retry, onRetry: (e) => ctx.out.warn(describeRetry(e)) } };
  const conn = str(values, 'connections') ?? (base.connections === undefined ? env.SAFEHOLD_CONNECTIONS : undefined);
  if (conn) o.connections = connectionsOf(conn);
  const upload = str(values, 'limit-upload') ?? (base.rateLimit?.upload ? undefined : env.SAFEHOLD_LIMIT_UPLOAD);
  const download =
    str(values, 'limit-download') ?? (base.rateLimit?.download ? undefined : env.SAFEHOLD_LIMIT_DOWNLOAD);
  if (upload || download) {
    o.rateLimit = {
      ...base.rateLimit,
      ...(upload && { upload: bytesPerSecond(upload, '--limit-upload') }),
      ...(download && { download: bytesPerSecond(download, '--limit-download') }),
    };
  }
  const keyFile = base.sftp?.keyFile ?? (env.SAFEHOLD_SFTP_KEY_FILE || undefined);
  const knownHosts = base.sftp?.knownHosts ?? (env.SAFEHOLD_SFTP_KNOWN_HOSTS || undefined);
  if (keyFile !== undefined || knownHosts !== undefined)
    o.sftp = { ...base.sftp, ...(keyFile && { keyFile }), ...(knownHosts && { knownHosts }) };
  return o;
}

function connectionsOf(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 256)
    throw new SafeholdError(
      'USAGE',
      `--connections (or SAFEHOLD_CONNECTIONS): expected a whole number from 1 to 256, got '${text}'`,
    );
  return n;
}

function bytesPerSecond(text: string, flag: string): number {
  const r = parseSizeOrPercent(text);
  if (r === null || !('bytes' in r) || r.bytes < 1)
    throw new SafeholdError(
      'USAGE',
      `${flag}: expected bytes per second like '10MiB' or '500KB' (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB), got '${text}'`,
    );
  return r.bytes;
}

/** Backends opened for the command, closed when it ends (a remote one's connection would keep the process alive). */
const opened = new Set<Backend>();

/** The backend of a command's repository target (through the one backend factory). */
export function openTargetBackend(target: RepoTarget): Backend {
  return openCommandBackend(target.location, target.backendOptions);
}

/** The backend of `location` (through the one backend factory), closed when the command ends. */
export function openCommandBackend(location: string, opts: BackendOptions): Backend {
  const backend = openBackend(location, opts);
  opened.add(backend);
  return backend;
}

/** Closes every backend the command opened (main.ts, when the command ends; closing twice is harmless). */
export async function closeCommandBackends(): Promise<void> {
  const all = [...opened];
  opened.clear();
  await Promise.all(all.map((b) => b.close().catch(() => {})));
}

/** The repository destination `name` of the configuration given to the command (USAGE when none is given). */
export async function configuredRepository(
  ctx: CommandContext,
  name: string,
  flag: string,
): Promise<RepositoryDestination> {
  if (configNamed(ctx.values, ctx.env) === undefined)
    throw new SafeholdError(
      'USAGE',
      `${flag} ${name} names a destination of the configuration: give it with --config FILE or SAFEHOLD_CONFIG`,
    );
  return repositoryDestination(await commandConfig(ctx), name);
}

export async function openRepository(ctx: CommandContext): Promise<Repository> {
  const target = await repoTarget(ctx);
  const backend = openTargetBackend(target);
  if (!(await backend.exists())) {
    throw new SafeholdError(
      'REPO_NOT_FOUND',
      `no repository at ${backend.location} (create one with '${target.init}')`,
    );
  }
  const password =
    target.password ??
    (await readPassword(ctx.env, str(ctx.values, 'password-file'), `password for ${backend.location}: `));
  const repo = await Repository.open(backend, password);
  for (const k of repo.skippedKeys) ctx.out.warn(`key file ${k.name.slice(0, 12)} skipped: ${k.reason}`);
  return repo;
}

/**
 * The data directory (the catalog, the server's socket), the same for every
 * command: SAFEHOLD_DATA_DIR, else settings.dataDir of the configuration when
 * one is given (--config or SAFEHOLD_CONFIG; one that does not load is an
 * error), else the default (defaultDataDir).
 */
export async function resolveDataDir(ctx: CommandContext): Promise<string> {
  if (ctx.env.SAFEHOLD_DATA_DIR) return path.resolve(ctx.env.SAFEHOLD_DATA_DIR);
  const config = configNamed(ctx.values, ctx.env) === undefined ? null : await commandConfig(ctx);
  return config?.settings.dataDir ?? defaultDataDir(ctx.env);
}

/** The catalog in the command's data directory (resolveDataDir). */
export async function openCatalog(ctx: CommandContext): Promise<Catalog> {
  return Catalog.open(await resolveDataDir(ctx));
}

/** Runs `fn` as a recorded run; the run ends failed with the error's code when `fn` throws. */
export interface RunOutcome {
  status?: 'succeeded' | 'partial' | 'failed';
  errorCode?: string;
  error?: string;
  runStats?: RunStats;
  snapshotId?: string;
}

export async function recorded<T extends object>(
  ctx: CommandContext,
  command: string,
  repository: string | undefined,
  fn: (runId: string, catalog: Catalog) => Promise<T & RunOutcome>,
): Promise<T & RunOutcome> {
  const catalog = await openCatalog(ctx);
  catalog.markAbandonedRuns();
  // The catalog keeps locations without credentials (a URL's user:password@).
  const repo = repository ? { repository: redactLocation(repository) } : {};
  const runId = catalog.startRun({ command, args: ctx.positionals, ...repo });
  try {
    const r = await fn(runId, catalog);
    const fin: FinishRun = { status: r.status ?? 'succeeded' };
    if (r.errorCode) fin.errorCode = r.errorCode;
    if (r.error) fin.error = r.error;
    if (r.runStats) fin.stats = r.runStats;
    if (r.snapshotId) fin.snapshotId = r.snapshotId;
    catalog.finishRun(runId, fin);
    return r;
  } catch (e) {
    const code = e instanceof SafeholdError ? e.code : 'INTERNAL';
    catalog.finishRun(runId, { status: 'failed', errorCode: code, error: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    catalog.close();
  }
}

/** Holds a repository lock around `fn`. */
export async function withLock<T>(repo: Repository, exclusive: boolean, fn: () => Promise<T>): Promise<T> {
  const lock = await RepoLock.acquire(repo, exclusive);
  try {
    return await fn();
  } finally {
    await lock.release().catch(() => {});
  }
}

/** The configuration file named by --config, else SAFEHOLD_CONFIG; undefined when neither. */
function configNamed(values: Values, env: NodeJS.ProcessEnv): string | undefined {
  return str(values, 'config') ?? (env.SAFEHOLD_CONFIG || undefined);
}

/** The configuration file named by --config, else SAFEHOLD_CONFIG; USAGE error when neither. */
export function configFile(values: Values, env: NodeJS.ProcessEnv): string {
  const file = configNamed(values, env);
  if (!file) throw new SafeholdError('USAGE', 'no configuration file: use --config FILE or set SAFEHOLD_CONFIG');
  return file;
}

/** Loads the configuration named by --config / SAFEHOLD_CONFIG (for commands that need one), afresh. */
export async function loadConfigFrom(values: Values, env: NodeJS.ProcessEnv): Promise<Config> {
  const file = configFile(values, env);
  const { loadConfig } = await import('../config/load.ts');
  return loadConfig(file, env);
}

/** Configurations loaded, per command line (its parsed values): what a command reads of its file, it reads once. */
const loaded = new WeakMap<Values, Promise<Config>>();

/** The configuration given to the command (--config / SAFEHOLD_CONFIG), loaded on first use; USAGE when none. */
export function commandConfig(ctx: CommandContext): Promise<Config> {
  let config = loaded.get(ctx.values);
  if (!config) {
    config = loadConfigFrom(ctx.values, ctx.env).then(async (c) => {
      // Allowed but probably not meant: said on stderr, the command goes on ('config validate' lists every warning).
      const { retentionWarnings } = await import('../config/config-warnings.ts');
      for (const w of retentionWarnings(c)) ctx.out.warn(`${c.file}: ${w.path}: ${w.message}`);
      return c;
    });
    loaded.set(ctx.values, config);
  }
  return config;
}
