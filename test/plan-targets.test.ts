// Plan runs over the other target kinds (SPEC S8): `command` targets (a
// program's stdout stored as a stream, units listed by a program, a live
// probe), `files` targets (named path sets, incremental on the next run), and
// a `device` reached through the command adapter (appliance-cli.ts), each
// end to end through runPlan into a real repository.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runPlan } from '../src/plans/run/runner.ts';
import type { CommandTarget, FilesTarget, Secret } from '../src/config/types.ts';
import { listSnapshots } from '../src/repo/snapshot.ts';
import { check } from '../src/engine/check/checker.ts';
import { applianceBackupContent } from './helpers/appliance-server.ts';
import { startApplianceCli } from './helpers/appliance-cli.ts';
import { activity, openRepo, planWorld, quiesceRecords, stepsLogged, streamContent } from './helpers/plan-fixtures.ts';
import type { PlanWorld } from './helpers/plan-fixtures.ts';

function run(w: PlanWorld) {
  return runPlan({ config: w.config, plan: 'nightly', trigger: 'on-demand', catalog: w.catalog, pollMs: 20 });
}

function commandTarget(name: string, over: Partial<CommandTarget> = {}): CommandTarget {
  return {
    kind: 'command',
    name,
    site: null,
    listUnits: null,
    backup: ['sh', '-c', 'printf "dump of $SAFEHOLD_UNIT"'],
    restore: null,
    probe: null,
    timeoutMs: 10_000,
    env: {},
    ...over,
  };
}

const sh = (script: string) => ['sh', '-c', script];

describe('plan targets: command', () => {
  it("backs up each listed unit: the snapshot holds exactly the program's stdout", async (t) => {
    const db = commandTarget('DB', {
      listUnits: sh('printf "alpha\\nbig\\nbeta\\n"'),
      probe: sh('exit 0'),
      backup: sh(
        'if [ "$SAFEHOLD_UNIT" = big ]; then seq 1 300000; else printf "dump of $SAFEHOLD_UNIT for $SAFEHOLD_TARGET"; fi',
      ),
    });
    const w = await planWorld(
      {},
      { activities: [activity('dump', 'backup', 'DB', null, { tags: ['db'] })] },
      { targets: { DB: db } },
    );
    t.after(() => w.close());
    const r = await run(w);
    assert.equal(r.status, 'succeeded');
    assert.deepEqual(
      r.tasks.map((x) => [x.target, x.unit, x.status, x.snapshots.length]),
      [
        ['DB', 'alpha', 'succeeded', 1],
        ['DB', 'beta', 'succeeded', 1],
        ['DB', 'big', 'succeeded', 1],
      ],
    );
    const repo = await openRepo(w);
    const alpha = await streamContent(repo, r.tasks[0]!.snapshots[0]!);
    assert.equal(alpha.bytes.toString(), 'dump of alpha for DB');
    assert.equal(alpha.name, 'DB-alpha.bak');
    assert.deepEqual(
      alpha.snapshot.tags,
      ['plan:nightly', 'target:DB', 'unit:alpha', 'db', `run:${r.id}`],
      'no state tag for a command target',
    );
    assert.equal((await streamContent(repo, r.tasks[1]!.snapshots[0]!)).bytes.toString(), 'dump of beta for DB');
    const big = await streamContent(repo, r.tasks[2]!.snapshots[0]!);
    const want = `${Array.from({ length: 300000 }, (_, i) => i + 1).join('\n')}\n`;
    assert.equal(big.bytes.length, Buffer.byteLength(want));
    assert.ok(big.bytes.equals(Buffer.from(want)), 'a multi-chunk stream, byte for byte');
    assert.equal(big.snapshot.summary.totalSize, big.bytes.length);
    assert.deepEqual(stepsLogged(w, r.id, r.tasks[0]!.id), [1, 2, 8]);
  });

  it('a backup program exiting non-zero fails its task and writes no snapshot; the next task still runs', async (t) => {
    const broken = commandTarget('DB1', { backup: sh('printf "half a dump"; echo "disk on fire" >&2; exit 5') });
    const ok = commandTarget('DB2');
    const w = await planWorld(
      {},
      { activities: [activity('dump', 'backup', 'DB*', null)] },
      { targets: { DB1: broken, DB2: ok } },
    );
    t.after(() => w.close());
    const r = await run(w);
    assert.deepEqual(
      r.tasks.map((x) => [x.target, x.unit, x.status]),
      [
        ['DB1', 'default', 'failed'],
        ['DB2', 'default', 'succeeded'],
      ],
    );
    assert.equal(r.tasks[0]!.reason, 'DB1: backup of default exited with 5: disk on fire');
    assert.deepEqual(r.tasks[0]!.snapshots, []);
    assert.equal(r.status, 'partial');
    const repo = await openRepo(w);
    const snaps = await listSnapshots(repo);
    assert.deepEqual(
      snaps.map((s) => s.id),
      r.tasks[1]!.snapshots,
      'only the good dump is a snapshot',
    );
    assert.ok(!snaps.some((s) => s.tags.includes('target:DB1')));
    const c = await check(repo, { readData: true });
    assert.deepEqual(c.errors, [], 'the repository is consistent after the failed dump');
  });

  it('a probe exiting non-zero makes the target unavailable: one skipped task, nothing listed or run', async (t) => {
    const w = await planWorld({}, { activities: [] });
    t.after(() => w.close());
    const ran = path.join(w.dir, 'ran');
    const db = commandTarget('DB', {
      probe: sh(`echo probed >> '${ran}'; exit 1`),
      listUnits: sh(`echo listed >> '${ran}'; echo one`),
      backup: sh(`echo backed-up >> '${ran}'`),
    });
    Object.assign(w.config.targets, { DB: db });
    Object.assign(w.config.plans.nightly!, { activities: [activity('dump', 'backup', 'DB', 'one')] });
    const r = await run(w);
    assert.equal(r.status, 'skipped');
    assert.deepEqual(
      r.tasks.map((x) => [x.target, x.unit, x.status, x.reason]),
      [['DB', 'one', 'skipped', 'target DB is unavailable: DB: the probe exited with 1']],
    );
    assert.equal(fs.readFileSync(ran, 'utf8'), 'probed\n');
  });
});

