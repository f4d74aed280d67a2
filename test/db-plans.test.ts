// Database targets in plan runs, bad input (S8): a dump that fails midway
// fails its task and records no snapshot; an unreachable server makes its
// tasks skipped with the reason; a good dump is a snapshot with its format
// and digest, restorable; a `databases:` or units pattern that matches no
// database (a typo) fails the run with an alert, not a quiet success with
// `_globals` alone, unless the activity says allowEmpty.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { runPlan } from '../src/plans/run/runner.ts';
import type { ServerDbTarget } from '../src/config/types.ts';
import { listSnapshots } from '../src/repo/snapshot.ts';
import { runSql } from '../src/drivers/sql/sql-exec.ts';
import type { AlertEvent } from '../src/core/alert-event.ts';
import { activity, openRepo, planWorld } from './helpers/plan-fixtures.ts';

const MARIA = 'mariadb://root@127.0.0.1:3306';
const T = { timeoutMs: 20_000 };

const PG = 'postgres://postgres@127.0.0.1:5432';

function postgres(databases: string): ServerDbTarget {
  return { ...maria(databases), kind: 'postgres', name: 'shop-db', port: 5432, user: 'postgres' };
}

function maria(databases: string, port = 3306): ServerDbTarget {
  return {
    kind: 'mariadb',
    name: 'DB',
    site: null,
    host: '127.0.0.1',
    port,
    user: 'root',
    password: null,
    databases,
    exclude: [],
    timeoutMs: 60_000,
  };
}

