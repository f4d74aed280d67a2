// Consistency groups over real PostgreSQL databases (S6, S7): a writer puts
// marker N into db1, then into db2, again and again. A quiesced group (the
// stop hook pauses the writer between pairs) restores with equal markers;
// a group backed up 'independent' is marked not consistent and its restore
// is refused unless forced. Also a drill of a database unit, and the whole
// safe restore through `safehold restore-plan run`.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { runPlan } from '../src/plans/run/runner.ts';
import { restoreGroup } from '../src/plans/restore/restore-flow.ts';
import { buildTargets } from '../src/drivers/target/targets.ts';
import type { FilesTarget, Group, ServerDbTarget } from '../src/config/types.ts';
import { listSnapshots } from '../src/repo/snapshot.ts';
import { runSql } from '../src/drivers/sql/sql-exec.ts';
import { systemClock } from '../src/core/clock.ts';
import { activity, hook, openRepo, planWorld } from './helpers/plan-fixtures.ts';
import type { PlanWorld } from './helpers/plan-fixtures.ts';
import pg from 'pg';

const PG = 'postgres://postgres@127.0.0.1:5432';
const T = { timeoutMs: 20_000 };

async function maxMarker(db: string): Promise<number> {
  const c = new pg.Client({ connectionString: `${PG}/${db}` });
  await c.connect();
  try {
    return Number((await c.query('SELECT coalesce(max(n), 0) AS m FROM markers')).rows[0].m);
  } finally {
    await c.end();
  }
}

/** Inserts marker n into db1 then db2, n = 1, 2, …, pausing between pairs while `pause` exists (and saying so in `ack`). */
function startWriter(db1: string, db2: string, pause: string, ack: string) {
  let stop = false;
  const done = (async () => {
    const a = new pg.Client({ connectionString: `${PG}/${db1}` });
    const b = new pg.Client({ connectionString: `${PG}/${db2}` });
    await a.connect();
    await b.connect();
    try {
      for (let n = 1; !stop; n++) {
        while (fs.existsSync(pause) && !stop) {
          fs.writeFileSync(ack, String(n - 1));
          await new Promise((r) => setTimeout(r, 5));
        }
        await a.query('INSERT INTO markers VALUES ($1)', [n]);
        await b.query('INSERT INTO markers VALUES ($1)', [n]);
      }
    } finally {
      await a.end();
      await b.end();
    }
  })();
  return {
    async stop() {
      stop = true;
      await done;
    },
  };
}