describe('plan targets: files', () => {
  it('backs up two path sets as two snapshots; the next run is incremental', async (t) => {
    const w = await planWorld({}, { activities: [] });
    t.after(() => w.close());
    const etc = path.join(w.dir, 'src', 'etc');
    const home = path.join(w.dir, 'src', 'home');
    fs.mkdirSync(path.join(etc, 'conf.d'), { recursive: true });
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(path.join(etc, 'app.conf'), 'port = 8080\n');
    fs.writeFileSync(path.join(etc, 'conf.d', 'a.conf'), 'a\n');
    fs.writeFileSync(path.join(etc, 'conf.d', 'b.conf'), 'b\n');
    fs.writeFileSync(path.join(home, 'notes.txt'), 'x'.repeat(100_000));
    fs.writeFileSync(path.join(home, 'todo.txt'), 'todo\n');
    fs.writeFileSync(path.join(home, 'scratch.tmp'), 'excluded\n');
    const host: FilesTarget = {
      kind: 'files',
      name: 'HOST',
      site: null,
      units: { etc: { paths: [etc], exclude: [] }, home: { paths: [home], exclude: ['*.tmp'] } },
    };
    Object.assign(w.config.targets, { HOST: host });
    Object.assign(w.config.plans.nightly!, { activities: [activity('files', 'backup', 'HOST', null)] });

    const first = await run(w);
    assert.equal(first.status, 'succeeded');
    assert.deepEqual(
      first.tasks.map((x) => [x.unit, x.status, x.snapshots.length]),
      [
        ['etc', 'succeeded', 1],
        ['home', 'succeeded', 1],
      ],
    );
    const second = await run(w);
    assert.equal(second.status, 'succeeded');

    const repo = await openRepo(w);
    const snaps = new Map((await listSnapshots(repo)).map((s) => [s.id, s]));
    assert.equal(snaps.size, 4);
    const [etc1, home1] = first.tasks.map((x) => snaps.get(x.snapshots[0]!)!);
    const [etc2, home2] = second.tasks.map((x) => snaps.get(x.snapshots[0]!)!);
    assert.equal(etc1!.kind, 'files');
    assert.deepEqual(etc1!.paths, [etc]);
    assert.deepEqual(etc1!.tags, ['plan:nightly', 'target:HOST', 'unit:etc', `run:${first.id}`]);
    assert.deepEqual(home1!.excludes, ['*.tmp']);
    assert.deepEqual([etc1!.summary.filesNew, etc1!.summary.totalFiles], [3, 3]);
    assert.deepEqual([home1!.summary.filesNew, home1!.summary.totalFiles], [2, 2], 'the *.tmp file is excluded');
    // The second run found each unit's previous snapshot as its parent: nothing re-read.
    assert.equal(etc2!.parent, etc1!.id);
    assert.equal(home2!.parent, home1!.id);
    assert.deepEqual([etc2!.summary.filesUnchanged, etc2!.summary.filesNew, etc2!.summary.filesChanged], [3, 0, 0]);
    assert.deepEqual([home2!.summary.filesUnchanged, home2!.summary.filesNew, home2!.summary.filesChanged], [2, 0, 0]);
    assert.equal(home1!.summary.bytesRead, 100_005);
    assert.deepEqual([etc2!.summary.bytesRead, home2!.summary.bytesRead], [0, 0], 'no file was read again');
  });
});

