// The PostgreSQL HA primitives on real local clusters (one primary n0 and
// two standbys n1, n2, created once for the file): status of a primary and a
// standby, waiting for sync and its timeout, kill -9 of the primary then
// promotion of n1 (timeline 2, writes succeed), fencing an unreachable and a
// reachable old primary, a split brain (rows written on the old primary after
// the promotion) rewound away with the discarded WAL range reported, the old
// primary following the new one, and a rebuild when pg_rewind is impossible.
// Also: fencing right after kill -9 while the postmaster is still a zombie,
// rebuilding an empty data directory ("no existing copy"), a rebuild when the
// new primary lacks the WAL from the last common checkpoint, and follow
// failing fast when its primary has removed the WAL it asks for.
// The cases run in order on the same servers.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { createPgClusters } from '../../../test/helpers/pg-cluster.ts';
import type { PgClusters, PgNode } from '../../../test/helpers/pg-cluster.ts';
import { isSafeholdError } from '../../core/errors.ts';
import { missingCopy, stopServer } from './data-dir.ts';
import { lsnAtLeast, lsnBytes } from './lsn.ts';
import { pgBinDir } from './pg-bin.ts';
import { fence } from './pg-fence.ts';
import { follow } from './pg-follow.ts';
import { promote } from './pg-promote.ts';
import { rewindOrRebuild } from './pg-rewind.ts';
import { status } from './pg-status.ts';
import { waitSync } from './pg-wait-sync.ts';

const count = async (n: PgNode, where = 'true') =>
  Number((await n.sql<{ c: number }>(`SELECT count(*)::int AS c FROM t WHERE ${where}`))[0]!.c);

