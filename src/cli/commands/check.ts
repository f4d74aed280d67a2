// safehold check: verifies the repository's structure, and with --read-data all stored data.

import { check } from '../../engine/check/checker.ts';
import type { CheckProgress } from '../../engine/check/checker.ts';
import { formatBytes, formatDuration } from '../output.ts';
import { openRepository, recorded, withLock } from '../session.ts';
import type { Command } from '../command.ts';
import { okOrError } from '../exit-codes.ts';

export const checkCommand: Command = {
  name: 'check',
  summary: 'verify the repository (with --read-data: every byte)',
  usage: `safehold check [--read-data]

Exit code 0 only when no problem is found (1 otherwise); each problem names the object affected.`,
  options: { 'read-data': { type: 'boolean' } },
  async run(ctx) {
    const { out } = ctx;
    const repo = await openRepository(ctx);
    const progress: CheckProgress = { phase: 'index', done: 0, total: 0 };
    const readData = ctx.values['read-data'] === true;
    const t0 = Date.now();
    const r = await recorded(ctx, 'check', repo.backend.location, () =>
      withLock(repo, false, async () => {
        out.startProgress(
          (ms) => `[${formatDuration(ms)}] checking ${progress.phase}: ${progress.done}/${progress.total}`,
        );
        try {
          const res = await check(repo, { readData, progress });
          return {
            ...res,
            status: res.ok ? ('succeeded' as const) : ('failed' as const),
            ...(res.ok ? {} : { errorCode: 'CORRUPT', error: `${res.errors.length} problem(s) found` }),
            runStats: { bytesRead: res.stats.bytesRead },
          };
        } finally {
          out.clearProgress();
        }
      }),
    );
    out.result({ ok: r.ok, errors: r.errors, warnings: r.warnings, stats: r.stats }, () => {
      for (const w of r.warnings) out.line(`warning: ${w.object}: ${w.message}`);
      for (const e of r.errors) out.line(`error: ${e.object}: ${e.message}`);
      const st = r.stats;
      out.line(
        `${st.snapshots} snapshots, ${st.trees} trees, ${st.blobs} blobs, ${st.packs} packs${readData ? `, ${formatBytes(st.bytesRead)} read` : ''} in ${formatDuration(Date.now() - t0)}`,
      );
      out.line(r.ok ? 'no errors were found' : `${r.errors.length} error(s) found: the repository is damaged`);
    });
    return okOrError(r.ok);
  },
};
