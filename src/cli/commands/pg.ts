// safehold pg: PostgreSQL continuous archiving and point-in-time recovery
// (docs/pitr.md). archive-push and archive-get are the server's
// archive_command and restore_command; backup takes a base backup; check
// verifies the WAL chain and prints the recoverable window; restore brings a
// cluster back to a moment into a new directory. Each takes the repository
// like every other command (--repo, the password variables, or --config with
// --destination).

import * as path from 'node:path';
import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import { pushWal } from '../../drivers/pg-wal/wal-push.ts';
import { getWal } from '../../drivers/pg-wal/wal-get.ts';
import { pgBaseBackup } from '../../plans/pitr/base-backup.ts';
import { checkArchive } from '../../plans/pitr/pitr-check.ts';
import type { ClusterCheck } from '../../plans/pitr/pitr-check.ts';
import { pitrRestore } from '../../plans/pitr/pitr-restore.ts';
import type { RecoveryTarget } from '../../plans/pitr/recovery-target.ts';
import { list, str } from '../command.ts';
import type { Command, CommandContext } from '../command.ts';
import { EXIT } from '../exit-codes.ts';
import type { ExitCode } from '../exit-codes.ts';
import { formatBytes, formatDuration } from '../output.ts';
import { openRepository, withLock } from '../session.ts';
import { recoveryCommand } from './pg-recovery-command.ts';
import { parseDuration } from '../../config/values.ts';

const USAGE = `safehold pg archive-push WAL_PATH [--pgdata DIR] [--cluster ID]
safehold pg archive-get WAL_FILE DEST_PATH [--pgdata DIR] [--cluster ID]
safehold pg backup --url postgres://USER@HOST:PORT/DB [--tag T]...
safehold pg check [--cluster ID]
safehold pg restore --target DIR (--to-time T | --to-lsn L | --to-xid X | --to-name N | --latest)
                    [--cluster ID] [--base SNAPSHOT] [--port P] [--start] [--pause] [--timeout DURATION]

  archive-push   store a WAL file the server hands over (archive_command = 'safehold pg archive-push %p ...');
                 the same file again is fine, different content under its name is refused
  archive-get    fetch an archived WAL file (restore_command = 'safehold pg archive-get %f "%p" ...');
                 exit code 1 when it is not in the archive
  backup         a base backup of the whole server (pg_basebackup; needs a role with REPLICATION)
  check          whether the archived WAL runs without a gap from each base backup, and the recoverable window
  restore        restore a cluster to a moment into DIR (missing or empty), recover it from the archive up to
                 the target and check it got there; --start leaves it running, else it is stopped cleanly

  --pgdata DIR   the server's data directory (default: the working directory, as for archive_command)
  --cluster ID   the cluster's system identifier (as pg_controldata shows it)
  --url URL      the server to back up (its password, if any, in the URL or PGPASSWORD)
  --to-time T    recover up to this time (e.g. 2026-12-05T18:30:00Z), --to-lsn a WAL position (0/3000060),
                 --to-xid a transaction id, --to-name a restore point, --latest the end of the archived WAL
  --base ID      start from this base backup (default: the newest one that had finished before the target)
  --port P       the restored server's port (default: a free one)
  --pause        at the target, pause in recovery instead of promoting
  --timeout D    give up when recovery has not finished after D (default 6h)`;

async function archivePush(ctx: CommandContext): Promise<ExitCode> {
  const [walPath, ...rest] = ctx.positionals;
  if (!walPath || rest.length > 0) throw new SafeholdError('USAGE', 'pg archive-push takes one WAL path (%p)');
  const repo = await openRepository(ctx);
  const r = await pushWal(repo, walPath, walOptions(ctx));
  ctx.out.result(r, () =>
    ctx.out.line(
      `${r.file} ${r.outcome === 'identical' ? 'was already archived' : 'archived'} (cluster ${r.cluster}, ${formatBytes(r.bytes)})`,
    ),
  );
  return EXIT.ok;
}

