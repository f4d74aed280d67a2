// Point-in-time recovery on real PostgreSQL clusters (initdb/pg_ctl): the
// primary archives its WAL into a repository through `safehold pg
// archive-push` (run by the server as the postgres user), base backups come
// from `safehold pg backup`, and `safehold pg restore` brings the cluster
// back to recorded times, positions, transactions and restore points —
// before, inside and after a base backup, and across a promotion to a new
// timeline. Then: a missing segment, duplicate and foreign WAL, kill -9 of
// archive-push, and retention. One cluster pair for the whole file.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import pg from 'pg';
import { createPgClusters } from './helpers/pg-cluster.ts';
import type { PgClusters, PgNode } from './helpers/pg-cluster.ts';
import { copyProgram } from './helpers/program-copy.ts';
import type { ProgramCopy } from './helpers/program-copy.ts';
import { baseEnv, runCli } from './helpers/cli.ts';
import type { CliResult } from './helpers/cli.ts';
import { stopServer } from '../src/drivers/pg-ha/data-dir.ts';
import { walFileOfLsn } from '../src/drivers/pg-wal/wal-names.ts';

const HAVE_PG = fs.existsSync('/usr/lib/postgresql') && fs.readdirSync('/usr/lib/postgresql').length > 0;

interface Mark {
  batch: number;
  rows: number;
  time: string;
  lsn: string;
  xid: string;
}

let root = '';
let repo = '';
let pwFile = '';
let prog: ProgramCopy;
let clusters: PgClusters;
let primary: PgNode;
let sysid = '';
const marks = new Map<number, Mark>();
let batches = 0;
let rowsSoFar = 0;
const baseIds: { a: string; b: string; bStopTime: string } = { a: '', b: '', bStopTime: '' };

function cli(args: string[], repoDir = repo): Promise<CliResult> {
  return runCli([...args, '--repo', repoDir, '--password-file', pwFile], {
    program: prog.program,
    env: baseEnv(),
    timeoutMs: 180_000,
  });
}

