// The catalog: a small local database (node:sqlite, WAL) recording every CLI
// run and every snapshot seen. The SQL stays portable so the same schema can
// later live in PostgreSQL; times are milliseconds since the Unix epoch. Its
// directory is private (0700) and its files 0600 (core/private-files.ts).

import { randomBytes } from 'node:crypto';
import { homedir, hostname } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Clock } from '../core/clock.ts';
import { systemClock } from '../core/clock.ts';
import { SafeholdError, fromSystemError } from '../core/errors.ts';
import { migrate } from './migrate.ts';
import { dbError } from './db.ts';
import { whereClause } from './where-clause.ts';
import { processAlive } from '../core/process.ts';
import { ensurePrivateDir, ensurePrivateFile, tightenIfExists } from '../core/private-files.ts';
import { PlanRunStore } from './plan-runs.ts';
import { LeaseStore } from './leases.ts';
import { AlertStore } from './alerts.ts';
import { DrillStore } from './drills.ts';
import { TokenStore } from './auth-tokens.ts';
import { UserStore } from './users.ts';
import { SessionStore } from './sessions.ts';
import { AuditStore } from './audit.ts';
import { ProtectionStore } from './protection.ts';
import { RunbookRunStore } from './runbook-runs.ts';
import type { LeasePolicy } from './leases.ts';

export type RunStatus = 'running' | 'succeeded' | 'partial' | 'failed';

export interface RunStats {
  filesNew?: number;
  filesChanged?: number;
  filesUnchanged?: number;
  filesFailed?: number;
  bytesRead?: number;
  bytesAdded?: number;
}

/** One CLI run. Optional fields are absent when the column is NULL. */
export interface RunRecord {
  id: string;
  command: string;
  args?: unknown;
  repository?: string;
  startedAt: number;
  finishedAt?: number;
  status: RunStatus;
  errorCode?: string;
  error?: string;
  stats: RunStats;
  snapshotId?: string;
  pid?: number;
  hostname?: string;
}

export interface SnapshotRecord {
  id: string;
  repository: string;
  runId?: string;
  time: number;
  hostname: string;
  paths: string[];
  tags: string[];
  tree: string;
  size?: number;
  files?: number;
}

export interface FinishRun {
  status: Exclude<RunStatus, 'running'>;
  errorCode?: string;
  error?: string;
  stats?: RunStats;
  snapshotId?: string;
}

const MIGRATIONS_DIR = join(import.meta.dirname, 'migrations');
const BUSY_TIMEOUT_MS = 5000;
/** The files SQLite keeps next to the catalog in WAL mode. */
const SIDE_FILES = ['-wal', '-shm'];

type Row = Record<string, unknown>;

export class Catalog {
  readonly path: string;
  private readonly db: DatabaseSync;
  private readonly clock: Clock;

  private constructor(path: string, db: DatabaseSync, clock: Clock) {
    this.path = path;
    this.db = db;
    this.clock = clock;
  }