async function world(t: { after(fn: () => Promise<void> | void): void }, mode: Group['mode']) {
  const tag = randomBytes(4).toString('hex');
  const db1 = `shgrp_${tag}_work`;
  const db2 = `shgrp_${tag}_business`;
  const created: string[] = [];
  for (const db of [db1, db2]) {
    await runSql(`${PG}/postgres`, `CREATE DATABASE ${db}`, T);
    created.push(db);
    await runSql(`${PG}/${db}`, 'CREATE TABLE markers (n int PRIMARY KEY)', T);
  }
  const w = await planWorld({}, { activities: [activity('group', 'backup', '', null, { group: 'wf' })] });
  t.after(async () => {
    await w.close();
    const all = await listDbs(tag);
    for (const db of new Set([...created, ...all]))
      await runSql(`${PG}/postgres`, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`, T);
  });
  const pause = path.join(w.dir, 'pause');
  const ack = path.join(w.dir, 'ack');
  const conf = path.join(w.dir, 'conf');
  fs.mkdirSync(conf);
  fs.writeFileSync(path.join(conf, 'workflow.ini'), 'v1\n');
  const pgTarget: ServerDbTarget = {
    kind: 'postgres',
    name: 'PG',
    site: null,
    host: '127.0.0.1',
    port: 5432,
    user: 'postgres',
    password: null,
    databases: `shgrp_${tag}_*`,
    exclude: [],
    timeoutMs: 60_000,
  };
  const files: FilesTarget = {
    kind: 'files',
    name: 'APP',
    site: null,
    units: { conf: { paths: [conf], exclude: [] } },
  };
  const group: Group = {
    name: 'wf',
    mode,
    members: [
      { target: 'PG', units: [db1, db2] },
      { target: 'APP', units: null },
    ],
    stop:
      mode === 'quiesced'
        ? hook('stop', `rm -f ${ack}; touch ${pause}; while [ ! -e ${ack} ]; do sleep 0.01; done`)
        : null,
    start: mode === 'quiesced' ? hook('start', `rm -f ${pause} ${ack}`, { always: true }) : null,
    check: null,
    cleanup: hook('cleanup', 'true'),
  };
  Object.assign(w.config.targets, { PG: pgTarget, APP: files });
  Object.assign(w.config, { groups: { wf: group } });
  return { w, db1, db2, tag, pause, ack, conf };
}

async function listDbs(tag: string): Promise<string[]> {
  const c = new pg.Client({ connectionString: `${PG}/postgres` });
  await c.connect();
  try {
    return (await c.query('SELECT datname FROM pg_database WHERE datname LIKE $1', [`shgrp_${tag}%`])).rows.map(
      (r) => r.datname as string,
    );
  } finally {
    await c.end();
  }
}

function restore(w: PlanWorld, over: Partial<Parameters<typeof restoreGroup>[0]>) {
  return restoreGroup({
    config: w.config,
    group: 'wf',
    from: 'local',
    snapshot: 'latest',
    safetyBackup: true,
    intoSuffix: '_r',
    filesTo: path.join(w.dir, 'restored'),
    force: false,
    allowLive: true,
    targets: buildTargets(w.config),
    clock: systemClock,
    log: () => {},
    ...over,
  });
}

describe('consistency groups on PostgreSQL', () => {
  it('quiesced: the writer is paused between pairs, so the restored databases hold the same largest marker', async (t) => {
    const { w, db1, db2, pause, ack } = await world(t, 'quiesced');
    const writer = startWriter(db1, db2, pause, ack);
    await new Promise((r) => setTimeout(r, 300));
    const r = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    await new Promise((r) => setTimeout(r, 200));
    await writer.stop();
    assert.equal(r.status, 'succeeded', JSON.stringify(r.tasks));
    assert.deepEqual(
      r.tasks.map((x) => [x.target, x.unit]),
      [
        ['PG', db1],
        ['PG', db2],
        ['APP', 'conf'],
      ],
    );
    assert.ok((await maxMarker(db1)) > 0, 'the writer ran');
    const snaps = await listSnapshots(await openRepo(w));
    assert.ok(
      snaps.every((s) => s.meta?.group === `wf/${r.id}` && s.meta.online === false && s.meta.consistent === true),
    );
    assert.ok(
      snaps.every((s) => s.tags.includes('group:wf')),
      'every snapshot of the group run carries the tag group:wf',
    );
    assert.ok(
      snaps
        .filter((s) => s.kind === 'stream')
        .every(
          (s) => s.meta?.format === 'pg_dump-custom' && s.meta.digest && Object.keys(s.meta.digest.tables).length === 1,
        ),
    );
    // The writer is gone now: the restore's stop hook has nothing to pause.
    Object.assign(w.config.groups, { wf: { ...w.config.groups.wf!, stop: hook('stop', 'true') } });
    const res = await restore(w, {});
    assert.equal(res.ok, true, JSON.stringify(res));
    const [m1, m2] = [await maxMarker(`${db1}_r`), await maxMarker(`${db2}_r`)];
    assert.ok(m1 > 0);
    assert.ok(m2 <= m1 && m1 <= m2 + 1, `one instant: db1 ${m1}, db2 ${m2}`);
    assert.equal(m1, m2, 'quiesced between pairs: equal');
    assert.equal(fs.readFileSync(path.join(w.dir, 'restored', w.dir, 'conf', 'workflow.ini'), 'utf8'), 'v1\n');
  });

  it('independent: marked not consistent; the group restore is refused unless forced', async (t) => {
    const { w, db1, db2, pause, ack } = await world(t, 'independent');
    const writer = startWriter(db1, db2, pause, ack);
    await new Promise((r) => setTimeout(r, 200));
    const r = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    await writer.stop();
    assert.equal(r.status, 'succeeded');
    assert.ok(
      w.catalog
        .planRuns()
        .logLines(r.id)
        .some(
          (l) => l.message === 'group wf: independent dumps while the application runs; the group is NOT consistent',
        ),
    );
    const snaps = await listSnapshots(await openRepo(w));
    assert.ok(snaps.every((s) => s.meta?.consistent === false && s.meta.online === true));
    await assert.rejects(
      restore(w, {}),
      /group wf was backed up in independent mode: its databases are not from one instant \(restore anyway with --force\)/,
    );
    const forced = await restore(w, { force: true });
    assert.equal(forced.ok, true, JSON.stringify(forced));
    assert.ok(forced.restored.some((x) => x.into === `${db1}_r`));
  });

  it('a drill restores the latest dump into a scratch database, matches the digest recorded at backup, and drops it', async (t) => {
    const { w, db1, tag } = await world(t, 'quiesced');
    await runSql(`${PG}/${db1}`, 'INSERT INTO markers SELECT generate_series(1, 500)', T);
    const base = w.config.plans.nightly!;
    Object.assign(w.config.plans, {
      dumps: { ...base, name: 'dumps', activities: [activity('dump', 'backup', 'PG', db1)] },
      drill: { ...base, name: 'drill', activities: [activity('drill', 'drill', 'PG', db1)] },
    });
    assert.equal(
      (await runPlan({ config: w.config, plan: 'dumps', trigger: 'on-demand', catalog: w.catalog })).status,
      'succeeded',
    );
    const d = await runPlan({ config: w.config, plan: 'drill', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(d.status, 'succeeded', JSON.stringify(d.tasks));
    assert.match(
      d.tasks[0]!.reason!,
      new RegExp(
        `^drill passed: 1 table\\(s\\), 500 row\\(s\\) restored into ${db1}_drill_[0-9a-f]{8}; counts and checksums match the backup$`,
      ),
    );
    assert.deepEqual(
      (await listDbs(tag)).filter((x) => x.includes('_drill_')),
      [],
      'the scratch database is dropped',
    );
    assert.equal(w.catalog.drills().list()[0]!.status, 'passed');
  });
});
