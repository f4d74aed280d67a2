// safehold copy: copies snapshots of the repository to a second repository
// (an offsite copy), re-identifying every blob under the destination's keys,
// then reads each copy back to verify it. Shared locks on both repositories.

import path from 'node:path';
import { copySnapshots } from '../../engine/copy/copy.ts';
import type { CopyResult } from '../../engine/copy/copy.ts';
import type { CopyProgress } from '../../engine/copy/copy-progress.ts';
import { Repository } from '../../repo/repository.ts';
import { findSnapshot, listSnapshots } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import { formatBytes, formatDuration, rate } from '../output.ts';
import { readPassword } from '../password.ts';
import type { RepoTarget } from '../session.ts';
import {
  cliBackendOptions,
  commandConfig,
  configuredRepository,
  openRepository,
  openTargetBackend,
  recorded,
  repoTarget,
} from '../session.ts';
import { redactLocation } from '../../repo/backend/factory.ts';
import { locationScheme } from '../../config/compile-destinations.ts';
import { initCommandFor } from '../../plans/run/destination-repo.ts';
import { RepoLock } from '../../repo/lock.ts';
import type { Catalog } from '../../catalog/catalog.ts';
import { list, str } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const copyCommand: Command = {
  name: 'copy',
  summary: 'copy snapshots to another repository (verified)',
  usage: `safehold copy --to REPO2 [--to-password-file FILE] [--tag T]... [--no-verify] [SNAPSHOT|latest ...]
       safehold copy --config FILE --destination NAME --to-destination NAME2 [--tag T]... [SNAPSHOT|latest ...]

  --to REPO2               the destination repository (must exist: 'safehold init --repo REPO2')
  --to-password-file FILE  its password (or SAFEHOLD_TO_PASSWORD, SAFEHOLD_TO_PASSWORD_FILE, or a prompt on a TTY)
  --to-destination NAME2   instead of --to: a repository destination of the configuration (its path and password)
  --tag T                  copy only snapshots with this tag (repeatable: any of them)
  --no-verify              do not read the copies back from REPO2

Without SNAPSHOT arguments every snapshot of the repository is considered;
those already copied to REPO2 are skipped.`,
  options: {
    to: { type: 'string' },
    'to-password-file': { type: 'string' },
    'to-destination': { type: 'string' },
    tag: { type: 'string', multiple: true },
    'no-verify': { type: 'boolean' },
  },
  async run(ctx) {
    const { out, values } = ctx;
    const to = await copyTarget(ctx);
    const from = comparable((await repoTarget(ctx)).location);
    if (comparable(to.location) === from)
      throw new SafeholdError('USAGE', 'the source and destination are the same repository');
    const src = await naming('source', redactLocation(from), () => openRepository(ctx));
    const dst = await openDestination(ctx, to);
    const verify = values['no-verify'] !== true;
    const t0 = Date.now();
    const r = await recorded(ctx, 'copy', src.backend.location, (runId, catalog) =>
      sharedLock(src, 'source', () =>
        sharedLock(dst, 'destination', async () => {
          const snapshots = await pickSnapshots(src, ctx.positionals, list(values, 'tag'));
          const res = await copyWithProgress(ctx, src, dst, snapshots, verify);
          recordCopies(catalog, runId, dst.backend.location, snapshots, res);
          return { ...res, runStats: { bytesAdded: res.snapshots.reduce((n, c) => n + c.bytesCopied, 0) } };
        }),
      ),
    );
    const copied = r.snapshots.filter((c) => c.copied).length;
    const skipped = r.snapshots.length - copied;
    const bytes = r.runStats.bytesAdded;
    const blobs = r.snapshots.reduce((n, c) => n + c.blobsCopied, 0);
    out.result(
      {
        from: src.backend.location,
        to: dst.backend.location,
        mode: r.mode,
        copied,
        skipped,
        blobsCopied: blobs,
        bytesCopied: bytes,
        snapshots: r.snapshots,
      },
      () => {
        for (const c of r.snapshots) {
          out.line(
            c.copied
              ? `snapshot ${c.source.slice(0, 8)} -> ${c.copied.slice(0, 8)}: ${c.blobsCopied} blobs, ${formatBytes(c.bytesCopied)} added${c.verified ? ', verified' : ''}`
              : `snapshot ${c.source.slice(0, 8)}: skipped (${c.skipped})`,
          );
        }
        out.line(
          `${copied} copied, ${skipped} skipped, ${formatBytes(bytes)} added to ${dst.backend.location} in ${formatDuration(Date.now() - t0)}`,
        );
      },
    );
    return EXIT.ok;
  },
};

async function copyWithProgress(
  ctx: CommandContext,
  src: Repository,
  dst: Repository,
  snapshots: SnapshotWithId[],
  verify: boolean,
): Promise<CopyResult> {
  let progress: Readonly<CopyProgress> | undefined;
  ctx.out.startProgress((ms) => progressLine(progress, ms));
  try {
    return await copySnapshots(src, dst, {
      snapshots,
      verify,
      onProgress: (p) => {
        progress = p;
      },
    });
  } finally {
    ctx.out.clearProgress();
  }
}

/** The new snapshots go into the catalog under the destination, like a backup's. */
function recordCopies(
  catalog: Catalog,
  runId: string,
  location: string,
  snapshots: SnapshotWithId[],
  res: CopyResult,
): void {
  const bySource = new Map(snapshots.map((s) => [s.id, s]));
  for (const c of res.snapshots) {
    const s = bySource.get(c.source)!;
    if (!c.copied || !c.tree) continue;
    catalog.recordSnapshot({
      id: c.copied,
      repository: location,
      runId,
      time: Date.parse(s.time),
      hostname: s.hostname,
      paths: s.paths,
      tags: s.tags,
      tree: c.tree,
      size: s.summary.totalSize,
      files: s.summary.totalFiles,
    });
  }
}

