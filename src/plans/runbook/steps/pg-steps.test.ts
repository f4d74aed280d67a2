// The pg.* step kinds on real local clusters (a primary n0 and standbys n1,
// n2, created once for the file): every kind's plan() changes nothing (LSNs,
// roles, files, slots unchanged) and says what would change; run() gives the
// outputs later steps use (a planned switchover: fence n0, promote n1,
// rewind n0 and make it and n2 follow n1, wait for sync).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { createPgClusters } from '../../../../test/helpers/pg-cluster.ts';
import type { PgClusters, PgNode } from '../../../../test/helpers/pg-cluster.ts';
import type { Catalog } from '../../../catalog/catalog.ts';
import type { Config } from '../../../config/types.ts';
import { systemClock } from '../../../core/clock.ts';
import type { StepContext } from '../step-kind.ts';
import { stepKind } from '../step-registry.ts';
import { pgFenceStep } from './pg-fence.ts';
import { pgFollowStep } from './pg-follow.ts';
import { pgPromoteStep } from './pg-promote.ts';
import { pgRewindOrRebuildStep } from './pg-rewind-or-rebuild.ts';
import { pgStatusStep } from './pg-status.ts';
import { pgWaitSyncStep } from './pg-wait-sync.ts';

function context(lines: string[], signal = AbortSignal.timeout(60_000)): StepContext {
  return {
    runId: 'r1',
    runbook: 'test',
    step: 'step',
    attempt: 1,
    signal,
    clock: systemClock,
    config: {} as Config,
    catalog: {} as Catalog,
    log: (m) => lines.push(m),
    alert: async () => {},
  };
}

/** What a dry run must leave alone: positions, roles, config files, slots. */
async function snapshot(c: PgClusters) {
  const out: unknown[] = [];
  for (const n of c.nodes) {
    const [r] = await n.sql('SELECT pg_is_in_recovery() AS standby');
    const files = await fsp.readdir(n.dataDir);
    const auto = await fsp.readFile(path.join(n.dataDir, 'postgresql.auto.conf'), 'utf8');
    const slots = await n.sql('SELECT slot_name FROM pg_replication_slots ORDER BY 1');
    out.push({ lsn: await n.lsn(), r, signal: files.includes('standby.signal'), auto, slots, up: await n.running() });
  }
  return out;
}