  /**
   * Opens (creating if needed) `<dataDir>/catalog.db` and brings its schema up
   * to date. The directory is made 0700 and the database files 0600 whatever
   * the umask (existing ones lose group and other access): they hold password
   * hashes, tokens and run logs.
   */
  static open(dataDir: string, clock: Clock = systemClock): Catalog {
    const path = join(dataDir, 'catalog.db');
    try {
      ensurePrivateDir(dataDir);
    } catch (e) {
      throw fromSystemError(e, `catalog directory ${dataDir}`);
    }
    try {
      // SQLite gives the -wal and -shm files it creates the database file's mode.
      ensurePrivateFile(path);
      for (const side of SIDE_FILES) tightenIfExists(path + side);
    } catch (e) {
      throw fromSystemError(e, `catalog ${path}`);
    }
    let db: DatabaseSync;
    try {
      db = new DatabaseSync(path);
    } catch (e) {
      throw dbError(e, `cannot open ${path}`);
    }
    try {
      // busy_timeout first, so that switching to WAL waits for other writers.
      db.exec(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.exec('PRAGMA journal_mode = WAL');
      db.exec('PRAGMA foreign_keys = ON');
      migrate(db, MIGRATIONS_DIR);
    } catch (e) {
      db.close();
      throw dbError(e, `cannot prepare ${path}`);
    }
    return new Catalog(path, db, clock);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  /** Records the start of a run (status 'running', this process and host); returns its id. */
  startRun(r: { command: string; args?: unknown; repository?: string }): string {
    const id = randomBytes(8).toString('hex');
    this.sql('start run', () =>
      this.db
        .prepare(
          `INSERT INTO runs (id, command, args, repository, started_at, status, pid, hostname)
         VALUES (?, ?, ?, ?, ?, 'running', ?, ?)`,
        )
        .run(id, r.command, toJson(r.args), r.repository ?? null, this.clock.now(), process.pid, hostname()),
    );
    return id;
  }

  /** Records the end of a run. Throws 'NOT_FOUND' for an unknown id. */
  finishRun(id: string, r: FinishRun): void {
    const s = r.stats ?? {};
    const res = this.sql('finish run', () =>
      this.db
        .prepare(
          `UPDATE runs SET finished_at = ?, status = ?, error_code = ?, error = ?,
           files_new = ?, files_changed = ?, files_unchanged = ?, files_failed = ?,
           bytes_read = ?, bytes_added = ?, snapshot_id = ?
         WHERE id = ?`,
        )
        .run(
          this.clock.now(),
          r.status,
          r.errorCode ?? null,
          r.error ?? null,
          s.filesNew ?? null,
          s.filesChanged ?? null,
          s.filesUnchanged ?? null,
          s.filesFailed ?? null,
          s.bytesRead ?? null,
          s.bytesAdded ?? null,
          r.snapshotId ?? null,
          id,
        ),
    );
    if (Number(res.changes) === 0)
      throw new SafeholdError('NOT_FOUND', `no run ${id} in the catalog`, { details: { id } });
  }

  /** Runs, newest first, optionally filtered by command and status and limited in number. */
  listRuns(opts: { limit?: number; command?: string; status?: string } = {}): RunRecord[] {
    const w = whereClause({ command: opts.command, status: opts.status });
    const params = w.params;
    let sql = `SELECT * FROM runs${w.sql}`;
    sql += ' ORDER BY started_at DESC, id DESC';
    if (opts.limit !== undefined) {
      if (!Number.isSafeInteger(opts.limit) || opts.limit < 0) {
        throw new SafeholdError('USAGE', `run list limit must be a whole number of 0 or more, not ${opts.limit}`);
      }
      sql += ' LIMIT ?';
      params.push(opts.limit);
    }
    const rows = this.sql('list runs', () => this.db.prepare(sql).all(...params)) as Row[];
    return rows.map(toRun);
  }

  /** The run with exactly this id, or undefined. */
  getRun(id: string): RunRecord | undefined {
    const row = this.sql('get run', () => this.db.prepare('SELECT * FROM runs WHERE id = ?').get(id)) as
      | Row
      | undefined;
    return row ? toRun(row) : undefined;
  }

  /** Inserts a snapshot or replaces the one with the same repository and id. */
  recordSnapshot(s: SnapshotRecord): void {
    this.sql('record snapshot', () =>
      this.db
        .prepare(
          `INSERT INTO snapshots (id, repository, run_id, time, hostname, paths, tags, tree, size, files)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (repository, id) DO UPDATE SET
           run_id = excluded.run_id, time = excluded.time, hostname = excluded.hostname,
           paths = excluded.paths, tags = excluded.tags, tree = excluded.tree,
           size = excluded.size, files = excluded.files`,
        )
        .run(
          s.id,
          s.repository,
          s.runId ?? null,
          s.time,
          s.hostname,
          JSON.stringify(s.paths),
          JSON.stringify(s.tags),
          s.tree,
          s.size ?? null,
          s.files ?? null,
        ),
    );
  }

  /** Drops forgotten snapshots of `repository`; returns how many rows went. */
  forgetSnapshots(repository: string, ids: readonly string[]): number {
    return this.sql('forget snapshots', () => {
      const del = this.db.prepare('DELETE FROM snapshots WHERE repository = ? AND id = ?');
      let n = 0;
      for (const id of ids) n += Number(del.run(repository, id).changes);
      return n;
    });
  }

  /** Snapshots, newest first, of one repository or of all. */
  listSnapshots(repository?: string): SnapshotRecord[] {
    const rows = this.sql('list snapshots', () =>
      repository === undefined
        ? this.db.prepare('SELECT * FROM snapshots ORDER BY time DESC, repository, id').all()
        : this.db.prepare('SELECT * FROM snapshots WHERE repository = ? ORDER BY time DESC, id').all(repository),
    ) as Row[];
    return rows.map(toSnapshot);
  }

  /**
   * Marks as failed ('ABANDONED') every run still 'running' on this host whose
   * process no longer exists. Runs of other hosts are left alone. Returns how many.
   */
  markAbandonedRuns(): number {
    const host = hostname();
    const running = this.sql('find running runs', () =>
      this.db.prepare("SELECT id, pid FROM runs WHERE status = 'running' AND hostname = ?").all(host),
    ) as { id: string; pid: number | null }[];
    let count = 0;
    for (const r of running) {
      if (r.pid === null || processAlive(r.pid)) continue;
      const res = this.sql('mark abandoned run', () =>
        this.db
          .prepare(
            `UPDATE runs SET status = 'failed', error_code = 'ABANDONED', error = ?, finished_at = ?
           WHERE id = ? AND status = 'running'`,
          )
          .run(`process ${r.pid} died while running`, this.clock.now(), r.id),
      );
      count += Number(res.changes);
    }
    return count;
  }

  /** Leases on scopes (S5 exclusion), shared by every process on this catalog. */
  leases(policy?: LeasePolicy): LeaseStore {
    return new LeaseStore(this.db, this.clock, policy);
  }

  /** Plan runs, tasks, their log and quiesce records (same database). */
  planRuns(): PlanRunStore {
    return new PlanRunStore(this.db, this.clock);
  }

  /** Restore drill reports (same database). */
  drills(): DrillStore {
    return new DrillStore(this.db, this.clock);
  }

  /** Alerts and their deliveries (same database). */
  alerts(): AlertStore {
    return new AlertStore(this.db, this.clock);
  }

  /** API tokens (rows with hashes only; same database). */
  tokens(): TokenStore {
    return new TokenStore(this.db, this.clock);
  }

  /** Console users (same database). */
  users(): UserStore {
    return new UserStore(this.db, this.clock);
  }

  /** Console sessions (same database). */
  sessions(): SessionStore {
    return new SessionStore(this.db, this.clock);
  }

  /** The audit log of state-changing API requests (same database). */
  audit(): AuditStore {
    return new AuditStore(this.db, this.clock);
  }

  /** The protection report's state: units in violation, the last report (same database). */
  protection(): ProtectionStore {
    return new ProtectionStore(this.db, this.clock);
  }

  /** Runbook runs, their steps and approvals (same database). */
  runbookRuns(): RunbookRunStore {
    return new RunbookRunStore(this.db, this.clock);
  }

  /** Runs one database call, turning SQLite errors into SafeholdError 'IO'. */
  private sql<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      throw dbError(e, what);
    }
  }
}

