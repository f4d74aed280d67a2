// Plan runs with a directory destination (S2 generations: a .tar.zst per
// files unit, the stream per command or device unit, rotation), offsite copy
// activities (repository → repository, verified; directory → directory,
// closed generations only) and purge activities (retention + prune; a
// user command), all against real files, repositories and processes.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { runPlan } from '../src/plans/run/runner.ts';
import type { PlanRunResult } from '../src/plans/run/runner.ts';
import type {
  CommandTarget,
  DirectoryDestination,
  FilesTarget,
  RepositoryDestination,
  Retention,
} from '../src/config/types.ts';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { listSnapshots } from '../src/repo/snapshot.ts';
import { extractTar } from '../src/engine/directory/tar-reader.ts';
import { check as checkRepository } from '../src/engine/check/checker.ts';
import { activity, openRepo, planWorld } from './helpers/plan-fixtures.ts';
import type { PlanWorld } from './helpers/plan-fixtures.ts';
import { compareTrees } from './helpers/cli.ts';
import { runSql } from '../src/drivers/sql/sql-exec.ts';
import { randomBytes } from 'node:crypto';

const run = (w: PlanWorld, plan = 'nightly'): Promise<PlanRunResult> =>
  runPlan({ config: w.config, plan, trigger: 'on-demand', catalog: w.catalog, pollMs: 5 });
const NO_RULES: Retention = {
  keepLast: null,
  keepHourly: null,
  keepDaily: null,
  keepWeekly: null,
  keepMonthly: null,
  keepYearly: null,
  keepWithinMs: null,
};
const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

function filesTarget(w: PlanWorld): { host: FilesTarget; src: string } {
  const src = path.join(w.dir, 'src');
  fs.mkdirSync(path.join(src, 'conf.d'), { recursive: true });
  fs.writeFileSync(path.join(src, 'app.conf'), 'port = 8080\n');
  fs.writeFileSync(path.join(src, 'conf.d', 'a.conf'), 'a\n');
  fs.writeFileSync(path.join(src, 'big.bin'), Buffer.alloc(300_000, 7));
  fs.writeFileSync(path.join(src, 'skip.tmp'), 'left out\n');
  return {
    src,
    host: { kind: 'files', name: 'HOST', site: null, units: { etc: { paths: [src], exclude: ['*.tmp'] } } },
  };
}

function dump(name: string, script: string): CommandTarget {
  return {
    kind: 'command',
    name,
    site: null,
    listUnits: null,
    backup: ['sh', '-c', script],
    restore: null,
    probe: null,
    timeoutMs: 60_000,
    env: {},
  };
}

function directory(w: PlanWorld, name: string, over: Partial<DirectoryDestination> = {}): DirectoryDestination {
  const p = path.join(w.dir, name);
  fs.mkdirSync(p, { recursive: true });
  return {
    type: 'directory',
    name,
    path: p,
    generations: { keep: 2, naming: 'old' },
    requireMount: false,
    minFree: null,
    site: null,
    ...over,
  };
}

