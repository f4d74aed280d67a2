// The shipped disaster-recovery runbooks (examples/dr) on three real local
// PostgreSQL servers made by examples/dr/setup.sh, with the demo reporting
// application writing: every runbook loads and dry-runs without changing
// anything (LSNs, timelines, the application's configuration), then Site 1
// is killed (kill -9 of its postmaster) while the application writes and
// site-failover brings the application back at Site 2, with RTO and RPO
// measured from the application's journal; return-to-two-sites then moves it
// to Site 3 with Site 2 as its standby and no row lost.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { baseEnv, runCli, show } from './helpers/cli.ts';
import { DR, type DrDemo, createDrDemo, drSkipReason } from './helpers/dr-demo.ts';
import { until } from './helpers/wait.ts';

const RUNBOOKS = ['failback', 'planned-switchover', 'return-to-two-sites', 'site-failover'];
const skip = drSkipReason() ?? false;

const cli = (args: string[], timeoutMs = 180_000) => runCli(args, { env: baseEnv(), timeoutMs });

interface Measured {
  rtoMs: number | null;
  rpoRows: number;
  rpoMs: number;
  oldRows: number;
  newRows: number;
}

describe('shipped disaster-recovery runbooks on real PostgreSQL servers', { skip }, () => {
  let demo: DrDemo;

  before(async () => {
    demo = await createDrDemo();
  });

  after(async () => {
    await demo?.remove();
  });

  it('loads every shipped runbook with the example configuration', async () => {
    const names = fs.readdirSync(path.join(DR, 'runbooks')).map((f) => f.replace(/\.yaml$/, ''));
    assert.deepEqual(names.sort(), RUNBOOKS);
    const r = await cli(['config', 'validate', '--config', path.join(DR, 'safehold.yaml')]);
    assert.equal(r.code, 0, show(r));
    const list = await cli(['runbook', 'list', '--json', '--config', demo.config]);
    assert.equal(list.code, 0, show(list));
    const listed = (list.json() as { name: string; destructive: boolean }[]).map((x) => [x.name, x.destructive]);
    assert.deepEqual(listed.sort(), [
      ['failback', true],
      ['planned-switchover', false],
      ['return-to-two-sites', false],
      ['site-failover', true],
    ]);
  });

  it('dry-runs every runbook against the running servers without changing anything', async () => {
    const [s1, s2, s3] = demo.sites;
    const ini = fs.readFileSync(demo.appIni, 'utf8');
    const before1 = await demo.reading(s1);
    const before2 = await demo.reading(s2);
    assert.equal(before1?.standby, false);
    assert.equal(before2?.standby, true);
    for (const name of RUNBOOKS) {
      const r = await cli(['runbook', 'run', name, '--dry-run', '--config', demo.config]);
      // A dry run lists every step; a precondition that does not hold now is reported, not a failure of the dry run.
      assert.equal(r.code, 0, `${name}: ${show(r)}`);
      assert.match(r.stdout, /promote|rewind|fence|wait-sync|status/, `${name}: ${show(r)}`);
    }
    const after1 = await demo.reading(s1);
    const after2 = await demo.reading(s2);
    assert.equal(after1?.standby, false, 'Site 1 is still the primary');
    assert.equal(after2?.standby, true, 'Site 2 is still a standby');
    assert.equal(after1!.timeline, before1!.timeline);
    assert.equal(after2!.timeline, before2!.timeline);
    if (after1!.lsn !== before1!.lsn) {
      // An idle server may log a running-transactions snapshot, a checkpoint, or prune a page a read visited
      // (catalog rows left dead by the set-up); no row, configuration or role change may appear.
      const kinds = await demo.walKinds(s1, before1!.lsn, after1!.lsn);
      assert.deepEqual(
        kinds.filter((k) => !/^(Standby|XLOG)\//.test(k) && k !== 'Heap2/PRUNE'),
        [],
        `WAL written: ${kinds.join(', ')}`,
      );
    }
    assert.equal(await demo.reading(s3), null, 'Site 3 was not started');
    assert.deepEqual(fs.readdirSync(s3.dataDir), [], 'Site 3 is still empty');
    assert.equal(fs.readFileSync(demo.appIni, 'utf8'), ini, 'app.ini unchanged');
    assert.deepEqual(
      fs.readdirSync(path.dirname(demo.appIni)).filter((f) => f.includes('.bak-') || f === 'app.pid'),
      [],
      'no backup copy of app.ini, the application not started',
    );
  });

  it('site-failover: after kill -9 of Site 1 while the application writes, it writes at Site 2', async () => {
    const [s1, s2] = demo.sites;
    await demo.app('start');
    await until(async () => (await rowCount(demo, s2)) > 20, 'rows at Site 2', 20_000, 100);
    await demo.kill9(s1);
    const killedAt = Date.now();
    const v = await runbook(demo, 'site-failover', ['--confirm', 'site-failover', '--var', 'approve=false']);
    const tookMs = Date.now() - killedAt;
    assert.equal(outputs(v, 'fence-site1')?.fenced ?? false, false, 'Site 1 could not be fenced (it is down)');
    assert.ok(outputs(v, 'site2-status')?.lastReplayAt, 'the last replayed transaction time was recorded');
    const settings = demo.appSettings();
    assert.equal(settings['app.port'], String(s2.port));
    assert.equal(settings['app.site'], 'site2');
    assert.equal(settings['connections.infomart-db'], 'site2');
    assert.equal(settings['connections.source-site1'], undefined, "Site 1's source removed");
    assert.equal(settings['schedule.run-scheduler'], 'true');
    assert.equal(settings['schedule.run-aggregates'], 'true');
    assert.equal((await demo.reading(s2))?.standby, false, 'Site 2 is the primary');
    await demo.app('check-log');
    const m = await measured(demo, killedAt, 'site1', s2);
    assert.ok(m.oldRows > 20, `rows written at Site 1: ${m.oldRows}`);
    assert.ok(m.rtoMs !== null && m.newRows > 0, 'the application writes at Site 2');
    const [agg] = await demo.sql<{ n: number }>(s2, 'SELECT count(*)::int AS n FROM aggregates');
    assert.ok(agg!.n > 0, 're-aggregated at Site 2');
    console.log(
      `site-failover: RTO ${(m.rtoMs! / 1000).toFixed(2)} s (kill → first row at Site 2; runbook done ${(tookMs / 1000).toFixed(2)} s after the kill), ` +
        `RPO ${m.rpoRows} rows / ${m.rpoMs} ms (asynchronous replication)`,
    );
  });

  it('failback: Site 1 is rewound into a standby of Site 2, then takes over again without losing a row', async () => {
    const [s1, s2] = demo.sites;
    const startedAt = Date.now();
    const v = await runbook(demo, 'failback', ['--confirm', 'failback', '--var', 'approve=false']);
    const rewind = outputs(v, 'rewind-old')!;
    assert.match(String(rewind.method), /^(rewind|rebuild)$/);
    assert.equal(typeof rewind.discardedBytes, 'number');
    assert.equal((await demo.reading(s1))?.standby, false, 'Site 1 is the primary again');
    assert.equal((await demo.reading(s2))?.standby, true, 'Site 2 is its standby');
    assert.equal(demo.appSettings()['app.port'], String(s1.port));
    const m = await measured(demo, startedAt, 'site2', s1);
    assert.equal(m.rpoRows, 0, 'every row written at Site 2 is at Site 1');
    assert.ok(m.newRows > 0, 'the application writes at Site 1');
    console.log(
      `failback: ${rewind.method} (discarded ${rewind.discardedBytes} bytes of WAL), ` +
        `RTO ${((m.rtoMs ?? 0) / 1000).toFixed(2)} s from the start of the runbook, RPO ${m.rpoRows} rows`,
    );
  });

  it('planned-switchover: refuses over the lag threshold or during a backup, then swaps Site 1 and Site 2 with no row lost', async () => {
    const [s1, s2] = demo.sites;
    const backup = demo.slowBaseBackup(s1);
    try {
      await until(
        async () => (await demo.sql(s1, 'SELECT 1 FROM pg_stat_progress_basebackup')).length > 0,
        'a base backup of Site 1 running',
        20_000,
        50,
      );
      const during = await cli(['runbook', 'run', 'planned-switchover', '--config', demo.config]);
      assert.equal(during.code, 1, show(during));
      assert.match(during.stdout + during.stderr, /pg_stat_progress_basebackup|precondition/i);
      assert.equal((await demo.reading(s1))?.standby, false, 'nothing changed: Site 1 is still the primary');
    } finally {
      backup.kill('SIGKILL');
    }
    await until(
      async () =>
        (
          await demo.sql(
            s1,
            "SELECT 1 FROM pg_stat_activity WHERE application_name = 'pg_basebackup' UNION ALL SELECT 1 FROM pg_stat_progress_basebackup",
          )
        ).length === 0,
      'the killed base backup gone from Site 1',
      20_000,
      50,
    );
    const refused = await cli([
      'runbook',
      'run',
      'planned-switchover',
      '--config',
      demo.config,
      '--var',
      'maxLagBytes=-1',
    ]);
    assert.equal(refused.code, 1, show(refused));
    assert.match(refused.stdout + refused.stderr, /lagBytes|precondition/i);
    assert.equal((await demo.reading(s1))?.standby, false, 'nothing changed: Site 1 is still the primary');
    const startedAt = Date.now();
    await runbook(demo, 'planned-switchover', []);
    assert.equal((await demo.reading(s2))?.standby, false, 'Site 2 is the primary');
    assert.equal((await demo.reading(s1))?.standby, true, 'Site 1 is its standby');
    const m = await measured(demo, startedAt, 'site1', s2);
    assert.equal(m.rpoRows, 0, 'no row lost');
    assert.ok(m.newRows > 0, 'the application writes at Site 2');
    console.log(
      `planned-switchover: RTO ${((m.rtoMs ?? 0) / 1000).toFixed(2)} s from the start of the runbook, RPO ${m.rpoRows} rows`,
    );
  });

  it('return-to-two-sites: the application ends at Site 3, Site 2 streams from it, no row of Site 2 lost', async () => {
    const [, s2, s3] = demo.sites;
    const startedAt = Date.now();
    await runbook(demo, 'return-to-two-sites', [], 600_000);
    const settings = demo.appSettings();
    assert.equal(settings['app.port'], String(s3.port));
    assert.equal(settings['app.site'], 'site3');
    assert.equal((await demo.reading(s3))?.standby, false, 'Site 3 is the primary');
    assert.equal((await demo.reading(s2))?.standby, true, 'Site 2 is a standby');
    const [streaming] = await demo.sql<{ n: number }>(
      s3,
      "SELECT count(*)::int AS n FROM pg_stat_replication WHERE state = 'streaming'",
    );
    assert.equal(streaming!.n, 1, 'Site 2 streams from Site 3');
    const m = await measured(demo, startedAt, 'site2', s3);
    assert.ok(m.oldRows > 0, 'the application wrote at Site 2 before the switch');
    assert.equal(m.rpoRows, 0, 'every row written at Site 2 is at Site 3');
    assert.ok(m.newRows > 0, 'the application writes at Site 3');
    const [last] = await demo.sql<{ p: string }>(s3, 'SELECT payload AS p FROM rows ORDER BY id DESC LIMIT 1');
    await until(
      async () => (await demo.sql(s2, 'SELECT 1 FROM rows WHERE payload = $1', [last!.p])).length === 1,
      'the newest row of Site 3 at Site 2',
      20_000,
      100,
    );
    const exports = fs.readdirSync(path.join(demo.root, 'pg', 'exports-site3'));
    assert.ok(
      exports.some((f) => f.includes('reporting')),
      `the export kept at Site 3: ${exports.join(', ')}`,
    );
  });
});

describe('site-failover when Site 1 is still writable and cannot be fenced (split brain)', { skip }, () => {
  let demo: DrDemo;

  before(async () => {
    demo = await createDrDemo();
    // A role that can see Site 1 but not fence it (no superuser: ALTER SYSTEM is refused).
    await demo.sql(demo.sites[0], 'CREATE ROLE watcher LOGIN');
  });

  after(async () => {
    await demo?.remove();
  });

  it("refuses unless forced; a forced failover's failback reports the rows the rewind discarded", async () => {
    const [s1, s2] = demo.sites;
    const watcher = s1.url.replace('postgres@', 'watcher@');
    const vars = ['--var', `site1=${watcher}`, '--var', 'site1Data=', '--var', 'approve=false'];
    await demo.app('start');
    await until(async () => (await rowCount(demo, s2)) > 10, 'rows at Site 2', 20_000, 100);
    const refused = await cli([
      'runbook',
      'run',
      'site-failover',
      '--config',
      demo.config,
      '--confirm',
      'site-failover',
      ...vars,
    ]);
    assert.equal(refused.code, 1, show(refused));
    assert.match(refused.stdout + refused.stderr, /still a writable primary/);
    assert.equal((await demo.reading(s2))?.standby, true, 'Site 2 was not promoted');
    const forced = await runbook(demo, 'site-failover', ['--confirm', 'site-failover', ...vars, '--var', 'force=true']);
    assert.equal(outputs(forced, 'promote-site2')?.timeline, 2);
    // Another writer still reaches Site 1 after the split: these rows exist only there.
    for (let i = 0; i < 5; i++) await demo.sql(s1, "INSERT INTO rows (payload) VALUES ('split-writer:' || $1)", [i]);
    const v = await runbook(demo, 'failback', ['--confirm', 'failback', '--var', 'approve=false']);
    const diverged = outputs(v, 'diverged-rows')!;
    assert.ok(Number(diverged.divergedRows) >= 5, `rows only at Site 1: ${JSON.stringify(diverged)}`);
    const rewind = outputs(v, 'rewind-old')!;
    assert.ok(Number(rewind.discardedBytes) > 0, `discarded WAL: ${JSON.stringify(rewind)}`);
    const [gone] = await demo.sql<{ n: number }>(
      s1,
      "SELECT count(*)::int AS n FROM rows WHERE payload LIKE 'split-writer:%'",
    );
    assert.equal(gone!.n, 0, 'the split rows are gone from Site 1 after the rewind');
    console.log(
      `split brain: the failback discarded ${diverged.divergedRows} rows (ids ${diverged.firstId}..${diverged.lastId}), ` +
        `WAL ${rewind.discardedFromLsn}..${rewind.discardedToLsn} (${rewind.discardedBytes} bytes)`,
    );
  });
});

/** Runs a runbook to its end with --json and returns the run (asserting it succeeded). */
async function runbook(demo: DrDemo, name: string, args: string[], timeoutMs = 300_000): Promise<RunJson> {
  const r = await cli(['runbook', 'run', name, '--config', demo.config, '--json', ...args], timeoutMs);
  assert.equal(r.code, 0, `${name}: ${show(r)}`);
  const v = r.json() as RunJson;
  assert.equal(v.status, 'succeeded', `${name}: ${show(r)}`);
  return v;
}

interface RunJson {
  status: string;
  steps: { name: string; status: string; outputs: Record<string, string | number | boolean | null> | null }[];
}

function outputs(v: RunJson, step: string) {
  return v.steps.find((s) => s.name === step)?.outputs ?? null;
}

async function rowCount(demo: DrDemo, site: DrDemo['sites'][number]): Promise<number> {
  return (await demo.sql<{ n: number }>(site, 'SELECT count(*)::int AS n FROM rows'))[0]!.n;
}

async function measured(demo: DrDemo, atMs: number, oldSite: string, to: DrDemo['sites'][number]): Promise<Measured> {
  const out = await demo.app(
    'measure',
    '--at',
    String(atMs),
    '--old-site',
    oldSite,
    '--new-site',
    to.name,
    '--url',
    to.url,
  );
  return JSON.parse(out) as Measured;
}

describe('site-failover with synchronous replication, approved through the CLI', { skip }, () => {
  let demo: DrDemo;

  before(async () => {
    demo = await createDrDemo({ sync: true });
  });

  after(async () => {
    await demo?.remove();
  });

  it('waits at the confirm approval until approved, and loses no committed row', async () => {
    const [s1, s2] = demo.sites;
    await demo.app('start');
    await until(async () => (await rowCount(demo, s2)) > 20, 'rows at Site 2', 20_000, 100);
    await demo.kill9(s1);
    const killedAt = Date.now();
    const running = cli(['runbook', 'run', 'site-failover', '--config', demo.config, '--confirm', 'site-failover']);
    let runId = '';
    await until(
      async () => {
        const r = await cli(['runbook', 'runs', '--json', '--config', demo.config]);
        const run = (r.json() as { id: string; status: string }[])[0];
        runId = run?.id ?? '';
        return run?.status === 'waiting';
      },
      'the run waiting for its approval',
      30_000,
      200,
    );
    assert.equal((await demo.reading(s2))?.standby, true, 'Site 2 is not promoted before the approval');
    const approved = await cli([
      'runbook',
      'approve',
      runId,
      'confirm',
      '--confirm',
      'site-failover',
      '--config',
      demo.config,
    ]);
    assert.equal(approved.code, 0, show(approved));
    const r = await running;
    assert.equal(r.code, 0, show(r));
    const m = await measured(demo, killedAt, 'site1', s2);
    assert.ok(m.oldRows > 20 && m.newRows > 0, JSON.stringify(m));
    assert.equal(m.rpoRows, 0, 'synchronous replication: every acknowledged row is at Site 2');
    console.log(
      `site-failover (synchronous, with the approval): RPO ${m.rpoRows} rows; first row at Site 2 ${((m.rtoMs ?? 0) / 1000).toFixed(2)} s after the kill`,
    );
  });
});