describe('pg.* step kinds on real clusters', () => {
  let c: PgClusters;
  let n0: PgNode;
  let n1: PgNode;
  let n2: PgNode;

  before(async () => {
    c = await createPgClusters({ standbys: 2 });
    [n0, n1, n2] = c.nodes as [PgNode, PgNode, PgNode];
    await n0.sql('CREATE TABLE t (id serial PRIMARY KEY, site text)');
    await n0.sql("INSERT INTO t (site) SELECT 'n0' FROM generate_series(1, 50)");
  });
  after(async () => c?.remove());

  it('the registry lists every pg.* kind', () => {
    for (const k of ['pg.status', 'pg.fence', 'pg.promote', 'pg.follow', 'pg.rewind-or-rebuild', 'pg.wait-sync'])
      assert.equal(stepKind(k)?.kind, k);
    assert.equal(pgRewindOrRebuildStep.idempotent, false);
    assert.equal(pgPromoteStep.idempotent, true);
  });

  it('plan() of every kind reads only and says what would change', async () => {
    await pgWaitSyncStep.run({ primary: n0.url, standby: n1.url }, context([]));
    await pgWaitSyncStep.run({ primary: n0.url, standby: n2.url }, context([]));
    const before = await snapshot(c);
    const ctx = context([]);
    const status = await pgStatusStep.plan({ url: n1.url }, ctx);
    const fence = await pgFenceStep.plan({ url: n0.url, dataDir: n0.dataDir }, ctx);
    const fenceRo = await pgFenceStep.plan({ url: n0.url, mode: 'read-only' }, ctx);
    const promote = await pgPromoteStep.plan({ url: n1.url }, ctx);
    const follow = await pgFollowStep.plan(
      { url: n0.url, dataDir: n0.dataDir, primary: n1.url, slot: 's0', port: String(n0.port) },
      ctx,
    );
    const rewind = await pgRewindOrRebuildStep.plan({ dataDir: n0.dataDir, primary: n1.url }, ctx);
    const fresh = await pgRewindOrRebuildStep.plan({ dataDir: `${c.root}/nothing-here`, primary: n1.url }, ctx);
    const wait = await pgWaitSyncStep.plan({ primary: n0.url, standby: n1.url }, ctx);
    const later = await pgPromoteStep.plan({ url: '<output of status.url>' }, ctx);
    assert.deepEqual(await snapshot(c), before, 'a dry run changed something');

    assert.match(status[0]!, /nothing changes: .* \(now: standby, timeline 1, replay LSN \d+\/[0-9A-F]+\)/);
    assert.match(
      fence[0]!,
      new RegExp(`would stop the server on ${n0.dataDir} \\(127\\.0\\.0\\.1:${n0.port}, primary`),
    );
    assert.match(fenceRo.join('\n'), /would make the primary at .* read-only[\s\S]*end every other client session/);
    assert.match(
      promote[0]!,
      new RegExp(`would promote the standby at 127\\.0\\.0\\.1:${n1.port} \\(timeline 1, replay LSN`),
    );
    assert.match(follow.join('\n'), /would stop the server[\s\S]*standby.signal[\s\S]*slot s0[\s\S]*streams from/);
    assert.match(rewind.join('\n'), /would rewind .* with pg_rewind[\s\S]*known once .* is a primary \(now: standby/);
    assert.match(fresh[0]!, /would take a fresh pg_basebackup from .* no existing copy \(it does not exist\)/);
    assert.match(wait[0]!, /\(now 0 bytes behind/);
    assert.deepEqual(later, ['would promote the server at <output of status.url>']);
  });

  it('run() outputs: status, fence, promote, rewind-or-rebuild, follow, wait-sync (a switchover)', async () => {
    const lines: string[] = [];
    const s = await pgStatusStep.run({ url: n1.url }, context(lines));
    assert.equal(s.role, 'standby');
    assert.equal(s.reachable, true);
    assert.equal(s.timeline, 1);
    for (const k of ['lsn', 'receiveLsn', 'replayLsn', 'lagBytes', 'lagSeconds', 'lastReplayAt', 'paused'])
      assert.ok(k in s, k);
    const gone = await pgStatusStep.run({ url: 'postgres://u:hunter2@127.0.0.1:1/x' }, context(lines));
    assert.deepEqual([gone.reachable, gone.role], [false, null]);

    const f = await pgFenceStep.run({ url: n0.url, dataDir: n0.dataDir }, context(lines));
    assert.deepEqual([f.fenced, f.how], [true, 'stopped']);
    assert.match(String(f.lsn), /^[0-9A-F]+\/[0-9A-F]+$/);

    const p = await pgPromoteStep.run({ url: n1.url }, context(lines));
    assert.equal(p.timeline, 2);
    assert.equal(p.alreadyPrimary, false);
    assert.ok(!Number.isNaN(Date.parse(String(p.promotedAt))));
    await n1.sql("INSERT INTO t (site) VALUES ('n1')");

    const r = await pgRewindOrRebuildStep.run(
      { dataDir: n0.dataDir, primary: n1.url, port: String(n0.port) },
      context(lines),
    );
    assert.equal(r.method, 'rewind', String(r.reason));
    assert.equal(r.discardedBytes, 0, 'a clean switchover discards nothing');
    const fo = await pgFollowStep.run(
      { url: n0.url, dataDir: n0.dataDir, primary: n1.url, slot: 'n0_slot', port: n0.port },
      context(lines),
    );
    assert.equal(fo.timeline, 2);
    assert.equal(fo.slotCreated, true);
    const fo2 = await pgFollowStep.run(
      { url: n2.url, dataDir: n2.dataDir, primary: n1.url, port: n2.port },
      context(lines),
    );
    assert.equal(fo2.timeline, 2);

    for (const n of [n0, n2]) {
      const w = await pgWaitSyncStep.run({ primary: n1.url, standby: n.url, maxLagBytes: '0' }, context(lines));
      assert.ok(typeof w.waitedMs === 'number' && w.primaryLsn && w.replayLsn);
      const [row] = await n.sql<{ c: number }>("SELECT count(*)::int AS c FROM t WHERE site = 'n1'");
      assert.equal(row!.c, 1);
    }
    assert.ok(!lines.join('\n').includes('hunter2'));
  });

  it('wait-sync ends at the step timeout with how far behind the standby is', async () => {
    await n2.sql('SELECT pg_wal_replay_pause()');
    await n1.sql("INSERT INTO t (site) SELECT 'n1' FROM generate_series(1, 100)");
    await assert.rejects(
      pgWaitSyncStep.run({ primary: n1.url, standby: n2.url }, context([], AbortSignal.timeout(700))),
      /did not catch up within \d+ ms: its replay LSN is .*, \d+ bytes behind/,
    );
    await n2.sql('SELECT pg_wal_replay_resume()');
  });

  it('a crashed old primary (kill -9) finishes recovery in single-user mode, then is rewound', async () => {
    // n1 is the primary, n0 and n2 its standbys (see above).
    await n1.sql("INSERT INTO t (site) SELECT 'n1-last' FROM generate_series(1, 20)");
    await pgWaitSyncStep.run({ primary: n1.url, standby: n0.url }, context([]));
    await n1.kill9();
    const p = await pgPromoteStep.run({ url: n0.url }, context([]));
    assert.equal(p.timeline, 3);
    const r = await pgRewindOrRebuildStep.run({ dataDir: n1.dataDir, primary: n0.url, port: n1.port }, context([]));
    assert.equal(r.method, 'rewind', String(r.reason));
    assert.match(String(r.reason), /timeline 3 branched off timeline 2/);
    const f = await pgFollowStep.run({ url: n1.url, dataDir: n1.dataDir, primary: n0.url, port: n1.port }, context([]));
    assert.equal(f.timeline, 3);
    const [row] = await n1.sql<{ c: number }>("SELECT count(*)::int AS c FROM t WHERE site = 'n1-last'");
    assert.equal(row!.c, 20);
  });
});