describe('directory destinations (S2)', () => {
  it('a files unit becomes <target>-<unit>.tar.zst; the previous one is kept as .old; both restore exactly', async (t) => {
    const w = await planWorld({}, { activities: [activity('files', 'backup', 'HOST', null)] });
    t.after(() => w.close());
    const { host, src } = filesTarget(w);
    const plain = directory(w, 'plain');
    Object.assign(w.config.targets, { HOST: host });
    Object.assign(w.config.destinations, { plain });
    Object.assign(w.config.plans.nightly!, { destination: 'plain' });
    const first = await run(w);
    assert.equal(first.status, 'succeeded', JSON.stringify(first));
    assert.deepEqual(
      first.tasks.map((x) => [x.unit, x.status]),
      [['etc', 'succeeded']],
    );
    assert.deepEqual(fs.readdirSync(plain.path), ['HOST-etc.tar.zst']);
    const firstSha = sha(path.join(plain.path, 'HOST-etc.tar.zst'));
    fs.writeFileSync(path.join(src, 'app.conf'), 'port = 9090\n');
    fs.rmSync(path.join(src, 'skip.tmp'));
    const second = await run(w);
    assert.equal(second.status, 'succeeded');
    assert.deepEqual(fs.readdirSync(plain.path).sort(), ['HOST-etc.tar.zst', 'HOST-etc.tar.zst.old']);
    assert.equal(sha(path.join(plain.path, 'HOST-etc.tar.zst.old')), firstSha, 'the previous generation, unchanged');
    const out = path.join(w.dir, 'restored');
    await extractTar(fs.createReadStream(path.join(plain.path, 'HOST-etc.tar.zst')), out);
    const restored = path.join(out, src.slice(1));
    assert.deepEqual(compareTrees(src, restored), []);
    const old = path.join(w.dir, 'old');
    await extractTar(fs.createReadStream(path.join(plain.path, 'HOST-etc.tar.zst.old')), old);
    assert.equal(fs.readFileSync(path.join(old, src.slice(1), 'app.conf'), 'utf8'), 'port = 8080\n');
    assert.ok(!fs.existsSync(path.join(old, src.slice(1), 'skip.tmp')), 'excludes apply');
  });

  it('a command unit is written as its raw stream; numbered generations keep 3', async (t) => {
    const w = await planWorld({}, { activities: [activity('dump', 'backup', 'DB', null)] });
    t.after(() => w.close());
    const counter = path.join(w.dir, 'n');
    fs.writeFileSync(counter, '0');
    Object.assign(w.config.targets, {
      DB: dump('DB', `n=$(($(cat ${counter})+1)); echo $n > ${counter}; echo "dump number $n"`),
    });
    const plain = directory(w, 'dumps', { generations: { keep: 3, naming: 'numbered' } });
    Object.assign(w.config.destinations, { dumps: plain });
    Object.assign(w.config.plans.nightly!, { destination: 'dumps' });
    for (let i = 0; i < 4; i++) assert.equal((await run(w)).status, 'succeeded');
    assert.deepEqual(fs.readdirSync(plain.path).sort(), ['DB-default.bak', 'DB-default.bak.1', 'DB-default.bak.2']);
    assert.deepEqual(
      ['DB-default.bak', 'DB-default.bak.1', 'DB-default.bak.2'].map((f) =>
        fs.readFileSync(path.join(plain.path, f), 'utf8'),
      ),
      ['dump number 4\n', 'dump number 3\n', 'dump number 2\n'],
    );
  });

  it('a dump that fails midway leaves the previous generation under the final name and no temporary', async (t) => {
    const w = await planWorld({}, { activities: [activity('dump', 'backup', 'DB', null)] });
    t.after(() => w.close());
    const fail = path.join(w.dir, 'fail');
    Object.assign(w.config.targets, { DB: dump('DB', `head -c 100000 /dev/zero; if [ -e ${fail} ]; then exit 3; fi`) });
    const plain = directory(w, 'dumps');
    Object.assign(w.config.destinations, { dumps: plain });
    Object.assign(w.config.plans.nightly!, { destination: 'dumps' });
    assert.equal((await run(w)).status, 'succeeded');
    const good = sha(path.join(plain.path, 'DB-default.bak'));
    fs.writeFileSync(fail, '');
    const bad = await run(w);
    assert.equal(bad.status, 'failed');
    assert.match(bad.tasks[0]!.reason!, /backup of default exited with 3/);
    assert.deepEqual(fs.readdirSync(plain.path), ['DB-default.bak'], 'no .old made, no temporary left');
    assert.equal(sha(path.join(plain.path, 'DB-default.bak')), good);
  });
});

