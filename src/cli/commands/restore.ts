// safehold restore: recreates a snapshot's paths under a target directory.

import { restore, newRestoreProgress } from '../../engine/restore/restorer.ts';
import { findSnapshot } from '../../repo/snapshot.ts';
import { SafeholdError } from '../../core/errors.ts';
import { formatBytes, formatDuration, rate } from '../output.ts';
import { openRepository, recorded, withLock } from '../session.ts';
import { list, str } from '../command.ts';
import type { Command } from '../command.ts';
import { restoreGroupFromFlags } from './restore-group.ts';
import { okOrPartial } from '../exit-codes.ts';

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore a snapshot (or part of it) into a directory',
  usage: `safehold restore SNAPSHOT|latest --target DIR [--include PATH]...
       safehold restore --group NAME --from DEST [--snapshot GROUPRUN|latest] [--into-suffix S] [--files-to DIR] [--force] [--no-safety-backup] [--dry-run] [--yes] [--config FILE]

  --target DIR     where to restore; backed-up absolute paths are recreated under DIR
  --include PATH   restore only this path of the snapshot (and what is below it; repeatable)

  --group NAME     the safe restore of a consistency group: stop hook, check hook
                   (refused unless --force), safety backup, databases, files, cleanup
                   hook (backups taken online), start hook; see docs/databases.md
  --into-suffix S  restore databases as <name>S instead of over the originals
  --files-to DIR   restore the group's files under DIR instead of their places
  --dry-run        print what the group restore would stop, save, replace and remove,
                   and which hooks run; change nothing (--json: the same plan)
  --yes            over live data the group restore asks to type the group's name
                   on a terminal; --yes goes ahead without asking (needed without one)`,
  options: {
    target: { type: 'string', short: 't' },
    include: { type: 'string', multiple: true, short: 'i' },
    group: { type: 'string' },
    from: { type: 'string' },
    snapshot: { type: 'string' },
    'into-suffix': { type: 'string' },
    'files-to': { type: 'string' },
    force: { type: 'boolean' },
    'no-safety-backup': { type: 'boolean' },
    'dry-run': { type: 'boolean' },
    yes: { type: 'boolean' },
  },
  async run(ctx) {
    const { positionals, values, out } = ctx;
    if (str(values, 'group') !== undefined) return restoreGroupFromFlags(ctx);
    if (values['dry-run'] === true || values.yes === true)
      throw new SafeholdError('USAGE', '--dry-run and --yes are options of restore --group');
    if (positionals.length !== 1) throw new SafeholdError('USAGE', 'give exactly one snapshot id (or latest)');
    const target = str(values, 'target');
    if (!target) throw new SafeholdError('USAGE', 'restore needs --target DIR');
    const repo = await openRepository(ctx);
    const progress = newRestoreProgress();
    const t0 = Date.now();
    const r = await recorded(ctx, 'restore', repo.backend.location, () =>
      withLock(repo, false, async () => {
        const snap = await findSnapshot(repo, positionals[0]!);
        out.startProgress(
          (ms) =>
            `[${formatDuration(ms)}] ${progress.files}/${progress.totalFiles} files, ${formatBytes(progress.bytes)}/${formatBytes(progress.totalBytes)} ${rate(progress.bytes, ms)}`,
        );
        try {
          const res = await restore(repo, snap.tree, { target, include: list(values, 'include'), progress });
          return { ...res, snapshot: snap.id, runStats: { bytesRead: res.bytes } };
        } finally {
          out.clearProgress();
        }
      }),
    );
    for (const e of r.errors) out.warn(`${e.path}: ${e.message}`);
    out.result(
      {
        snapshot: r.snapshot,
        target,
        files: r.files,
        dirs: r.dirs,
        symlinks: r.symlinks,
        bytes: r.bytes,
        errors: r.errors,
      },
      () => {
        out.line(
          `restored snapshot ${r.snapshot.slice(0, 8)} to ${target}: ${r.files} files, ${r.dirs} dirs, ${r.symlinks} symlinks, ${formatBytes(r.bytes)} in ${formatDuration(Date.now() - t0)}`,
        );
      },
    );
    return okOrPartial(r.errors.length);
  },
};
