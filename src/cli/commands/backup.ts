// safehold backup: backs up paths (or stdin) into a new snapshot.

import os from 'node:os';
import { backup, newProgress } from '../../engine/backup/archiver.ts';
import { resolvePaths } from '../../engine/backup/source-paths.ts';
import type { BackupResult } from '../../engine/backup/archiver.ts';
import { backupStream } from '../../engine/backup/stream-archiver.ts';
import { readListFile } from '../../engine/backup/list-files.ts';
import { ExcludeMarkers } from '../../engine/backup/exclude-markers.ts';
import type { MarkerOptions } from '../../engine/backup/exclude-markers.ts';
import { findSnapshot } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { isSafeholdError, SafeholdError } from '../../core/errors.ts';
import { formatBytes, formatDuration, rate } from '../output.ts';
import { openRepository, recorded, withLock } from '../session.ts';
import { list, str } from '../command.ts';
import type { Command, Values } from '../command.ts';
import { okOrPartial } from '../exit-codes.ts';

export const backupCommand: Command = {
  name: 'backup',
  summary: 'back up files and directories (or stdin) into a new snapshot',
  usage: `safehold backup PATH... [--files-from FILE] [--tag T]... [--exclude GLOB]... [--exclude-file FILE]
                [--exclude-caches] [--exclude-if-present NAME]... [--one-file-system] [--force]
safehold backup --stdin --stdin-filename NAME [--tag T]...

  --tag T             add a tag to the snapshot (repeatable)
  --exclude GLOB      skip entries matching GLOB: without '/' it matches names at any depth,
                      with '/' the absolute path (repeatable)
  --exclude-file FILE read --exclude patterns from FILE, one a line ('#' comments; repeatable)
  --files-from FILE   back up the paths listed in FILE, one a line ('#' comments, no globs;
                      with or instead of PATH arguments; repeatable)
  --exclude-caches    skip directories holding a CACHEDIR.TAG file with the standard signature
  --exclude-if-present NAME
                      skip directories holding an entry named NAME (repeatable)
  --one-file-system   do not cross into other file systems
  --force             re-read every file (ignore the parent snapshot)
  --parent ID         use this snapshot as parent (default: latest with the same paths and host)
  --stdin             back up standard input as one file named by --stdin-filename

Exit code 3: the snapshot was saved, but some files could not be read (listed on stderr).`,
  options: {
    tag: { type: 'string', multiple: true },
    exclude: { type: 'string', multiple: true },
    'exclude-file': { type: 'string', multiple: true },
    'files-from': { type: 'string', multiple: true },
    'exclude-caches': { type: 'boolean' },
    'exclude-if-present': { type: 'string', multiple: true },
    'one-file-system': { type: 'boolean', short: 'x' },
    force: { type: 'boolean' },
    parent: { type: 'string' },
    stdin: { type: 'boolean' },
    'stdin-filename': { type: 'string' },
  },
  async run(ctx) {
    const { values, positionals, out } = ctx;
    const stdin = values.stdin === true;
    if (stdin && positionals.length > 0) throw new SafeholdError('USAGE', 'give either --stdin or paths, not both');
    const { sources, excludes, markers } = await walkOptions(values, positionals, stdin);
    if (!stdin && sources.length === 0)
      throw new SafeholdError('USAGE', 'nothing to back up: give at least one path (or --files-from FILE, or --stdin)');
    if (stdin && !str(values, 'stdin-filename'))
      throw new SafeholdError('USAGE', '--stdin needs --stdin-filename NAME');
    const repo = await openRepository(ctx);
    const progress = newProgress();
    const t0 = Date.now();
    const res = await recorded(ctx, 'backup', repo.backend.location, async (runId, catalog) => {
      const r: BackupResult = await withLock(repo, false, async () => {
        out.startProgress(
          (ms) =>
            `[${formatDuration(ms)}] ${progress.files} files, ${progress.dirs} dirs, ${formatBytes(progress.bytesRead)} read ${rate(progress.bytesRead, ms)}${progress.errors ? `, ${progress.errors} errors` : ''}`,
        );
        try {
          if (stdin)
            return await backupStream(repo, process.stdin, {
              filename: str(values, 'stdin-filename')!,
              tags: list(values, 'tag'),
              progress,
            });
          const parent = values.force ? null : await pickParent(ctx.values, repo, sources);
          return await backup(repo, {
            paths: sources,
            excludes,
            markers,
            tags: list(values, 'tag'),
            parent,
            oneFileSystem: values['one-file-system'] === true,
            progress,
          });
        } finally {
          out.clearProgress();
        }
      });
      const s = r.snapshot.summary;
      catalog.recordSnapshot({
        id: r.id,
        repository: repo.backend.location,
        runId,
        time: Date.parse(r.snapshot.time),
        hostname: r.snapshot.hostname,
        paths: r.snapshot.paths,
        tags: r.snapshot.tags,
        tree: r.snapshot.tree,
        size: s.totalSize,
        files: s.totalFiles,
      });
      return {
        ...r,
        status: r.errors.length > 0 ? ('partial' as const) : ('succeeded' as const),
        snapshotId: r.id,
        runStats: {
          filesNew: s.filesNew,
          filesChanged: s.filesChanged,
          filesUnchanged: s.filesUnchanged,
          filesFailed: s.filesFailed,
          bytesRead: s.bytesRead,
          bytesAdded: s.bytesAdded,
        },
      };
    });
    for (const e of res.errors) out.warn(`could not read ${e.path}: ${e.message}`);
    const s = res.snapshot.summary;
    out.result(
      {
        snapshot: res.id,
        parent: res.snapshot.parent ?? null,
        paths: res.snapshot.paths,
        tags: res.snapshot.tags,
        summary: s,
        errors: res.errors,
      },
      () => {
        out.line(
          `snapshot ${res.id.slice(0, 8)} saved${res.snapshot.parent ? ` (parent ${res.snapshot.parent.slice(0, 8)})` : ''}`,
        );
        out.line(
          `Files:  ${s.filesNew} new, ${s.filesChanged} changed, ${s.filesUnchanged} unchanged${s.filesFailed ? `, ${s.filesFailed} unreadable` : ''}`,
        );
        out.line(`Dirs:   ${s.dirs}`);
        out.line(
          `Data:   ${formatBytes(s.bytesRead)} read, ${formatBytes(s.bytesAdded)} added to the repository (${formatBytes(s.totalSize)} in snapshot)`,
        );
        out.line(`Time:   ${formatDuration(Date.now() - t0)}`);
      },
    );
    return okOrPartial(res.errors.length);
  },
};