describe('copy activities (S2 offsite copy)', () => {
  it("copies the unit's snapshots to another repository and verifies them; a second run copies nothing again", async (t) => {
    const w = await planWorld({}, { activities: [activity('files', 'backup', 'HOST', null)] });
    t.after(() => w.close());
    const { host, src } = filesTarget(w);
    const offPath = path.join(w.dir, 'offsite');
    await Repository.init(new LocalBackend(offPath), 'offsite pw', { kdf: { N: 1024, r: 8, p: 1 } });
    const offsite: RepositoryDestination = {
      type: 'repository',
      name: 'offsite',
      path: offPath,
      location: offPath,
      remote: null,
      backendOptions: {},
      password: { source: 'inline', value: 'offsite pw' },
      requireMount: false,
      minFree: null,
      site: null,
    };
    Object.assign(w.config.targets, { HOST: host });
    Object.assign(w.config.destinations, { offsite });
    const base = w.config.plans.nightly!;
    Object.assign(w.config.plans, {
      copy: {
        ...base,
        name: 'copy',
        activities: [activity('offsite', 'copy', 'HOST', null, { to: 'offsite', purge: null })],
      },
    });
    assert.equal((await run(w)).status, 'succeeded');
    fs.writeFileSync(path.join(src, 'app.conf'), 'port = 9090\n');
    assert.equal((await run(w)).status, 'succeeded');
    const c1 = await run(w, 'copy');
    assert.equal(c1.status, 'succeeded', JSON.stringify(c1));
    assert.equal(c1.tasks[0]!.snapshots.length, 2);
    assert.match(c1.tasks[0]!.reason!, /^2 snapshot\(s\) copied to offsite and verified, 0 already there$/);
    const dst = await Repository.open(new LocalBackend(offPath), 'offsite pw');
    const copied = await listSnapshots(dst);
    assert.deepEqual(copied.map((s) => s.id).sort(), [...c1.tasks[0]!.snapshots].sort());
    const report = await checkRepository(dst, { readData: true });
    assert.deepEqual(report.errors, []);
    const c2 = await run(w, 'copy');
    assert.equal(c2.status, 'succeeded');
    assert.deepEqual(c2.tasks[0]!.snapshots, []);
    assert.match(c2.tasks[0]!.reason!, /^0 snapshot\(s\) copied to offsite and verified, 2 already there$/);
  });

  it("a copy's own retention keeps only what its rules keep at the destination; the source keeps all, nothing comes back", async (t) => {
    const w = await planWorld({}, { activities: [activity('files', 'backup', 'HOST', null)] });
    t.after(() => w.close());
    const { host, src } = filesTarget(w);
    const offPath = path.join(w.dir, 'offsite');
    await Repository.init(new LocalBackend(offPath), 'offsite pw', { kdf: { N: 1024, r: 8, p: 1 } });
    const offsite: RepositoryDestination = {
      type: 'repository',
      name: 'offsite',
      path: offPath,
      location: offPath,
      remote: null,
      backendOptions: {},
      password: { source: 'inline', value: 'offsite pw' },
      requireMount: false,
      minFree: null,
      site: null,
    };
    Object.assign(w.config.targets, { HOST: host });
    Object.assign(w.config.destinations, { offsite });
    const keep: Retention = { ...NO_RULES, keepLast: 2 };
    const base = w.config.plans.nightly!;
    Object.assign(w.config.plans, {
      copy: {
        ...base,
        name: 'copy',
        activities: [activity('offsite', 'copy', 'HOST', null, { to: 'offsite', purge: null, retention: keep })],
      },
    });
    const backup = async (n: number) => {
      fs.writeFileSync(path.join(src, 'app.conf'), `port = ${n}\n`);
      assert.equal((await run(w)).status, 'succeeded');
    };
    for (const n of [1, 2, 3]) await backup(n);
    const c1 = await run(w, 'copy');
    assert.equal(c1.status, 'succeeded', JSON.stringify(c1));
    assert.match(
      c1.tasks[0]!.reason!,
      /^2 snapshot\(s\) copied to offsite and verified, 0 already there, 0 forgotten there/,
    );
    await backup(4);
    const c2 = await run(w, 'copy');
    assert.match(
      c2.tasks[0]!.reason!,
      /^1 snapshot\(s\) copied to offsite and verified, 1 already there, 1 forgotten there/,
    );
    const source = await listSnapshots(await openRepo(w));
    assert.equal(source.length, 4, "the plan's own snapshots are not touched");
    const newest = source
      .sort((a, b) => b.time.localeCompare(a.time))
      .slice(0, 2)
      .map((s) => s.id);
    const there = async () => {
      const dst = await Repository.open(new LocalBackend(offPath), 'offsite pw');
      return (await listSnapshots(dst)).map((s) => s.original).sort();
    };
    assert.deepEqual(await there(), [...newest].sort(), 'the destination holds the two newest');
    const c3 = await run(w, 'copy');
    assert.match(c3.tasks[0]!.reason!, /^0 snapshot\(s\) copied to offsite and verified, 2 already there, 0 forgotten/);
    assert.deepEqual(await there(), [...newest].sort(), 'what the rules dropped is not copied again');
  });

  it('between directory destinations, copies closed generations only, never a temporary', async (t) => {
    const w = await planWorld({}, { activities: [activity('dump', 'backup', 'DB', null)] });
    t.after(() => w.close());
    Object.assign(w.config.targets, { DB: dump('DB', 'echo dump') });
    const plain = directory(w, 'dumps');
    const far = directory(w, 'far');
    Object.assign(w.config.destinations, { dumps: plain, far });
    const base = { ...w.config.plans.nightly!, destination: 'dumps' };
    Object.assign(w.config.plans, {
      nightly: base,
      copy: {
        ...base,
        name: 'copy',
        activities: [activity('offsite', 'copy', 'DB', null, { to: 'far', purge: null })],
      },
    });
    assert.equal((await run(w)).status, 'succeeded');
    assert.equal((await run(w)).status, 'succeeded');
    fs.writeFileSync(path.join(plain.path, 'DB-default.bak.tmp-deadbeef'), 'partial');
    const c = await run(w, 'copy');
    assert.equal(c.status, 'succeeded', JSON.stringify(c));
    assert.deepEqual(fs.readdirSync(far.path).sort(), ['DB-default.bak', 'DB-default.bak.old']);
    assert.equal(fs.readFileSync(path.join(far.path, 'DB-default.bak'), 'utf8'), 'dump\n');
  });

  it('a copy whose destination is missing (an offsite disk not mounted) fails with the reason and writes nothing', async (t) => {
    const w = await planWorld({}, { activities: [activity('dump', 'backup', 'DB', null)] });
    t.after(() => w.close());
    Object.assign(w.config.targets, { DB: dump('DB', 'echo dump') });
    const plain = directory(w, 'dumps');
    const far = { ...directory(w, 'far'), path: path.join(w.dir, 'not-mounted', 'far') };
    Object.assign(w.config.destinations, { dumps: plain, far });
    const base = { ...w.config.plans.nightly!, destination: 'dumps' };
    Object.assign(w.config.plans, {
      nightly: base,
      copy: {
        ...base,
        name: 'copy',
        activities: [activity('offsite', 'copy', 'DB', null, { to: 'far', purge: null })],
      },
    });
    assert.equal((await run(w)).status, 'succeeded');
    const c = await run(w, 'copy');
    assert.equal(c.status, 'failed');
    assert.equal(c.tasks[0]!.reason, `destination far (${far.path}) is not reachable: ENOENT`);
    assert.ok(!fs.existsSync(far.path), 'not created');
  });
});

