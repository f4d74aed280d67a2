// The disaster-recovery demo of examples/dr on this machine, for tests: its
// three PostgreSQL servers made by examples/dr/setup.sh on free ports, a copy
// of its configuration and runbooks pointing at them, the demo application's
// control program, and the readings tests compare (roles, timelines, LSNs,
// the application's configuration). Nothing here fakes a part: setup.sh,
// the application and the runbooks are the shipped ones.

import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

export const DR = path.resolve(import.meta.dirname, '..', '..', 'examples', 'dr');
export const PG_BIN = '/usr/lib/postgresql/15/bin';

/** The postgres OS user's uid (or gid with 'g'). */
function pgUid(which: 'u' | 'g' = 'u'): number {
  return Number(execFileSync('id', [`-${which}`, 'postgres'], { encoding: 'utf8' }).trim());
}

/** Why the demo cannot run here, or null. */
export function drSkipReason(): string | null {
  for (const p of ['initdb', 'pg_ctl', 'pg_basebackup', 'pg_rewind', 'pg_waldump'])
    if (!fs.existsSync(path.join(PG_BIN, p))) return `needs ${PG_BIN}/${p} (Debian: apt-get install postgresql-15)`;
  return null;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A base port whose next two ports are free too. */
async function freeBase(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const base = 20_000 + Math.floor(Math.random() * 40_000);
    if ((await portFree(base)) && (await portFree(base + 1)) && (await portFree(base + 2))) return base;
  }
  throw new Error('no three free ports in a row');
}

export interface Site {
  readonly name: string;
  readonly port: number;
  readonly dataDir: string;
  readonly url: string;
}

export class DrDemo {
  readonly root: string;
  readonly sites: readonly [Site, Site, Site];
  /** The copied configuration file (its runbooks/ and app/ beside it). */
  readonly config: string;
  readonly appIni: string;
  readonly appCtl: string;

  constructor(root: string, base: number) {
    this.root = root;
    const site = (n: number): Site => ({
      name: `site${n}`,
      port: base + n - 1,
      dataDir: path.join(root, 'pg', `site${n}`, 'data'),
      url: `postgres://postgres@127.0.0.1:${base + n - 1}/reporting`,
    });
    this.sites = [site(1), site(2), site(3)];
    this.config = path.join(root, 'cfg', 'safehold.yaml');
    this.appIni = path.join(root, 'cfg', 'app', 'app.ini');
    this.appCtl = path.join(root, 'cfg', 'app', 'appctl.sh');
  }

  /** The shipped text with the demo's default ports and directory replaced by this one's. */
  rewrite(text: string): string {
    let t = text.replaceAll('/tmp/safehold-dr', path.join(this.root, 'pg'));
    for (const [i, s] of this.sites.entries()) t = t.replaceAll(String(55431 + i), String(s.port));
    return t;
  }

  /** Copies safehold.yaml, runbooks/ and app.ini; app/appctl.sh links to the shipped one. */
  copyConfig(): void {
    const cfg = path.dirname(this.config);
    fs.mkdirSync(path.join(cfg, 'runbooks'), { recursive: true });
    fs.mkdirSync(path.join(cfg, 'app'), { recursive: true });
    fs.writeFileSync(this.config, this.rewrite(fs.readFileSync(path.join(DR, 'safehold.yaml'), 'utf8')));
    for (const f of fs.readdirSync(path.join(DR, 'runbooks')))
      fs.writeFileSync(
        path.join(cfg, 'runbooks', f),
        this.rewrite(fs.readFileSync(path.join(DR, 'runbooks', f), 'utf8')),
      );
    fs.writeFileSync(this.appIni, this.rewrite(fs.readFileSync(path.join(DR, 'app', 'app.ini'), 'utf8')));
    fs.symlinkSync(path.join(DR, 'app', 'appctl.sh'), this.appCtl);
    fs.symlinkSync(path.join(DR, 'base-backup.sh'), path.join(cfg, 'base-backup.sh'));
  }

  async app(...args: string[]): Promise<string> {
    const r = await run(this.appCtl, [...args, '--config', this.appIni], { timeout: 60_000 });
    return r.stdout;
  }

  async sql<T = Record<string, unknown>>(site: Site, text: string, values?: unknown[]): Promise<T[]> {
    const c = new pg.Client({ connectionString: site.url, connectionTimeoutMillis: 5000 });
    c.on('error', () => {});
    await c.connect();
    try {
      return (await c.query(text, values)).rows as T[];
    } finally {
      await c.end().catch(() => {});
    }
  }

  /** Role, timeline and WAL position of a running server, or null when it does not answer. */
  async reading(site: Site): Promise<{ standby: boolean; timeline: number; lsn: string } | null> {
    try {
      const [r] = await this.sql<{ standby: boolean; timeline: number; lsn: string }>(
        site,
        `SELECT pg_is_in_recovery() AS standby, (SELECT timeline_id FROM pg_control_checkpoint()) AS timeline,
                (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text AS lsn`,
      );
      return r!;
    } catch {
      return null;
    }
  }