/** SAFEHOLD_DATA_DIR, else $XDG_DATA_HOME/safehold, else ~/.local/share/safehold. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SAFEHOLD_DATA_DIR) return env.SAFEHOLD_DATA_DIR;
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  if (env.XDG_DATA_HOME && isAbsolute(env.XDG_DATA_HOME)) return join(env.XDG_DATA_HOME, 'safehold');
  return join(env.HOME || homedir(), '.local', 'share', 'safehold');
}

function toJson(v: unknown): string | null {
  return v === undefined ? null : JSON.stringify(v);
}

function toRun(row: Row): RunRecord {
  const r: RunRecord = {
    id: row.id as string,
    command: row.command as string,
    startedAt: row.started_at as number,
    status: row.status as RunStatus,
    stats: {},
  };
  if (row.args !== null) r.args = JSON.parse(row.args as string);
  if (row.repository !== null) r.repository = row.repository as string;
  if (row.finished_at !== null) r.finishedAt = row.finished_at as number;
  if (row.error_code !== null) r.errorCode = row.error_code as string;
  if (row.error !== null) r.error = row.error as string;
  if (row.snapshot_id !== null) r.snapshotId = row.snapshot_id as string;
  if (row.pid !== null) r.pid = row.pid as number;
  if (row.hostname !== null) r.hostname = row.hostname as string;
  const stats: [keyof RunStats, string][] = [
    ['filesNew', 'files_new'],
    ['filesChanged', 'files_changed'],
    ['filesUnchanged', 'files_unchanged'],
    ['filesFailed', 'files_failed'],
    ['bytesRead', 'bytes_read'],
    ['bytesAdded', 'bytes_added'],
  ];
  for (const [key, col] of stats) if (row[col] !== null) r.stats[key] = row[col] as number;
  return r;
}

function toSnapshot(row: Row): SnapshotRecord {
  const s: SnapshotRecord = {
    id: row.id as string,
    repository: row.repository as string,
    time: row.time as number,
    hostname: row.hostname as string,
    paths: JSON.parse(row.paths as string) as string[],
    tags: JSON.parse(row.tags as string) as string[],
    tree: row.tree as string,
  };
  if (row.run_id !== null) s.runId = row.run_id as string;
  if (row.size !== null) s.size = row.size as number;
  if (row.files !== null) s.files = row.files as number;
  return s;
}