describe('database targets in plan runs', () => {
  it('a dump that fails midway fails its task and leaves no snapshot; the good database is saved with format and digest', async (t) => {
    const tag = randomBytes(4).toString('hex');
    const good = `shplan_${tag}_good`;
    const bad = `shplan_${tag}_bad`;
    for (const db of [good, bad]) {
      await runSql(`${MARIA}/`, `CREATE DATABASE ${db}`, T);
      await runSql(
        `${MARIA}/${db}`,
        "CREATE TABLE t (id INT PRIMARY KEY, v TEXT); INSERT INTO t VALUES (1, 'one'), (2, NULL)",
        T,
      );
    }
    t.after(async () => {
      for (const db of [good, bad]) await runSql(`${MARIA}/`, `DROP DATABASE IF EXISTS ${db}`, T);
    });
    // A view whose table is gone: mariadb-dump fails on it after writing the tables.
    await runSql(
      `${MARIA}/${bad}`,
      'CREATE TABLE gone (x INT); CREATE VIEW broken AS SELECT x FROM gone; DROP TABLE gone',
      T,
    );
    const w = await planWorld({}, { activities: [activity('dump', 'backup', 'DB', '*')] });
    t.after(() => w.close());
    Object.assign(w.config.targets, { DB: maria(`shplan_${tag}_*`) });
    const r = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(r.status, 'partial', JSON.stringify(r.tasks));
    const byUnit = Object.fromEntries(r.tasks.map((x) => [x.unit, x]));
    assert.equal(byUnit[bad]!.status, 'failed');
    assert.match(byUnit[bad]!.reason!, /mariadb-dump/);
    assert.deepEqual(byUnit[bad]!.snapshots, []);
    assert.equal(byUnit[good]!.status, 'succeeded');
    const snaps = await listSnapshots(await openRepo(w));
    assert.deepEqual(
      snaps.map((s) => s.tags.find((x) => x.startsWith('unit:'))),
      [`unit:${good}`],
      'no snapshot of the failed dump',
    );
    assert.equal(snaps[0]!.meta?.format, 'mariadb-dump-sql');
    assert.deepEqual(
      Object.values(snaps[0]!.meta!.digest!.tables).map((x) => x.rows),
      [2],
    );
  });

  it('an unreachable server: its tasks are skipped with the reason, nothing else is touched', async (t) => {
    const w = await planWorld({}, { activities: [activity('dump', 'backup', 'DB', '*')] });
    t.after(() => w.close());
    Object.assign(w.config.targets, { DB: maria('*', 1) });
    const r = await runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog });
    assert.equal(r.status, 'skipped');
    assert.deepEqual(
      r.tasks.map((x) => [x.status, x.reason]),
      [['skipped', 'target DB is unavailable: DB (127.0.0.1:1): cannot connect: connect ECONNREFUSED 127.0.0.1:1']],
    );
  });

  it("a pattern that matches no database ('shopp' for 'shop') fails the run and alerts; with allowEmpty it succeeds", async (t) => {
    const tag = randomBytes(4).toString('hex');
    const shop = `shplan_${tag}_shop`;
    await runSql(`${PG}/postgres`, `CREATE DATABASE ${shop}`, T);
    t.after(() => runSql(`${PG}/postgres`, `DROP DATABASE IF EXISTS ${shop}`, T));
    const planRun = async (databases: string, units: string | null, allowEmpty: boolean) => {
      const w = await planWorld({}, { activities: [{ ...activity('dump', 'backup', 'shop-db', units), allowEmpty }] });
      t.after(() => w.close());
      Object.assign(w.config.targets, { 'shop-db': postgres(databases) });
      const alerts: AlertEvent[] = [];
      const r = await runPlan({
        config: w.config,
        plan: 'nightly',
        trigger: 'on-demand',
        catalog: w.catalog,
        alert: (e) => alerts.push(e),
      });
      const units_ = (await listSnapshots(await openRepo(w))).map((s) => s.tags.find((x) => x.startsWith('unit:')));
      const failures = alerts.filter((a) => a.event === 'run-failed' || a.event === 'run-incomplete');
      return { r, alerts: failures, units: units_ };
    };

    // The target's own filter: no database matches, so no quiet backup of `_globals` alone.
    const typo = await planRun(`shplan_${tag}_shopp`, null, false);
    assert.equal(typo.r.status, 'failed');
    assert.deepEqual(
      typo.r.tasks.map((x) => [x.target, x.unit, x.status]),
      [['shop-db', null, 'failed']],
    );
    assert.ok(
      typo.r.tasks[0]!.reason!.startsWith(`no database of target shop-db matches 'shplan_${tag}_shopp' (databases: `),
      typo.r.tasks[0]!.reason!,
    );
    assert.deepEqual(typo.units, [], 'nothing was backed up');
    assert.deepEqual(
      typo.alerts.map((a) => [a.event, a.severity]),
      [['run-failed', 'critical']],
    );
    assert.match(typo.alerts[0]!.summary, /shop-db failed: no database of target shop-db matches/);

    // The activity's units pattern: the same typo there fails the same way, naming the units there are.
    const unitTypo = await planRun(`shplan_${tag}_*`, `shplan_${tag}_shopp`, false);
    assert.equal(unitTypo.r.status, 'failed');
    assert.deepEqual(
      unitTypo.r.tasks.map((x) => [x.status, x.reason]),
      [['failed', `no unit of shop-db matches 'shplan_${tag}_shopp' (units: _globals, ${shop})`]],
    );
    assert.deepEqual(
      unitTypo.alerts.map((a) => a.event),
      ['run-failed'],
    );

    // allowEmpty: matching nothing is what was meant; the run succeeds and raises nothing.
    const allowed = await planRun(`shplan_${tag}_shopp`, null, true);
    assert.equal(allowed.r.status, 'succeeded', JSON.stringify(allowed.r));
    assert.deepEqual(allowed.units, ['unit:_globals'], 'what the target still has (its roles) is backed up');
    assert.deepEqual(allowed.alerts, []);
    const allowedUnits = await planRun(`shplan_${tag}_*`, `shplan_${tag}_shopp`, true);
    assert.equal(allowedUnits.r.status, 'succeeded');
    assert.deepEqual(allowedUnits.r.tasks, []);
    assert.deepEqual(allowedUnits.alerts, []);
  });
});
