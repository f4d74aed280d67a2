// The demo reporting application's server loop: connects to the database its
// INI file names, writes one ETL row per tick while `run-scheduler` is true,
// aggregates the last minutes every few seconds while `run-aggregates` is
// true, and re-reads the INI file when it changes. It does no ETL while the
// database's schema is older than the code (the migration state) or while
// its Info Mart connection names another site than its own.

import * as fs from 'node:fs';
import type pg from 'pg';
import { AppLog, MIGRATION_MARK, READY_MARK, START_MARK } from './app-log.ts';
import { type AppConfig, readAppConfig } from './ini.ts';
import { SCHEMA_VERSION, aggregate, connect, insertRow, schemaVersion } from './jobs.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The source names of the enabled `source-NAME = enabled` connections. */
function sources(cfg: AppConfig): string[] {
  return Object.entries(cfg.connections)
    .filter(([k, v]) => k.startsWith('source-') && /^(enabled|true|on|yes)$/i.test(v))
    .map(([k]) => k.slice('source-'.length));
}

/** Why the configuration is wrong for ETL, or null. */
function configProblem(cfg: AppConfig): string | null {
  const db = cfg.connections['infomart-db'];
  if (db === undefined) return 'configuration: no infomart-db connection in [connections]';
  if (db !== cfg.site) return `configuration: the infomart-db connection is at ${db}, this server runs at ${cfg.site}`;
  return null;
}

const describe = (cfg: AppConfig) =>
  `site ${cfg.site}, database ${cfg.database} at ${cfg.host}:${cfg.port}, run-scheduler=${cfg.runScheduler}, ` +
  `run-aggregates=${cfg.runAggregates}, sources ${sources(cfg).join(',') || 'none'}`;

export class AppLoop {
  #file: string;
  #cfg: AppConfig;
  #mtime = 0;
  #log: AppLog;
  #client: pg.Client | null = null;
  #ready = false;
  #migrationLogged = false;
  #stop = false;
  #n = 0;
  #lastAggregate = 0;
  readonly #writer = `${process.pid}-${Date.now().toString(36)}`;

  constructor(file: string) {
    this.#file = file;
    this.#cfg = readAppConfig(file);
    this.#mtime = fs.statSync(file).mtimeMs;
    this.#log = new AppLog(this.#cfg.log);
  }

  stop(): void {
    this.#stop = true;
  }

  async run(): Promise<void> {
    this.#log.write('INFO', `${START_MARK} ${process.pid}: ${describe(this.#cfg)}`);
    while (!this.#stop) {
      this.#reread();
      const wait = await this.#tick().catch((e: unknown) => this.#failed(e));
      await sleep(wait);
    }
    await this.#disconnect();
    this.#log.write('INFO', `stopped pid ${process.pid}`);
  }

  /** Re-reads the INI file when it changed; reconnects when the database moved. */
  #reread(): void {
    let mtime: number;
    try {
      mtime = fs.statSync(this.#file).mtimeMs;
    } catch {
      return;
    }
    if (mtime === this.#mtime) return;
    this.#mtime = mtime;
    let next: AppConfig;
    try {
      next = readAppConfig(this.#file);
    } catch (e) {
      this.#log.error(`configuration: ${(e as Error).message}`);
      return;
    }
    const moved = next.host !== this.#cfg.host || next.port !== this.#cfg.port || next.database !== this.#cfg.database;
    this.#cfg = next;
    this.#log.write('INFO', `configuration re-read: ${describe(next)}`);
    if (moved) void this.#disconnect();
  }

  /** One round of work; returns how long to wait before the next. */
  async #tick(): Promise<number> {
    const cfg = this.#cfg;
    const c = await this.#connected();
    if (!this.#ready && (await schemaVersion(c)) < SCHEMA_VERSION) {
      if (!this.#migrationLogged) {
        this.#log.write(
          'WARN',
          `${MIGRATION_MARK}: the database schema is older than version ${SCHEMA_VERSION} (run the migration job)`,
        );
        this.#migrationLogged = true;
      }
      return 1000;
    }
    this.#migrationLogged = false;
    const problem = configProblem(cfg);
    if (problem) {
      this.#log.error(problem);
      return 1000;
    }
    if (!this.#ready) {
      this.#ready = true;
      this.#log.write('INFO', `${READY_MARK} ${describe(cfg)}`);
    }
    if (cfg.runAggregates && Date.now() - this.#lastAggregate >= cfg.aggregateEveryMs) {
      this.#lastAggregate = Date.now();
      await aggregate(c, new Date(Date.now() - 120_000), new Date());
    }
    if (cfg.runScheduler) await this.#etl(c, cfg);
    return cfg.etlIntervalMs;
  }

  async #etl(c: pg.Client, cfg: AppConfig): Promise<void> {
    const names = sources(cfg);
    const source = names.length ? names[this.#n % names.length]! : 'none';
    const payload = `${source}:${this.#writer}:${++this.#n}`;
    const row = await insertRow(c, payload);
    if (cfg.journal) {
      fs.appendFileSync(
        cfg.journal,
        `${payload} ${row.createdAt.getTime()} ${Date.now()} ${cfg.site} ${cfg.host}:${cfg.port}\n`,
      );
    }
  }

  async #connected(): Promise<pg.Client> {
    if (this.#client) return this.#client;
    const c = connect(this.#cfg);
    c.on('error', () => {
      if (this.#client === c) this.#client = null;
    });
    await c.connect();
    this.#client = c;
    this.#log.write('INFO', `connected to ${this.#cfg.host}:${this.#cfg.port}/${this.#cfg.database}`);
    return c;
  }

  #failed(e: unknown): number {
    this.#log.error(`${(e as Error).message || String(e)} (database ${this.#cfg.host}:${this.#cfg.port})`);
    void this.#disconnect();
    return 200;
  }

  async #disconnect(): Promise<void> {
    const c = this.#client;
    this.#client = null;
    this.#ready = false;
    if (c) await c.end().catch(() => {});
  }
}
