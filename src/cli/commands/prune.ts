// safehold prune: removes the data no snapshot uses any more, under the
// exclusive lock, in the crash-safe order of engine/maintenance/prune.ts. Also runs
// prune for `forget --prune` (runPrune, printPruneStats).

import { pgWalRetention } from '../../drivers/pg-wal/wal-retention.ts';
import { prune } from '../../engine/maintenance/prune.ts';
import type { PruneOptions, PruneProgress, PruneStats, PruneStep } from '../../engine/maintenance/prune.ts';
import type { Repository } from '../../repo/repository.ts';
import { PERCENT_RE } from '../../config/values.ts';
import { SafeholdError } from '../../core/errors.ts';
import { formatBytes, formatDuration } from '../output.ts';
import type { Output } from '../output.ts';
import { openRepository, recorded, withLock } from '../session.ts';
import { str } from '../command.ts';
import type { Command, CommandContext, Values } from '../command.ts';
import { EXIT } from '../exit-codes.ts';

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'remove data no snapshot uses (after forget)',
  usage: `safehold prune [--dry-run] [--max-unused PERCENT]

  --dry-run             show what would be removed and repacked; change nothing
  --max-unused PERCENT  unused space to tolerate in partly used packs, as a share of what
                        stays (default 5%); 0% rewrites every pack holding unused data

Takes the exclusive lock (exit 11 while any other command uses the repository).
A damaged repository is refused before anything is removed (exit 1: run check).`,
  options: { 'dry-run': { type: 'boolean' }, 'max-unused': { type: 'string' } },
  async run(ctx) {
    if (ctx.positionals.length > 0)
      throw new SafeholdError('USAGE', `prune takes no arguments (got '${ctx.positionals[0]}')`);
    const maxUnusedFraction = maxUnusedOption(ctx.values);
    const dryRun = ctx.values['dry-run'] === true;
    const repo = await openRepository(ctx);
    const stats = await recorded(ctx, 'prune', repo.backend.location, () =>
      withLock(repo, true, () => runPrune(ctx, repo, { dryRun, maxUnusedFraction })),
    );
    ctx.out.result(stats, () => printPruneStats(ctx.out, stats));
    return EXIT.ok;
  },
};

/** --max-unused as a fraction (undefined when not given): '5%' or '5'. */
export function maxUnusedOption(values: Values): number | undefined {
  const text = str(values, 'max-unused');
  if (text === undefined) return undefined;
  const m = PERCENT_RE.exec(text) ?? /^(\d+(?:\.\d+)?)$/.exec(text);
  const pct = m ? Number(m[1]) : NaN;
  if (!(pct >= 0 && pct <= 100))
    throw new SafeholdError('USAGE', `--max-unused needs a percentage from 0% to 100% (got '${text}')`);
  return pct / 100;
}

/** Runs prune with a progress line on a terminal (the caller holds the exclusive lock). */
export function runPrune(
  ctx: CommandContext,
  repo: Repository,
  opts: Omit<PruneOptions, 'progress' | 'beforeStep'>,
): Promise<PruneStats> {
  return withPruneProgress(ctx, (extra) => prune(repo, { walRetention: pgWalRetention, ...opts, ...extra }));
}

/** Runs work that prunes, giving it the progress record and test pause to pass on, with a progress line. */
export async function withPruneProgress<T>(
  ctx: CommandContext,
  work: (extra: Pick<PruneOptions, 'progress' | 'beforeStep'>) => Promise<T>,
): Promise<T> {
  const progress: PruneProgress = { phase: 'index', done: 0, total: 0 };
  ctx.out.startProgress((ms) => `[${formatDuration(ms)}] prune ${progress.phase}: ${progress.done}/${progress.total}`);
  try {
    const pause = testPause(ctx.env);
    return await work({ progress, ...(pause ? { beforeStep: pause } : {}) });
  } finally {
    ctx.out.clearProgress();
  }
}

/**
 * Test hook for the crash tests: with SAFEHOLD_TEST_PRUNE_PAUSE=<step> (a
 * PruneStep: repack, write-index, delete-index, delete-packs,
 * delete-packs-half) prune prints "prune: paused before <step>" on stderr
 * and then waits forever before that step, so that a test can kill it at
 * exactly that point. Never set in normal use.
 */
function testPause(env: NodeJS.ProcessEnv): ((step: PruneStep) => Promise<void>) | undefined {
  const at = env.SAFEHOLD_TEST_PRUNE_PAUSE;
  if (!at) return undefined;
  return async (step) => {
    if (step !== at) return;
    process.stderr.write(`prune: paused before ${step} (SAFEHOLD_TEST_PRUNE_PAUSE)\n`);
    await new Promise(() => {
      setInterval(() => {}, 60_000);
    });
  };
}

export function printPruneStats(out: Output, s: PruneStats): void {
  const p = s.packs;
  out.line(`${s.dryRun ? 'Would prune' : 'Pruned'} (${s.snapshots} snapshot${s.snapshots === 1 ? '' : 's'} kept):`);
  out.line(
    `Blobs:  ${s.blobs.used} used, ${s.blobs.unused} unused${s.blobs.duplicates ? ` (${s.blobs.duplicates} duplicate copies)` : ''}; ${s.blobs.removed} removed, ${s.blobs.repacked} repacked`,
  );
  out.line(
    `Packs:  ${p.before} before: ${p.kept} kept, ${p.deleted} deleted${p.unindexed ? ` (${p.unindexed} not in any index)` : ''}, ${p.repacked} repacked into ${p.written} new; ${p.after} after`,
  );
  out.line(
    `Data:   ${formatBytes(s.bytes.before)} → ${formatBytes(s.bytes.after)} (${formatBytes(s.bytes.removed)} freed, ${formatBytes(s.bytes.repacked)} rewritten, ${formatBytes(s.bytes.unusedAfter)} unused left)`,
  );
  out.line(`Index:  ${s.indexFiles.before} file${s.indexFiles.before === 1 ? '' : 's'} → ${s.indexFiles.after}`);
  if (s.dryRun) out.line('dry run: nothing was changed');
}