async function archiveGet(ctx: CommandContext): Promise<ExitCode> {
  const [file, dest, ...rest] = ctx.positionals;
  if (!file || !dest || rest.length > 0)
    throw new SafeholdError('USAGE', 'pg archive-get takes a WAL file name (%f) and where to write it (%p)');
  const repo = await openRepository(ctx);
  try {
    const r = await getWal(repo, file, dest, walOptions(ctx));
    ctx.out.result(r, () => ctx.out.line(`${r.file} restored (cluster ${r.cluster}, ${formatBytes(r.bytes)})`));
    return EXIT.ok;
  } catch (e) {
    // The server asks for files that may not exist (the next segment, newer timelines): not an error worth a trace.
    if (!isSafeholdError(e, 'NOT_FOUND')) throw e;
    ctx.out.result({ file, found: false }, () => ctx.out.info(`${file} is not in the archive`));
    return EXIT.error;
  }
}

function walOptions(ctx: CommandContext): { pgdata?: string; cluster?: string } {
  const pgdata = str(ctx.values, 'pgdata');
  const cluster = str(ctx.values, 'cluster');
  return { ...(pgdata ? { pgdata: path.resolve(pgdata) } : {}), ...(cluster !== undefined ? { cluster } : {}) };
}

async function backup(ctx: CommandContext): Promise<ExitCode> {
  const url = str(ctx.values, 'url');
  if (!url) throw new SafeholdError('USAGE', 'pg backup needs --url postgres://USER@HOST:PORT/DB');
  const repo = await openRepository(ctx);
  const r = await withLock(repo, false, () => pgBaseBackup(repo, { url, tags: list(ctx.values, 'tag') }));
  const p = r.snapshot.meta?.pitr;
  ctx.out.result({ id: r.id, snapshot: r.snapshot }, () => {
    ctx.out.line(
      `base backup ${r.id.slice(0, 8)} saved: ${formatBytes(r.snapshot.summary.totalSize)} read, ${formatBytes(r.snapshot.summary.bytesAdded)} added in ${formatDuration(r.snapshot.summary.durationMs)}`,
    );
    if (p) ctx.out.line(`cluster ${p.systemId}, timeline ${p.timeline}, WAL ${p.startLsn} to ${p.stopLsn}`);
  });
  return EXIT.ok;
}

function printCheck(ctx: CommandContext, c: ClusterCheck): void {
  ctx.out.line(`cluster ${c.cluster}: ${c.ok ? 'ok' : 'PROBLEMS'}`);
  ctx.out.line(
    `  base backups: ${c.baseBackups.length}; WAL files: ${c.walFiles} (${formatBytes(c.walBytes)}); newest segment ${c.newestSegment ?? '-'}`,
  );
  ctx.out.line(`  recoverable from ${c.window.earliest ?? '-'} to ${c.window.latest ?? '-'}`);
  for (const b of c.baseBackups)
    ctx.out.line(
      `  ${b.snapshot.slice(0, 8)} ${b.time} timeline ${b.timeline} ${b.startLsn}..${b.stopLsn}${b.reachesLatest ? '' : ' (does not reach the newest WAL)'}`,
    );
  for (const p of c.problems) ctx.out.line(`  problem: ${p}`);
}

async function check(ctx: CommandContext): Promise<ExitCode> {
  const repo = await openRepository(ctx);
  const cluster = str(ctx.values, 'cluster');
  const all = await withLock(repo, false, () => checkArchive(repo, cluster !== undefined ? { cluster } : {}));
  if (cluster !== undefined && all.length === 0)
    throw new SafeholdError('NOT_FOUND', `the repository holds no base backup or WAL of cluster ${cluster}`);
  ctx.out.result({ clusters: all }, () => {
    if (all.length === 0) ctx.out.line('no PostgreSQL base backup or archived WAL in this repository');
    for (const c of all) printCheck(ctx, c);
  });
  return all.every((c) => c.ok) ? EXIT.ok : EXIT.error;
}