describe('purge activities (S5)', () => {
  const keepLast2: Retention = {
    keepLast: 2,
    keepHourly: null,
    keepDaily: null,
    keepWeekly: null,
    keepMonthly: null,
    keepYearly: null,
    keepWithinMs: null,
  };

  it("retention forgets the unit's old snapshots and prunes; kept snapshots stay whole; other units are untouched", async (t) => {
    const w = await planWorld({}, { activities: [activity('dump', 'backup', 'DB', null)] });
    t.after(() => w.close());
    const counter = path.join(w.dir, 'n');
    fs.writeFileSync(counter, '0');
    // Each dump is 400 kB of fresh random data, so forgetting one frees space.
    Object.assign(w.config.targets, {
      DB: dump('DB', `n=$(($(cat ${counter})+1)); echo $n > ${counter}; head -c 400000 /dev/urandom`),
      LOG: dump('LOG', 'echo the log'),
    });
    Object.assign(w.config.plans.nightly!, {
      activities: [activity('dump', 'backup', '*', null)],
      retention: keepLast2,
    });
    const base = w.config.plans.nightly!;
    Object.assign(w.config.plans, {
      purge: { ...base, name: 'purge', retention: keepLast2, activities: [activity('purge', 'purge', 'DB', null)] },
    });
    const made: string[][] = [];
    for (let i = 0; i < 4; i++) made.push((await run(w)).tasks[0]!.snapshots);
    const before = fs.readdirSync(path.join(w.repoPath, 'data'), { recursive: true }).length;
    const p = await run(w, 'purge');
    assert.equal(p.status, 'succeeded', JSON.stringify(p));
    assert.match(p.tasks[0]!.reason!, /^forgot 2 of 4 snapshot\(s\), freed \d/);
    const repo = await openRepo(w);
    const left = await listSnapshots(repo);
    const db = left
      .filter((s) => s.tags.includes('target:DB'))
      .map((s) => s.id)
      .sort();
    assert.deepEqual(db, [made[2]![0]!, made[3]![0]!].sort(), 'the two newest are kept');
    assert.equal(left.filter((s) => s.tags.includes('target:LOG')).length, 4, 'another target is not purged');
    const report = await checkRepository(repo, { readData: true });
    assert.deepEqual(report.errors, []);
    assert.ok(
      fs.readdirSync(path.join(w.repoPath, 'data'), { recursive: true }).length < before,
      'pack files were removed',
    );
    // After the prune, a backup in the same process stores its data again correctly.
    const again = await run(w);
    assert.equal(again.status, 'succeeded');
    assert.deepEqual((await checkRepository(await openRepo(w), { readData: true })).errors, []);
  });

  it('a command purge runs with the scope in its environment; a non-zero exit fails the task', async (t) => {
    const w = await planWorld({}, { activities: [activity('purge', 'purge', 'DB', null)] });
    t.after(() => w.close());
    const out = path.join(w.dir, 'purged');
    Object.assign(w.config.targets, { DB: dump('DB', 'echo x') });
    const purge = (code: number) =>
      activity('purge', 'purge', 'DB', null, {
        purge: {
          type: 'command',
          command: ['sh', '-c', `echo "$SAFEHOLD_TARGET/$SAFEHOLD_UNIT" >> ${out}; exit ${code}`],
          timeoutMs: 10_000,
        },
      });
    Object.assign(w.config.plans.nightly!, { activities: [purge(0)] });
    const ok = await run(w);
    assert.equal(ok.status, 'succeeded');
    assert.equal(fs.readFileSync(out, 'utf8'), 'DB/default\n');
    Object.assign(w.config.plans.nightly!, { activities: [purge(4)] });
    const bad = await run(w);
    assert.equal(bad.status, 'failed');
    assert.equal(bad.tasks[0]!.reason, 'the purge command exited with 4');
    // A command target's env (its credentials) reaches its purge.
    (w.config.targets.DB as { env: Record<string, { source: string; value: string }> }).env = {
      PGPASSWORD: { source: 'inline', value: 's3cret-pg' },
    };
    Object.assign(w.config.plans.nightly!, {
      activities: [
        activity('purge', 'purge', 'DB', null, {
          purge: { type: 'command', command: ['sh', '-c', `echo "pw=$PGPASSWORD" >> ${out}`], timeoutMs: 10_000 },
        }),
      ],
    });
    assert.equal((await run(w)).status, 'succeeded');
    assert.equal(fs.readFileSync(out, 'utf8').split('\n').at(-2), 'pw=s3cret-pg');
  });

  it("an SQL purge runs its statement on each unit's database ({unit} in the URL) and reports the rows removed", async (t) => {
    const tag = randomBytes(4).toString('hex');
    const names = ['a', 'b'].map((x) => `safehold_purge_${x}_${tag}`); // units expand in name order
    const T = { timeoutMs: 10_000 };
    for (const [i, db] of names.entries()) {
      await runSql('postgres://postgres@127.0.0.1:5432/postgres', `CREATE DATABASE ${db}`, T);
      await runSql(
        `postgres://postgres@127.0.0.1:5432/${db}`,
        `CREATE TABLE log (at timestamptz); INSERT INTO log SELECT now() - (g || ' days')::interval FROM generate_series(0, ${9 + i * 10}) g`,
        T,
      );
    }
    t.after(async () => {
      for (const db of names)
        await runSql('postgres://postgres@127.0.0.1:5432/postgres', `DROP DATABASE IF EXISTS ${db}`, T);
    });
    const w = await planWorld({}, { activities: [] });
    t.after(() => w.close());
    Object.assign(w.config.targets, {
      PG: { ...dump('PG', 'true'), listUnits: ['printf', `${names[0]}\n${names[1]}\n`] },
    });
    const sql = (stmt: string) =>
      activity('purge', 'purge', 'PG', '*', {
        purge: {
          type: 'sql',
          sql: stmt,
          database: { source: 'inline', value: 'postgres://postgres:not-shown@127.0.0.1:5432/{unit}' },
          timeoutMs: 10_000,
        },
      });
    // Rows are 0..9 (and 0..19) days old when inserted; the one of exactly 7 days is older than that by the time the purge runs.
    Object.assign(w.config.plans.nightly!, {
      activities: [sql("DELETE FROM log WHERE at < now() - interval '7 days'")],
    });
    const r = await run(w);
    assert.equal(r.status, 'succeeded', JSON.stringify(r.tasks));
    assert.deepEqual(
      r.tasks.map((x) => [x.unit, x.reason]),
      [
        [names[0], '3 row(s) purged'],
        [names[1], '13 row(s) purged'],
      ],
    );
    const log = w.catalog
      .planRuns()
      .logLines(r.id)
      .map((l) => l.message)
      .join('\n');
    assert.ok(
      log.includes(`purge statement on postgres://postgres:***@127.0.0.1:5432/${names[0]} changed 3 row(s)`),
      log,
    );
    assert.ok(!log.includes('not-shown'));
    Object.assign(w.config.plans.nightly!, { activities: [sql('DELETE FROM nothing_here')] });
    const bad = await run(w);
    assert.equal(bad.status, 'failed');
    assert.match(
      bad.tasks[0]!.reason!,
      /^purge statement failed: postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/safehold_purge_\w+: relation "nothing_here" does not exist$/,
    );
  });
});