  /** The WAL record kinds (`rmgr/RECORD`, e.g. Heap2/PRUNE) a server wrote between two positions. */
  async walKinds(site: Site, from: string, to: string): Promise<string[]> {
    const argv = [path.join(PG_BIN, 'pg_waldump'), '-p', path.join(site.dataDir, 'pg_wal'), '-s', from, '-e', to];
    const asPg = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
    const r = await run(asPg[0]!, asPg.slice(1)).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
    return [...new Set([...r.stdout.matchAll(/^rmgr: (\S+).* desc: (\S+)/gm)].map((m) => `${m[1]}/${m[2]}`))];
  }

  /** A real base backup of `site` throttled to 32 kB/s (minutes long): a backup in progress. Kill it when done. */
  slowBaseBackup(site: Site): ChildProcess {
    const dir = path.join(this.root, `basebackup-${Date.now()}`);
    fs.mkdirSync(dir, { mode: 0o700 });
    const argv = [path.join(PG_BIN, 'pg_basebackup'), '-h', '127.0.0.1', '-p', String(site.port), '-U', 'postgres'];
    argv.push('-D', dir, '-X', 'none', '--max-rate=32k', '--no-password');
    if (process.getuid?.() !== 0) return spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    fs.chownSync(dir, pgUid(), pgUid('g'));
    // Without runuser in between, so that killing the child stops pg_basebackup itself.
    return spawn(argv[0]!, argv.slice(1), { stdio: 'ignore', uid: pgUid(), gid: pgUid('g') });
  }

  /** kill -9 of a server's postmaster; returns when it is gone. */
  async kill9(site: Site): Promise<void> {
    const pid = Number(fs.readFileSync(path.join(site.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    for (;;) {
      try {
        process.kill(pid, 0);
      } catch {
        return;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The application's configuration as `section.key` → value. */
  appSettings(): Record<string, string> {
    const out: Record<string, string> = {};
    let section = '';
    for (const line of fs.readFileSync(this.appIni, 'utf8').split('\n')) {
      const t = line.trim();
      const head = /^\[(.+)\]$/.exec(t);
      if (head) section = head[1]!;
      else if (t && !t.startsWith(';') && t.includes('='))
        out[`${section}.${t.slice(0, t.indexOf('=')).trim()}`] = t.slice(t.indexOf('=') + 1).trim();
    }
    return out;
  }

  async remove(): Promise<void> {
    await this.app('stop').catch(() => {});
    await run(path.join(DR, 'teardown.sh'), [path.join(this.root, 'pg')]).catch(() => {});
    fs.rmSync(this.root, { recursive: true, force: true });
    fs.rmSync(this.template, { recursive: true, force: true });
  }

  /** Where saveTemplate() keeps its copy. */
  private get template(): string {
    return `${this.root}.template`;
  }

  /** pg_ctl on one site's data directory (as postgres when we are root). */
  private async pgCtl(site: Site, ...args: string[]): Promise<void> {
    const argv = [path.join(PG_BIN, 'pg_ctl'), '-D', site.dataDir, ...args];
    const asPg = process.getuid?.() === 0 ? ['runuser', '-u', 'postgres', '--', ...argv] : argv;
    await run(asPg[0]!, asPg.slice(1), { timeout: 60_000 });
  }

  /** Stops every running server of the demo (`fast` shuts down cleanly; `immediate` does not). */
  private async stopServers(mode: 'fast' | 'immediate'): Promise<void> {
    for (const s of this.sites)
      if (fs.existsSync(path.join(s.dataDir, 'postmaster.pid')))
        await this.pgCtl(s, '-m', mode, '-w', '-t', '30', 'stop').catch(() => {});
  }

  /** Starts Site 1 (the primary) and Site 2 (its standby), as setup.sh left them. */
  private async startSites(): Promise<void> {
    for (const s of this.sites.slice(0, 2))
      await this.pgCtl(s, '-l', path.join(path.dirname(s.dataDir), 'server.log'), '-w', '-t', '60', 'start');
  }

  /**
   * Keeps a copy of the whole demo as it is now (servers shut down cleanly for
   * the copy, then started again; configuration; catalog), so that reset()
   * gives a fresh demo in about a second instead of running setup.sh again.
   */
  async saveTemplate(): Promise<void> {
    await this.app('stop').catch(() => {});
    await this.stopServers('fast');
    fs.rmSync(this.template, { recursive: true, force: true });
    await run('cp', ['-a', this.root, this.template]);
    await this.startSites();
  }

  /** Back to the demo saveTemplate() kept: the application and every server stopped, the copy put back, Sites 1 and 2 started. */
  async reset(): Promise<void> {
    if (!fs.existsSync(this.template)) throw new Error('reset() needs saveTemplate() first');
    await this.app('stop').catch(() => {});
    await this.stopServers('immediate');
    fs.rmSync(this.root, { recursive: true, force: true });
    await run('cp', ['-a', this.template, this.root]);
    await this.startSites();
  }
}

/** Creates the three servers with examples/dr/setup.sh (about 5 s) and the configuration copy. */
export async function createDrDemo(o: { sync?: boolean } = {}): Promise<DrDemo> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'shtest-dr-'));
  fs.chmodSync(root, 0o755);
  const demo = new DrDemo(root, await freeBase());
  try {
    const argv = [path.join(root, 'pg'), '--base-port', String(demo.sites[0].port)];
    if (o.sync) argv.push('--sync');
    await run(path.join(DR, 'setup.sh'), argv, { timeout: 120_000 });
    demo.copyConfig();
    return demo;
  } catch (e) {
    await demo.remove().catch(() => {});
    throw e;
  }
}
