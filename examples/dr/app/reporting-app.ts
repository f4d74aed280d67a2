// The demo reporting application of the disaster-recovery example (it stands
// in for the reporting server of the site procedures). Commands:
//   run        the server loop in the foreground (see app-loop.ts)
//   start      starts the loop in the background (pid file), waits until it is ready
//   stop       stops it (SIGTERM, then SIGKILL after 10 s); nothing to do when it is not running
//   status     exit 0 when running, 3 when not
//   setup-db   creates the database when missing, runs the migration and maintenance jobs
//   migrate    the migration job          maintain   the maintenance job (partitions)
//   partitioned       prints yes/no: whether the rows table is partitioned
//   state      prints the server's state from its log since its last start:
//              stopped, starting, migration (waits for the migration job), ready
//   check-log  exit 1 when the log since the last start has errors or the server is not ready
//   diverged --old URL --current URL [--since T]   rows at the old primary that the current one lacks
//   measure --at MS --old-site S --new-site S --url URL   RTO/RPO of a switch from the journal (JSON)
//   aggregate --from T [--back 24h] [--to T|now]   re-aggregates rows per minute (idempotent)
// Every command takes --config app.ini (default: app.ini beside this file).

import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { checkLog } from './app-log.ts';
import { AppLoop } from './app-loop.ts';
import { type AppConfig, readAppConfig } from './ini.ts';
import { aggregate, connect, divergedRows, ensureDatabase, isPartitioned, maintain, migrate } from './jobs.ts';
import { measure } from './measure.ts';
import pg from 'pg';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (s: string) => process.stdout.write(`${s}\n`);

function runningPid(cfg: AppConfig): number | null {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(cfg.pid, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
  } catch {
    return null;
  }
  // An exited process not yet reaped by its new parent (a zombie) is not running.
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return null;
  } catch {
    // No /proc: trust kill(pid, 0).
  }
  return pid;
}

