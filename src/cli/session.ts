// Opens what a command needs: the configuration (--config / SAFEHOLD_CONFIG,
// loaded on first use), the repository (location and password from
// options or environment) and the catalog in the data directory, and records
// the command as a run in the catalog from start to end.

import { openBackend } from '../repo/backend/factory.ts';
import { Repository } from '../repo/repository.ts';
import { RepoLock } from '../repo/lock.ts';
import { Catalog, defaultDataDir } from '../catalog/catalog.ts';
import type { FinishRun, RunStats } from '../catalog/catalog.ts';
import { readPassword } from './password.ts';
import { str } from './command.ts';
import type { CommandContext, Values } from './command.ts';
import type { Config } from '../config/types.ts';
import { SafeholdError } from '../core/errors.ts';

export function repoLocation(ctx: CommandContext): string {
  const loc = str(ctx.values, 'repo') ?? ctx.env.SAFEHOLD_REPOSITORY;
  if (!loc) throw new SafeholdError('USAGE', 'no repository given: use --repo PATH or set SAFEHOLD_REPOSITORY');
  return loc;
}

export { openBackend } from '../repo/backend/factory.ts';

export async function openRepository(ctx: CommandContext): Promise<Repository> {
  const backend = openBackend(repoLocation(ctx));
  if (!(await backend.exists())) {
    throw new SafeholdError('REPO_NOT_FOUND', `no repository at ${backend.location} (create one with 'safehold init')`);
  }
  const password = await readPassword(ctx.env, str(ctx.values, 'password-file'), `password for ${backend.location}: `);
  const repo = await Repository.open(backend, password);
  for (const k of repo.skippedKeys) ctx.out.warn(`key file ${k.name.slice(0, 12)} skipped: ${k.reason}`);
  return repo;
}

export function openCatalog(env: NodeJS.ProcessEnv): Catalog {
  return Catalog.open(defaultDataDir(env));
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
  const catalog = openCatalog(ctx.env);
  catalog.markAbandonedRuns();
  const runId = catalog.startRun({ command, args: ctx.positionals, ...(repository ? { repository } : {}) });
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

/** The configuration file named by --config, else SAFEHOLD_CONFIG; USAGE error when neither. */
export function configFile(values: Values, env: NodeJS.ProcessEnv): string {
  const file = str(values, 'config') ?? env.SAFEHOLD_CONFIG;
  if (!file) throw new SafeholdError('USAGE', 'no configuration file: use --config FILE or set SAFEHOLD_CONFIG');
  return file;
}

/** Loads the configuration named by --config / SAFEHOLD_CONFIG (for commands that need one). */
export async function loadConfigFrom(values: Values, env: NodeJS.ProcessEnv): Promise<Config> {
  const file = configFile(values, env);
  const { loadConfig } = await import('../config/load.ts');
  return loadConfig(file, env);
}