function ok(r: CliResult, what: string): CliResult {
  assert.equal(r.code, 0, `${what} failed (${r.code}): ${r.stderr}${r.stdout}`);
  return r;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function q<T = Record<string, unknown>>(port: number, text: string): Promise<T[]> {
  const c = new pg.Client({
    connectionString: `postgres://postgres@127.0.0.1:${port}/postgres`,
    connectionTimeoutMillis: 5000,
  });
  c.on('error', () => {});
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end().catch(() => {});
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Inserts one batch of 10 rows in its own transaction and records the moment right after its commit. */
async function batch(node: PgNode): Promise<Mark> {
  const n = ++batches;
  const [x] = await node.sql<{ xid: string }>(
    `WITH ins AS (INSERT INTO t (batch) SELECT ${n} FROM generate_series(1, 10) RETURNING 1)
     SELECT txid_current()::text AS xid FROM (SELECT count(*) FROM ins) s`,
  );
  rowsSoFar += 10;
  await sleep(30);
  const [p] = await node.sql<{ time: string; lsn: string }>(
    'SELECT to_char(clock_timestamp() AT TIME ZONE \'UTC\', \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\') AS time, pg_current_wal_lsn()::text AS lsn',
  );
  await sleep(30);
  const m = { batch: n, rows: rowsSoFar, time: p!.time, lsn: p!.lsn, xid: x!.xid };
  marks.set(n, m);
  return m;
}

/** Switches to a new segment and waits until the finished one is in the repository. */
async function archiveNow(node: PgNode): Promise<void> {
  const [r] = await node.sql<{ f: string }>('SELECT pg_walfile_name(pg_switch_wal()) AS f');
  const stored = path.join(repo, 'wal', `${sysid}-${r!.f}`);
  const end = Date.now() + 60_000;
  while (!fs.existsSync(stored)) {
    if (Date.now() > end)
      throw new Error(`${r!.f} not archived: ${JSON.stringify(await node.sql('SELECT * FROM pg_stat_archiver'))}`);
    await sleep(50);
  }
}

/** Restores to a target with --start on a free port; returns the rows there and the command's JSON. */
async function restoreAndCount(
  args: string[],
  repoDir = repo,
): Promise<{ rows: number; batches: number; out: any; dir: string }> {
  const dir = path.join(root, `restore-${Math.random().toString(36).slice(2, 8)}`, 'data');
  const port = await freePort();
  const r = await cli(
    ['pg', 'restore', '--target', dir, '--port', String(port), '--start', '--json', ...args],
    repoDir,
  );
  if (r.code !== 0) {
    await stopServer(dir, 'immediate').catch(() => {});
    throw new Error(`restore ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  }
  try {
    const [c] = await q<{ n: number; b: number | null }>(port, 'SELECT count(*)::int AS n, max(batch) AS b FROM t');
    return { rows: c!.n, batches: c!.b ?? 0, out: r.json(), dir };
  } finally {
    await stopServer(dir, 'immediate').catch(() => {});
    await fsp.rm(path.dirname(dir), { recursive: true, force: true });
  }
}

describe('point-in-time recovery on real clusters', {
  skip: HAVE_PG ? false : 'PostgreSQL server programs are not installed',
}, () => {
  before(async () => {
    root = await fsp.mkdtemp(path.join(os.tmpdir(), 'shtest-pitr-'));
    await fsp.chmod(root, 0o755);
    prog = copyProgram();
    repo = path.join(root, 'repo');
    pwFile = path.join(root, 'password');
    await fsp.writeFile(pwFile, 'pitr test password\n', { mode: 0o600 });
    ok(await cli(['init']), 'init');
    if (process.getuid?.() === 0) execFileSync('chown', ['-R', 'postgres:postgres', repo, pwFile]);
    const push = `${prog.program} pg archive-push %p --repo ${repo} --password-file ${pwFile} --quiet`;
    clusters = await createPgClusters({
      standbys: 1,
      extraSettings: ['archive_mode = on', `archive_command = '${push}'`],
    });
    primary = clusters.nodes[0]!;
    const [s] = await primary.sql<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()');
    sysid = s!.id;
    await primary.sql(
      'CREATE TABLE t (id bigserial PRIMARY KEY, batch int NOT NULL, at timestamptz DEFAULT clock_timestamp())',
    );
  });

  after(async () => {
    if (process.env.PITR_KEEP) return;
    await clusters?.remove();
    prog?.remove();
    await fsp.rm(root, { recursive: true, force: true });
  });

  test('base backups record their cluster and WAL range; WAL is archived through archive-push', async () => {
    await batch(primary);
    const a = ok(await cli(['pg', 'backup', '--url', primary.url, '--json']), 'backup A').json();
    baseIds.a = a.id;
    assert.equal(a.snapshot.meta.pitr.systemId, sysid);
    assert.equal(a.snapshot.meta.pitr.timeline, 1);
    assert.match(a.snapshot.meta.pitr.startLsn, /^[0-9A-F]+\/[0-9A-F]+$/);
    await batch(primary); // 2
    await batch(primary); // 3
    await archiveNow(primary);
    // B, with batch 4 committed while it runs.
    const running = cli(['pg', 'backup', '--url', primary.url, '--json']);
    await sleep(150);
    await batch(primary); // 4
    const b = ok(await running, 'backup B').json();
    baseIds.b = b.id;
    baseIds.bStopTime = b.snapshot.meta.pitr.stopTime;
    await batch(primary); // 5
    await primary.sql("SELECT pg_create_restore_point('after-5')");
    await batch(primary); // 6
    await archiveNow(primary);
    const [arch] = await primary.sql<{ n: number; failed: number }>(
      'SELECT archived_count::int AS n, failed_count::int AS failed FROM pg_stat_archiver',
    );
    assert.ok(arch!.n >= 3, `archived ${arch!.n}`);
    assert.equal(arch!.failed, 0);
  });

  test('restores to a time between two base backups from the older one, with exactly the rows committed by then', async () => {
    const m = marks.get(2)!;
    const r = await restoreAndCount(['--to-time', m.time]);
    assert.equal(r.rows, m.rows);
    assert.equal(r.out.baseBackup.snapshot, baseIds.a);
    assert.match(r.out.reached.how, /recovery stopping/);
  });

  test('a time inside a base backup is reached from the one before it', async () => {
    const m = marks.get(4)!;
    const r = await restoreAndCount(['--to-time', m.time]);
    assert.equal(r.rows, m.rows);
    if (m.time < baseIds.bStopTime) assert.equal(r.out.baseBackup.snapshot, baseIds.a);
  });

  test('a time after the newer base backup starts from it', async () => {
    const m = marks.get(5)!;
    const r = await restoreAndCount(['--to-time', m.time]);
    assert.equal(r.rows, m.rows);
    assert.equal(r.out.baseBackup.snapshot, baseIds.b);
  });

  test('restores to a WAL position, a transaction id and a restore point', async () => {
    const m3 = marks.get(3)!;
    assert.equal((await restoreAndCount(['--to-lsn', m3.lsn])).rows, m3.rows);
    const m5 = marks.get(5)!;
    assert.equal((await restoreAndCount(['--to-xid', m5.xid, '--base', baseIds.b.slice(0, 8)])).rows, m5.rows);
    assert.equal((await restoreAndCount(['--to-name', 'after-5'])).rows, m5.rows);
  });

  test('follows a promotion to a new timeline: a time after it and the latest', async () => {
    const standby = clusters.nodes[1]!;
    const end = Date.now() + 30_000;
    while ((await standby.lsn()) < (await primary.lsn()) && Date.now() < end) await sleep(50);
    await primary.stop('immediate');
    await standby.sql('SELECT pg_promote(true)');
    const m7 = await batch(standby); // 7, on timeline 2
    await batch(standby); // 8
    await archiveNow(standby);
    const atM7 = await restoreAndCount(['--to-time', m7.time]);
    assert.equal(atM7.rows, m7.rows);
    const latest = await restoreAndCount(['--latest']);
    assert.equal(latest.rows, rowsSoFar);
    assert.equal(latest.batches, 8);
  });

  test('check: no gap, and the recoverable window runs from the oldest base backup to the last commit', async () => {
    const r = ok(await cli(['pg', 'check', '--json']), 'check').json();
    const c = r.clusters.find((x: any) => x.cluster === sysid);
    assert.ok(c.ok, JSON.stringify(c.problems));
    assert.deepEqual(c.gaps, []);
    assert.equal(c.baseBackups.length, 2);
    assert.ok(c.window.earliest && c.window.latest, JSON.stringify(c.window));
    assert.ok(c.window.latest >= marks.get(7)!.time.slice(0, 19), `${c.window.latest} vs ${marks.get(7)!.time}`);
  });

  test('a missing segment: check reports the gap and a restore past it fails instead of stopping early', async () => {
    const gapRepo = path.join(root, 'repo-gap');
    execFileSync('cp', ['-a', repo, gapRepo]);
    const missing = walFileOfLsn(1, marks.get(5)!.lsn);
    await fsp.rm(path.join(gapRepo, 'wal', `${sysid}-${missing}`));
    const c = await cli(['pg', 'check', '--json'], gapRepo);
    assert.equal(c.code, 1, c.stderr);
    const report = c.json().clusters[0];
    assert.ok(
      report.gaps.some((g: any) => g.from <= missing && missing <= g.to),
      JSON.stringify(report.gaps),
    );
    const late = await cli(
      ['pg', 'restore', '--target', path.join(root, 'gap-late', 'data'), '--to-time', marks.get(7)!.time],
      gapRepo,
    );
    assert.equal(late.code, 1, late.stdout);
    assert.match(late.stderr, /ends before|missing|gap/);
    const latest = await cli(['pg', 'restore', '--target', path.join(root, 'gap-latest', 'data'), '--latest'], gapRepo);
    assert.equal(latest.code, 1, latest.stdout);
    assert.match(latest.stderr, /gap/);
    assert.equal(
      fs.existsSync(path.join(root, 'gap-latest', 'data')),
      false,
      'nothing is restored when the archive has a gap',
    );
  });

  test('the same WAL pushed again is fine; other content under its name, or WAL of another cluster, is refused', async () => {
    await fsp.mkdir(path.join(root, 'got'));
    const seg = path.join(root, 'got', '000000010000000000000003');
    ok(await cli(['pg', 'archive-get', '000000010000000000000003', seg, '--cluster', sysid]), 'archive-get');
    const original = await fsp.readFile(seg);
    const again = ok(await cli(['pg', 'archive-push', seg, '--cluster', sysid, '--json']), 'push identical').json();
    assert.equal(again.outcome, 'identical');
    const changed = Buffer.from(original);
    changed[changed.length - 100] ^= 0xff;
    await fsp.writeFile(seg, changed);
    const refused = await cli(['pg', 'archive-push', seg, '--cluster', sysid]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /different content/);
    const other = await createPgClusters({ standbys: 0 });
    try {
      const foreign = path.join(other.nodes[0]!.dataDir, 'pg_wal', '000000010000000000000001');
      const r = await cli(['pg', 'archive-push', foreign, '--pgdata', clusters.nodes[1]!.dataDir]);
      assert.equal(r.code, 1, r.stdout);
      assert.match(r.stderr, /another cluster/);
    } finally {
      await other.remove();
    }
    await fsp.rm(seg);
    ok(await cli(['pg', 'archive-get', '000000010000000000000003', seg, '--cluster', sysid]), 'archive-get after');
    assert.ok((await fsp.readFile(seg)).equals(original), 'the archived segment is unchanged');
  });

  test('kill -9 of archive-push at any moment never leaves a file archive-get returns damaged', async () => {
    const data = await fsp.readFile(path.join(root, 'got', '000000010000000000000003'));
    // Into a copy: the made-up segment names would read as a gap in the real archive.
    const killRepo = path.join(root, 'repo-kill');
    execFileSync('cp', ['-a', repo, killRepo]);
    for (let i = 0; i < 8; i++) {
      const name = `0000000100000000000000A${i}`;
      const file = path.join(root, 'got', name);
      await fsp.writeFile(file, data);
      const child = spawn(
        prog.program,
        ['pg', 'archive-push', file, '--cluster', sysid, '--repo', killRepo, '--password-file', pwFile],
        {
          env: baseEnv(),
          stdio: 'ignore',
          detached: true,
        },
      );
      await sleep(Math.floor(Math.random() * 600));
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
      await new Promise((r) =>
        child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r),
      );
      const out = path.join(root, `${name}.got`);
      const g = await cli(['pg', 'archive-get', name, out, '--cluster', sysid], killRepo);
      if (g.code === 0) assert.ok((await fsp.readFile(out)).equals(data), `${name} came back damaged`);
      else assert.match(g.stderr, /not in the archive/);
      ok(await cli(['pg', 'archive-push', file, '--cluster', sysid], killRepo), `push ${name} after the kill`);
    }
  });

  test('retention: after forget and prune, the kept base backup still restores to its consistency point and to the latest', async () => {
    const before = (await fsp.readdir(path.join(repo, 'wal'))).length;
    ok(await cli(['forget', baseIds.a, '--prune']), 'forget A --prune');
    const left = await fsp.readdir(path.join(repo, 'wal'));
    assert.ok(left.length < before, `${left.length} of ${before} WAL files left`);
    assert.ok(
      left.some((f) => f.endsWith('.history')),
      'history files stay',
    );
    const r = ok(await cli(['pg', 'check', '--json']), 'check after prune').json();
    assert.ok(r.clusters[0].ok, JSON.stringify(r.clusters[0].problems));
    const snap = ok(await cli(['snapshots', '--json']), 'snapshots').json();
    const b = (Array.isArray(snap) ? snap : snap.snapshots).find((s: any) => s.id === baseIds.b);
    const atStop = await restoreAndCount(['--to-lsn', b.meta.pitr.stopLsn]);
    assert.ok(atStop.rows >= marks.get(3)!.rows && atStop.rows <= marks.get(4)!.rows, `${atStop.rows} rows`);
    assert.equal((await restoreAndCount(['--latest'])).rows, rowsSoFar);
  });
});