async function start(cfg: AppConfig, waitS: number): Promise<number> {
  const old = runningPid(cfg);
  if (old) {
    say(`already running (pid ${old})`);
    return 0;
  }
  const child = spawn(process.execPath, [import.meta.filename, 'run', '--config', cfg.file], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  fs.writeFileSync(cfg.pid, `${child.pid}\n`);
  const end = Date.now() + waitS * 1000;
  await sleep(50);
  while (Date.now() < end) {
    if (!runningPid(cfg)) {
      say(`the server exited at once; see ${cfg.log}`);
      return 1;
    }
    const log = checkLog(cfg.log);
    if (log.ready || log.migrationState) {
      say(`started pid ${child.pid}${log.migrationState ? ' (in the migration state)' : ''}`);
      return 0;
    }
    await sleep(50);
  }
  say(`started pid ${child.pid}, but not ready after ${waitS} s; see ${cfg.log}`);
  return 1;
}

async function stop(cfg: AppConfig): Promise<number> {
  const pid = runningPid(cfg);
  if (!pid) {
    fs.rmSync(cfg.pid, { force: true });
    say('not running');
    return 0;
  }
  process.kill(pid, 'SIGTERM');
  const end = Date.now() + 10_000;
  while (Date.now() < end && runningPid(cfg)) await sleep(50);
  if (runningPid(cfg)) process.kill(pid, 'SIGKILL');
  fs.rmSync(cfg.pid, { force: true });
  say(`stopped pid ${pid}`);
  return 0;
}

/** A time given as ISO text, Unix seconds or `now`. */
function parseTime(s: string, what: string): Date {
  if (s === 'now') return new Date();
  const d = /^\d+(\.\d+)?$/.test(s) ? new Date(Number(s) * 1000) : new Date(s);
  if (Number.isNaN(d.getTime())) throw new Error(`${what}: not a time: '${s}'`);
  return d;
}

function parseHours(s: string): number {
  const m = /^(\d+)h$/.exec(s);
  if (!m) throw new Error(`--back: expected hours like 24h, not '${s}'`);
  return Number(m[1]) * 3_600_000;
}

async function withClient<T>(cfg: AppConfig, f: (c: ReturnType<typeof connect>) => Promise<T>): Promise<T> {
  const c = connect(cfg);
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

async function reaggregate(cfg: AppConfig, v: Record<string, string | undefined>): Promise<number> {
  const back = v.back ? parseHours(v.back) : 0;
  const to = parseTime(v.to ?? 'now', '--to');
  // Without a known time (no transaction was replayed before the failure) the range ends at --to.
  const known = v.from !== undefined && v.from !== '' && v.from !== 'null';
  const from = new Date((known ? parseTime(v.from!, '--from') : to).getTime() - back);
  const minutes = await withClient(cfg, (c) => aggregate(c, from, to));
  say(`re-aggregated ${minutes} minutes from ${from.toISOString()} to ${to.toISOString()}`);
  return 0;
}

/** Prints the rows a rewind of the old primary would discard (both servers must be up). */
async function diverged(v: Record<string, string | undefined>): Promise<number> {
  if (!v.old || !v.current) throw new Error('diverged needs --old URL and --current URL');
  const since = v.since && v.since !== 'null' ? parseTime(v.since, '--since') : new Date(Date.now() - 86_400_000);
  const old = new pg.Client({ connectionString: v.old, connectionTimeoutMillis: 3000 });
  const current = new pg.Client({ connectionString: v.current, connectionTimeoutMillis: 3000 });
  await old.connect();
  try {
    await current.connect();
    const d = await divergedRows(old, current, since);
    say(
      d.count === 0
        ? `no rows written at the old primary since ${since.toISOString()} are missing at the current one`
        : `${d.count} rows only at the old primary: ids ${d.firstId}..${d.lastId}, ` +
            `written ${d.firstAt!.toISOString()} .. ${d.lastAt!.toISOString()}`,
    );
    say(JSON.stringify({ divergedRows: d.count, firstId: d.firstId, lastId: d.lastId }));
    return 0;
  } finally {
    await old.end().catch(() => {});
    await current.end().catch(() => {});
  }
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values: v } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', default: path.join(import.meta.dirname, 'app.ini') },
      from: { type: 'string' },
      to: { type: 'string' },
      back: { type: 'string' },
      wait: { type: 'string', default: '15' },
      old: { type: 'string' },
      current: { type: 'string' },
      since: { type: 'string' },
      at: { type: 'string' },
      'old-site': { type: 'string' },
      'new-site': { type: 'string' },
      url: { type: 'string' },
    },
  });
  const cmd = positionals[0];
  const cfg = readAppConfig(v.config!);
  switch (cmd) {
    case 'run': {
      const loop = new AppLoop(cfg.file);
      process.on('SIGTERM', () => loop.stop());
      process.on('SIGINT', () => loop.stop());
      await loop.run();
      // Do not wait for a connection attempt still pending against a lost server.
      process.exit(0);
    }
    case 'start':
      return start(cfg, Number(v.wait));
    case 'stop':
      return stop(cfg);
    case 'status': {
      const pid = runningPid(cfg);
      say(pid ? `running (pid ${pid})` : 'not running');
      return pid ? 0 : 3;
    }
    case 'setup-db': {
      say((await ensureDatabase(cfg)) ? `created database ${cfg.database}` : `database ${cfg.database} exists`);
      const applied = await withClient(cfg, async (c) => [await migrate(c), await maintain(c, new Date())] as const);
      say(`schema versions applied: ${applied[0].join(',') || 'none'}; partitions created: ${applied[1].length}`);
      return 0;
    }
    case 'migrate': {
      const applied = await withClient(cfg, migrate);
      say(applied.length ? `migrated: schema versions ${applied.join(',')}` : 'the schema is up to date');
      return 0;
    }
    case 'maintain': {
      const made = await withClient(cfg, (c) => maintain(c, new Date()));
      say(made.length ? `created partitions ${made.join(', ')}` : 'the partitions are up to date');
      return 0;
    }
    case 'partitioned':
      say((await withClient(cfg, isPartitioned)) ? 'yes' : 'no');
      return 0;
    case 'state': {
      const log = checkLog(cfg.log);
      say(
        !runningPid(cfg)
          ? 'stopped'
          : log.migrationState && !log.ready
            ? 'migration'
            : log.ready
              ? 'ready'
              : 'starting',
      );
      return 0;
    }
    case 'check-log': {
      const r = checkLog(cfg.log);
      for (const e of r.errors) say(e);
      if (!r.started || !r.ready) say(r.started ? 'the server is not ready' : 'the server has not started');
      if (r.errors.length === 0 && r.ready) say('the log since the last start has no errors');
      return r.errors.length === 0 && r.ready ? 0 : 1;
    }
    case 'aggregate':
      return reaggregate(cfg, v);
    case 'diverged':
      return diverged(v);
    case 'measure': {
      if (!cfg.journal) throw new Error(`measure needs a journal file in ${cfg.file}`);
      if (!v.at || !v['old-site'] || !v['new-site'] || !v.url)
        throw new Error('measure needs --at MS --old-site S --new-site S --url URL');
      const m = await measure(cfg.journal, {
        atMs: Number(v.at),
        oldSite: v['old-site'],
        newSite: v['new-site'],
        newUrl: v.url,
      });
      say(JSON.stringify(m));
      return 0;
    }
    default:
      throw new Error(`unknown command '${cmd ?? ''}' (see the header of ${import.meta.filename})`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`reporting-app: ${(e as Error).message || String(e)}\n`);
    process.exitCode = 1;
  },
);