/** The paths (arguments and --files-from), exclude patterns (--exclude and --exclude-file) and marker options. */
async function walkOptions(
  values: Values,
  positionals: string[],
  stdin: boolean,
): Promise<{ sources: string[]; excludes: string[]; markers: MarkerOptions }> {
  const fileFlags = ['files-from', 'exclude', 'exclude-file', 'exclude-if-present', 'exclude-caches'] as const;
  const given = fileFlags.find((f) => values[f] !== undefined);
  if (stdin && given) throw new SafeholdError('USAGE', `--${given} does not go with --stdin`);
  const sources = [...positionals];
  for (const f of list(values, 'files-from')) sources.push(...(await readListFile(f, '--files-from')));
  const excludes = list(values, 'exclude');
  for (const f of list(values, 'exclude-file')) excludes.push(...(await readListFile(f, '--exclude-file')));
  const markers: MarkerOptions = {
    ifPresent: list(values, 'exclude-if-present'),
    caches: values['exclude-caches'] === true,
  };
  new ExcludeMarkers(markers); // checks the names now, before the repository is opened
  return { sources, excludes, markers };
}

async function pickParent(
  values: Record<string, unknown>,
  repo: Parameters<typeof findSnapshot>[0],
  paths: string[],
): Promise<SnapshotWithId | null> {
  const explicit = typeof values.parent === 'string' ? values.parent : undefined;
  if (explicit) return findSnapshot(repo, explicit);
  try {
    return await findSnapshot(repo, 'latest', { paths: await resolvePaths(paths), hostname: os.hostname() });
  } catch (e) {
    if (isSafeholdError(e, 'NOT_FOUND')) return null;
    throw e;
  }
}