describe('plan targets: device through the command adapter', () => {
  it('exports a unit with unsaved changes through appliance-cli: quiesce, two exports, unquiesce', async (t) => {
    const cli = startApplianceCli({ name: 'CLI8', units: { DOMAIN1: { unsaved: true }, DOMAIN2: {} } });
    t.after(() => cli.close());
    const env: Record<string, Secret> = Object.fromEntries(
      Object.entries(cli.env).map(([k, v]) => [k, { source: 'inline', value: v }]),
    );
    const w = await planWorld(
      {},
      { activities: [activity('export', 'export', 'CLI8', 'DOMAIN1', { quiesce: true, quiesceTimeoutMs: 2000 })] },
      {
        targets: {
          CLI8: {
            kind: 'device',
            name: 'CLI8',
            site: null,
            adapter: { type: 'command', command: cli.command, timeoutMs: 20_000, env },
          },
        },
      },
    );
    t.after(() => w.close());
    const r = await run(w);
    assert.deepEqual(
      r.tasks.map((x) => [x.target, x.unit, x.status, x.reason, x.snapshots.length]),
      [['CLI8', 'DOMAIN1', 'succeeded', null, 2]],
    );
    const calls = cli.read().calls;
    assert.deepEqual(
      calls
        .filter((c) => c.op !== 'state')
        .map((c) => `${c.op}${c.unit ? ` ${c.unit}` : ''}${c.state ? ` ${c.state}` : ''}`),
      [
        'health',
        'units',
        'unsaved DOMAIN1',
        'quiesce DOMAIN1',
        'backup DOMAIN1 persisted',
        'backup DOMAIN1 running',
        'unquiesce DOMAIN1',
      ],
    );
    assert.ok(
      calls.every((c) => c.status < 400),
      'the token was accepted',
    );
    assert.equal(cli.read().units.DOMAIN1!.quiesce, 'active');
    const repo = await openRepo(w);
    for (const [i, state] of (['persisted', 'running'] as const).entries()) {
      const s = await streamContent(repo, r.tasks[0]!.snapshots[i]!);
      assert.ok(
        s.bytes.equals(
          applianceBackupContent('CLI8', { unit: 'DOMAIN1', kind: 'export', state }, cli.read().exportBytes),
        ),
        `${state} bytes`,
      );
      assert.ok(s.snapshot.tags.includes(`state:${state}`));
    }
    assert.deepEqual(
      quiesceRecords(w).map((q) => [q.target, q.unit, q.outcome]),
      [['CLI8', 'DOMAIN1', 'unquiesced']],
    );
  });
});