/** The repository to copy to: --to REPO2, or --to-destination NAME2 of the configuration (with its password). */
async function copyTarget(ctx: CommandContext): Promise<RepoTarget> {
  const to = str(ctx.values, 'to');
  const toDest = str(ctx.values, 'to-destination');
  if (to !== undefined && toDest !== undefined)
    throw new SafeholdError('USAGE', '--to and --to-destination both name the destination: give only one');
  if (toDest !== undefined) {
    if (str(ctx.values, 'to-password-file') !== undefined)
      throw new SafeholdError(
        'USAGE',
        "--to-password-file does not go with --to-destination: the destination's password comes from the configuration",
      );
    const d = await configuredRepository(ctx, toDest, '--to-destination');
    const init = initCommandFor((await commandConfig(ctx)).file, d.name);
    return {
      location: d.location,
      password: d.password.value,
      init,
      backendOptions: cliBackendOptions(ctx, d.backendOptions),
    };
  }
  if (!to)
    throw new SafeholdError(
      'USAGE',
      "copy needs --to REPO2 (or --to-destination NAME2), the destination repository (see 'safehold copy --help')",
    );
  return { location: to, init: `safehold init --repo ${redactLocation(to)}`, backendOptions: cliBackendOptions(ctx) };
}

/** The destination: exists (else exit 10), and opens with its own password (else exit 12, naming it). */
async function openDestination(ctx: CommandContext, to: RepoTarget): Promise<Repository> {
  const backend = openTargetBackend(to);
  if (!(await backend.exists())) {
    throw new SafeholdError(
      'REPO_NOT_FOUND',
      `no destination repository at ${backend.location} (create one with '${to.init}')`,
    );
  }
  if (to.password !== undefined)
    return naming('destination', backend.location, () => Repository.open(backend, to.password!));
  const env = {
    ...ctx.env,
    SAFEHOLD_PASSWORD: ctx.env.SAFEHOLD_TO_PASSWORD,
    SAFEHOLD_PASSWORD_FILE: ctx.env.SAFEHOLD_TO_PASSWORD_FILE,
  };
  let password: string;
  try {
    password = await readPassword(
      env,
      str(ctx.values, 'to-password-file'),
      `password for ${backend.location} (destination): `,
    );
  } catch (e) {
    if (!isSafeholdError(e, 'NO_PASSWORD') || str(ctx.values, 'to-password-file') || env.SAFEHOLD_PASSWORD_FILE)
      throw e;
    throw new SafeholdError(
      'NO_PASSWORD',
      'no password for the destination repository: set SAFEHOLD_TO_PASSWORD, use --to-password-file, or run on a terminal',
    );
  }
  return naming('destination', backend.location, () => Repository.open(backend, password));
}

/** The snapshots named (or all), with any of the tags when tags are given; each once, oldest first. */
async function pickSnapshots(repo: Repository, refs: string[], tags: string[]): Promise<SnapshotWithId[]> {
  const picked =
    refs.length === 0 ? await listSnapshots(repo) : await Promise.all(refs.map((ref) => findSnapshot(repo, ref)));
  const unique = [...new Map(picked.map((s) => [s.id, s])).values()];
  const wanted = tags.length === 0 ? unique : unique.filter((s) => s.tags.some((t) => tags.includes(t)));
  return wanted.sort((a, b) => a.time.localeCompare(b.time) || a.id.localeCompare(b.id));
}

/** Holds a shared lock on the repository around `fn`; a conflicting lock is reported naming the repository. */
async function sharedLock<T>(repo: Repository, which: 'source' | 'destination', fn: () => Promise<T>): Promise<T> {
  const lock = await naming(which, repo.backend.location, () => RepoLock.acquire(repo, false));
  try {
    return await fn();
  } finally {
    await lock.release().catch(() => {});
  }
}

/** A location to compare: a local path resolved, a remote location (s3:…, sftp:…) as written. */
function comparable(location: string): string {
  return locationScheme(location) === null ? path.resolve(location) : location;
}

/** Says which repository a wrong password, missing password or lock is about (same code, so the same exit status). */
async function naming<T>(which: 'source' | 'destination', location: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (
      !isSafeholdError(e) ||
      !['WRONG_PASSWORD', 'LOCKED', 'NO_PASSWORD'].includes(e.code) ||
      /^(source|destination) repository /.test(e.message)
    )
      throw e;
    throw new SafeholdError(e.code, `${which} repository ${location}: ${e.message}`, {
      cause: e,
      retryable: e.retryable,
      ...(e.details ? { details: e.details } : {}),
    });
  }
}

function progressLine(p: Readonly<CopyProgress> | undefined, ms: number): string {
  if (!p) return `[${formatDuration(ms)}] starting`;
  const what =
    p.phase === 'copy'
      ? `copying, ${formatBytes(p.bytesRead)} read ${rate(p.bytesRead, ms)}, ${formatBytes(p.bytesCopied)} added`
      : `verifying, ${p.blobsVerified} blobs, ${formatBytes(p.bytesVerified)} read back`;
  return `[${formatDuration(ms)}] snapshot ${p.position}/${p.total} ${p.snapshot.slice(0, 8)}: ${what}`;
}