describe('PostgreSQL HA primitives on real clusters', () => {
  let c: PgClusters;
  let n0: PgNode;
  let n1: PgNode;
  let n2: PgNode;

  before(async () => {
    c = await createPgClusters({ standbys: 2 });
    [n0, n1, n2] = c.nodes as [PgNode, PgNode, PgNode];
    await n0.sql('CREATE TABLE t (id serial PRIMARY KEY, site text, at timestamptz DEFAULT now())');
    await n0.sql("INSERT INTO t (site) SELECT 'n0' FROM generate_series(1, 100)");
  });
  after(async () => c?.remove());

  it('reads the status of the primary and of a standby (timeline, LSNs, lag, last replay time)', async () => {
    await waitSync({ primary: n0.url, standby: n1.url, timeoutMs: 10_000 });
    const p = await status(n0.url);
    assert.equal(p.reachable, true);
    assert.equal(p.role, 'primary');
    assert.equal(p.timeline, 1);
    assert.match(p.lsn!, /^[0-9A-F]+\/[0-9A-F]+$/);
    assert.equal(p.standbys, 2);
    const s = await status(n1.url);
    assert.equal(s.role, 'standby');
    assert.equal(s.timeline, 1);
    assert.equal(s.paused, false);
    assert.equal(s.lagBytes, 0);
    assert.ok(s.lastReplayAt && Math.abs(Date.parse(s.lastReplayAt) - Date.now()) < 60_000, s.lastReplayAt!);
    assert.ok(lsnAtLeast(s.replayLsn!, s.receiveLsn!) || s.lagBytes === 0);
    // Replay paused: the lag grows in bytes and seconds, and `paused` says so.
    await n1.sql('SELECT pg_wal_replay_pause()');
    await new Promise((r) => setTimeout(r, 1100));
    await n0.sql("INSERT INTO t (site) SELECT 'n0' FROM generate_series(1, 1000)");
    await new Promise((r) => setTimeout(r, 300));
    const behind = await status(n1.url);
    assert.equal(behind.paused, true);
    assert.ok(behind.lagBytes! > 0, `lag ${behind.lagBytes}`);
    assert.ok(behind.lagSeconds! >= 1, `lag ${behind.lagSeconds} s`);
    await n1.sql('SELECT pg_wal_replay_resume()');
  });

  it('an unreachable server is a status, not an error; errors never show the password', async () => {
    const url = 'postgres://postgres:hunter2@127.0.0.1:1/postgres';
    const s = await status(url);
    assert.deepEqual([s.reachable, s.role, s.lsn], [false, null, null]);
    await assert.rejects(promote(url), (e: Error) => {
      assert.match(e.message, /cannot connect/);
      assert.ok(!e.message.includes('hunter2'));
      return true;
    });
    await assert.rejects(waitSync({ primary: url, standby: n1.url, timeoutMs: 100 }), (e: Error) => {
      assert.match(e.message, /127\.0\.0\.1:1/);
      assert.ok(!e.message.includes('hunter2'));
      return true;
    });
  });

  it('waitSync returns once in sync, and times out with a clear error when the standby is stopped', async () => {
    await n0.sql("INSERT INTO t (site) VALUES ('n0')");
    const r = await waitSync({ primary: n0.url, standby: n2.url, timeoutMs: 10_000 });
    assert.ok(lsnAtLeast(r.replayLsn, r.primaryLsn));
    await n2.stop();
    await n0.sql("INSERT INTO t (site) VALUES ('n0')");
    const t0 = Date.now();
    await assert.rejects(waitSync({ primary: n0.url, standby: n2.url, signal: AbortSignal.timeout(800) }), (e) => {
      assert.ok(isSafeholdError(e, 'IO'));
      assert.match(e.message, /did not catch up within \d+ ms: it cannot be reached/);
      return true;
    });
    assert.ok(Date.now() - t0 < 5000);
    await n2.start();
    await waitSync({ primary: n0.url, standby: n2.url, timeoutMs: 20_000 });
  });

  it('kill -9 of the primary, then promote the standby: timeline 2, writes succeed', async () => {
    await waitSync({ primary: n0.url, standby: n1.url, timeoutMs: 10_000 });
    await n0.kill9();
    const dead = await status(n0.url);
    assert.equal(dead.reachable, false);
    const t0 = performance.now();
    const p = await promote(n1.url);
    const ms = performance.now() - t0;
    assert.equal(p.alreadyPrimary, false);
    assert.equal(p.timeline, 2);
    assert.ok(ms < 5000, `promotion took ${ms} ms`);
    await n1.sql("INSERT INTO t (site) VALUES ('n1')");
    assert.equal((await status(n1.url)).role, 'primary');
    assert.equal((await status(n1.url)).timeline, 2);
    // Promoting again is a success that says so.
    assert.equal((await promote(n1.url)).alreadyPrimary, true);
  });

  it('fencing an unreachable old primary reports it unreachable, not fenced', async () => {
    const f = await fence(n0.url);
    assert.deepEqual([f.fenced, f.how, f.lsn], [false, 'unreachable', null]);
  });

  it('split brain: the old primary comes back and takes writes; read-only fence makes writes fail', async () => {
    await n0.start();
    assert.equal((await status(n0.url)).role, 'primary'); // two primaries now
    await n0.sql("INSERT INTO t (site) SELECT 'split' FROM generate_series(1, 500)");
    assert.equal(await count(n0, "site = 'split'"), 500);
    // n2 still follows n0: it gets the split-brain rows too (used by the rebuild case below).
    await waitSync({ primary: n0.url, standby: n2.url, timeoutMs: 20_000 });
    const f = await fence(n0.url, { mode: 'read-only' });
    assert.deepEqual([f.fenced, f.how], [true, 'read-only']);
    await assert.rejects(n0.sql("INSERT INTO t (site) VALUES ('after-fence')"), /read-only transaction/);
    // With its data directory here, the default fence stops it.
    const s = await fence(n0.url, { dataDir: n0.dataDir });
    assert.deepEqual([s.fenced, s.how], [true, 'stopped']);
    assert.equal(await n0.running(), false);
  });

  it('fencing right after kill -9 (the postmaster not yet reaped, a zombie) is quick: not running, nothing to stop', async (t) => {
    await n0.start();
    const pid = Number((await fsp.readFile(path.join(n0.dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    // PID 1 of a container may take a second to reap it: kill(pid, 0) still succeeds meanwhile.
    while (/^\S+ \(.*\) [^Z]/.test(await fsp.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => 'x (x) Z')))
      await new Promise((r) => setTimeout(r, 5));
    const zombie = (await fsp.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '')) !== '';
    const t0 = performance.now();
    const f = await fence(n0.url, { dataDir: n0.dataDir });
    const ms = performance.now() - t0;
    t.diagnostic(`fence after kill -9 took ${ms.toFixed(0)} ms (postmaster still a zombie: ${zombie})`);
    assert.deepEqual([f.fenced, f.how, f.lsn], [false, 'unreachable', null]);
    assert.match(f.detail, /not running/);
    assert.ok(ms < 500, `fence took ${ms} ms`);
    assert.equal(await n0.running(), false);
  });

  it('rewindOrRebuild rewinds the old primary, reports the discarded range; follow makes it a standby of n1', async () => {
    await n1.sql("INSERT INTO t (site) VALUES ('n1-after')");
    const r = await rewindOrRebuild({ dataDir: n0.dataDir, primary: n1.url, port: n0.port });
    assert.equal(r.method, 'rewind', r.reason);
    assert.match(r.reason, /timeline 2 branched off timeline 1 at/);
    assert.ok(r.discardedFromLsn && r.discardedToLsn, JSON.stringify(r));
    assert.ok(r.discardedBytes > 0 && r.discardedBytes === lsnBytes(r.discardedFromLsn, r.discardedToLsn));
    const f = await follow({ url: n0.url, dataDir: n0.dataDir, primary: n1.url, port: n0.port, slot: 'n0_slot' });
    assert.equal(f.timeline, 2);
    assert.equal(f.slotCreated, true);
    await waitSync({ primary: n1.url, standby: n0.url, timeoutMs: 20_000 });
    assert.equal((await status(n0.url)).role, 'standby');
    assert.equal(await count(n0, "site = 'split'"), 0, 'the split-brain rows are gone');
    assert.equal(await count(n0, "site = 'n1-after'"), 1);
    assert.equal(await count(n0), await count(n1));
    const [slot] = await n1.sql<{ active: boolean }>(
      "SELECT active FROM pg_replication_slots WHERE slot_name = 'n0_slot'",
    );
    assert.equal(slot?.active, true);
  });

  it('rebuilds when pg_rewind is impossible (no checksums, no wal_log_hints) and says why', async () => {
    // n2 followed n0 and so received the split-brain rows: it diverged from n1 too.
    assert.equal(await count(n2, "site = 'split'"), 500);
    await n2.stop();
    execFileSync(
      'runuser',
      ['-u', 'postgres', '--', path.join(pgBinDir('15'), 'pg_checksums'), '--disable', '-D', n2.dataDir],
      { stdio: 'pipe' },
    );
    const r = await rewindOrRebuild({ dataDir: n2.dataDir, primary: n1.url, port: n2.port });
    assert.equal(r.method, 'rebuild');
    assert.match(r.reason, /neither data checksums nor wal_log_hints/);
    assert.ok(r.discardedBytes > 0, JSON.stringify(r));
    assert.ok(r.movedTo && (await fsp.stat(path.join(r.movedTo, 'PG_VERSION'))).isFile());
    await follow({ url: n2.url, dataDir: n2.dataDir, primary: n1.url, port: n2.port });
    await waitSync({ primary: n1.url, standby: n2.url, timeoutMs: 20_000 });
    assert.equal(await count(n2, "site = 'split'"), 0);
    assert.equal(await count(n2), await count(n1));
    await fsp.rm(r.movedTo, { recursive: true, force: true });
  });

  it('follow of a diverged server without rewinding fails with the server words and the advice', async () => {
    // n0 is a standby of n1 now; promote it (timeline 3) and write: n1 and n0 diverge. n1 then cannot follow n0.
    await promote(n0.url);
    await n0.sql("INSERT INTO t (site) VALUES ('n0-tl3')");
    await assert.rejects(
      follow({ url: n1.url, dataDir: n1.dataDir, primary: n0.url, port: n1.port, waitMs: 4000 }),
      /did not start streaming .* rewind or rebuild it first/,
    );
  });

  it('rebuilds when the old server lacks the WAL pg_rewind needs, and says why', async () => {
    // n1 (timeline 2) could not follow n0 (timeline 3) above; now its WAL is gone too.
    await n1.stop();
    const wal = path.join(n1.dataDir, 'pg_wal');
    for (const f of await fsp.readdir(wal)) if (/^[0-9A-F]{24}$/.test(f)) await fsp.rm(path.join(wal, f));
    const r = await rewindOrRebuild({ dataDir: n1.dataDir, primary: n0.url, port: n1.port });
    assert.equal(r.method, 'rebuild');
    assert.match(r.reason, /pg_rewind cannot rewind it: .*(could not|WAL)/i);
    await follow({ url: n1.url, dataDir: n1.dataDir, primary: n0.url, port: n1.port });
    await waitSync({ primary: n0.url, standby: n1.url, timeoutMs: 20_000 });
    assert.equal(await count(n1, "site = 'n0-tl3'"), 1);
    await fsp.rm(r.movedTo!, { recursive: true, force: true });
  });

  it('a missing, empty or partial data directory has no existing copy; an empty one is rebuilt (0700, postgres)', async () => {
    const scratch = path.join(c.root, 'scratch');
    assert.match((await missingCopy(scratch))!, /does not exist/);
    await fsp.mkdir(scratch);
    assert.match((await missingCopy(scratch))!, /is empty/);
    await fsp.writeFile(path.join(scratch, 'PG_VERSION'), '15\n');
    assert.match((await missingCopy(scratch))!, /global\/pg_control/);
    assert.equal(await missingCopy(n1.dataDir), null);
    // n1 (a standby of n0) is promoted: timeline 4. n0 goes on writing on timeline 3 (split brain again);
    // n1 then moves to later WAL segments.
    await promote(n1.url);
    await n0.sql("INSERT INTO t (site) VALUES ('n0-split-tl3')");
    for (let i = 0; i < 3; i++) await n1.sql("INSERT INTO t (site) VALUES ('n1-tl4'); SELECT pg_switch_wal()");
    await n1.sql('CHECKPOINT');
    // n2's data directory is emptied (and left owned by root, 0755): rebuilt from n1.
    await n2.stop('immediate');
    await fsp.rm(n2.dataDir, { recursive: true, force: true });
    await fsp.mkdir(n2.dataDir, { mode: 0o755 });
    const r = await rewindOrRebuild({ dataDir: n2.dataDir, primary: n1.url, port: n2.port });
    assert.equal(r.method, 'rebuild');
    assert.match(r.reason, /no existing copy/);
    assert.deepEqual([r.movedTo, r.discardedBytes], [null, 0]);
    const st = await fsp.stat(n2.dataDir);
    assert.equal(st.mode & 0o777, 0o700);
    if (process.getuid?.() === 0) assert.equal(st.uid, Number(execFileSync('id', ['-u', 'postgres']).toString()));
    await follow({ url: n2.url, dataDir: n2.dataDir, primary: n1.url, port: n2.port });
    assert.equal(await count(n2, "site = 'n1-tl4'"), 3);
  });

  it('rebuilds when the new primary lacks the WAL from the last common checkpoint; follow fails fast on such a rewind', async () => {
    // n2 was base-backed-up from n1 after n1 and n0 diverged; promoted (timeline 5), its WAL starts after the fork.
    await promote(n2.url);
    await n2.sql("INSERT INTO t (site) VALUES ('n2-tl5')");
    const r = await rewindOrRebuild({ dataDir: n0.dataDir, primary: n2.url, port: n0.port });
    assert.equal(r.method, 'rebuild', r.reason);
    assert.match(r.reason, /no longer has the WAL/);
    assert.ok(r.discardedBytes > 0, JSON.stringify(r));
    // The old copy, rewound anyway by hand, cannot stream from n2: follow says so at once, with the advice.
    const old = r.movedTo!;
    const source = `host=127.0.0.1 port=${n2.port} user=postgres dbname=postgres`;
    execFileSync(
      'runuser',
      ['-u', 'postgres', '--', path.join(pgBinDir('15'), 'pg_rewind'), '-D', old, '--source-server', source],
      {
        stdio: 'pipe',
      },
    );
    const t0 = performance.now();
    try {
      await assert.rejects(
        follow({ url: n0.url, dataDir: old, primary: n2.url, port: n0.port, waitMs: 30_000 }),
        (e: Error) => {
          assert.match(e.message, /has already been removed/);
          assert.match(e.message, /rebuild/);
          return true;
        },
      );
      assert.ok(performance.now() - t0 < 10_000, `follow took ${performance.now() - t0} ms`);
    } finally {
      await stopServer(old, 'immediate').catch(() => {});
    }
    await follow({ url: n0.url, dataDir: n0.dataDir, primary: n2.url, port: n0.port });
    assert.equal(await count(n0, "site = 'n2-tl5'"), 1);
    assert.equal(await count(n0, "site = 'n0-split-tl3'"), 0);
    await fsp.rm(old, { recursive: true, force: true });
  });
});

describe('the cluster helper with synchronous replication', () => {
  it('makes the standby synchronous: a commit waits for it', async () => {
    const c = await createPgClusters({ standbys: 1, sync: true });
    try {
      const [p, s] = c.nodes as [PgNode, PgNode];
      const [r] = await p.sql<{ sync_state: string }>('SELECT sync_state FROM pg_stat_replication');
      assert.equal(r?.sync_state, 'sync');
      await p.sql('CREATE TABLE x (n int)');
      await s.stop();
      // With the standby down a commit waits; it completes once the standby is back.
      const insert = p.sql('INSERT INTO x VALUES (1)').then(() => 'committed');
      const first = await Promise.race([insert, new Promise((r) => setTimeout(() => r('waiting'), 1000))]);
      assert.equal(first, 'waiting');
      await s.start();
      assert.equal(await insert, 'committed');
    } finally {
      await c.remove();
    }
  });
});