function targetOf(ctx: CommandContext): RecoveryTarget {
  const given: RecoveryTarget[] = [];
  for (const kind of ['time', 'lsn', 'xid', 'name'] as const) {
    const v = str(ctx.values, `to-${kind}`);
    if (v !== undefined) given.push({ kind, value: v });
  }
  if (ctx.values.latest === true || ctx.positionals.includes('latest')) given.push({ kind: 'latest' });
  if (given.length !== 1)
    throw new SafeholdError(
      'USAGE',
      'pg restore needs exactly one of --to-time, --to-lsn, --to-xid, --to-name or --latest',
    );
  return given[0]!;
}

function portOf(ctx: CommandContext): number | undefined {
  const p = str(ctx.values, 'port');
  if (p === undefined) return undefined;
  const n = Number(p);
  if (!/^\d+$/.test(p) || n < 1 || n > 65535)
    throw new SafeholdError('USAGE', `--port takes a port number, not '${p}'`);
  return n;
}

function timeoutOf(text: string): number {
  const ms = parseDuration(text);
  if (ms === null || ms <= 0)
    throw new SafeholdError('USAGE', `--timeout takes a duration like 30m or 2h, not '${text}'`);
  return ms;
}

async function restore(ctx: CommandContext): Promise<ExitCode> {
  const dir = str(ctx.values, 'target');
  if (!dir) throw new SafeholdError('USAGE', 'pg restore needs --target DIR (a new or empty directory)');
  const target = targetOf(ctx);
  const timeout = str(ctx.values, 'timeout');
  const repo = await openRepository(ctx);
  const rc = recoveryCommand(ctx);
  const cluster = str(ctx.values, 'cluster');
  const base = str(ctx.values, 'base');
  const port = portOf(ctx);
  const r = await withLock(repo, false, () =>
    pitrRestore(repo, {
      target,
      dataDir: path.resolve(dir),
      restoreCommand: rc.command,
      serverEnv: rc.env,
      start: ctx.values.start === true,
      action: ctx.values.pause === true ? 'pause' : 'promote',
      ...(cluster !== undefined ? { cluster } : {}),
      ...(base !== undefined ? { base } : {}),
      ...(port !== undefined ? { port } : {}),
      ...(timeout !== undefined ? { timeoutMs: timeoutOf(timeout) } : {}),
      log: (l) => ctx.out.info(l),
    }),
  );
  ctx.out.result(r, () => {
    ctx.out.line(
      `cluster ${r.cluster} restored into ${r.dataDir} from base backup ${r.baseBackup.snapshot.slice(0, 8)}`,
    );
    ctx.out.line(
      `recovery: ${r.reached.how}; last transaction replayed at ${r.reached.time ?? '-'}; ${r.walFetched} WAL file(s) fetched in ${formatDuration(r.durationMs)}`,
    );
    ctx.out.line(
      r.running ? `the server is running on port ${r.port}` : 'the server was stopped cleanly; start it with pg_ctl',
    );
  });
  return EXIT.ok;
}

const SUBCOMMANDS: Record<string, (ctx: CommandContext) => Promise<ExitCode>> = {
  'archive-push': archivePush,
  'archive-get': archiveGet,
  backup,
  check,
  restore,
};

export const pgCommand: Command = {
  name: 'pg',
  summary: 'PostgreSQL WAL archiving, base backups and point-in-time restore',
  usage: USAGE,
  options: {
    pgdata: { type: 'string' },
    cluster: { type: 'string' },
    url: { type: 'string' },
    tag: { type: 'string', multiple: true },
    target: { type: 'string' },
    'to-time': { type: 'string' },
    'to-lsn': { type: 'string' },
    'to-xid': { type: 'string' },
    'to-name': { type: 'string' },
    latest: { type: 'boolean' },
    base: { type: 'string' },
    port: { type: 'string' },
    start: { type: 'boolean' },
    pause: { type: 'boolean' },
    timeout: { type: 'string' },
  },
  async run(ctx) {
    const [sub, ...rest] = ctx.positionals;
    const fn = sub ? SUBCOMMANDS[sub] : undefined;
    if (!fn)
      throw new SafeholdError(
        'USAGE',
        `pg needs a subcommand: ${Object.keys(SUBCOMMANDS).join(', ')} (safehold pg --help)`,
      );
    return fn({ ...ctx, positionals: rest });
  },
};
