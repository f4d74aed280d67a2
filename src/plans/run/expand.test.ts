// Tests of activity expansion (S3 step 5), starting with the DPOD manual's
// own example: devices QA1-QA3 backed up, TEST8's DOMAIN1 and DOMAIN2
// exported, TEST9 unavailable: exactly six tasks, the last one skipped.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Activity, Group, TargetKind } from '../../config/types.ts';
import { noMatch } from '../../drivers/no-match.ts';
import { expandActivities } from './expand.ts';
import type { InventoryTarget } from './expand.ts';

function activity(name: string, kind: 'backup' | 'export', targets: string | string[], units: string | null): Activity {
  return {
    name,
    kind,
    targets: typeof targets === 'string' ? [targets] : targets,
    retention: null,
    units,
    quiesce: false,
    quiesceTimeoutMs: 120_000,
    preTask: null,
    postTask: null,
    tags: [],
    purge: null,
    to: null,
    timeoutMs: 3_600_000,
    group: null,
    allowEmpty: false,
  };
}

/** An inventory entry that counts how often it is probed and listed. */
function target(
  name: string,
  opts: { kind?: TargetKind; up?: boolean | 'throws'; units?: string[] } = {},
): InventoryTarget & { probes: number; lists: number } {
  return {
    name,
    kind: opts.kind ?? 'device',
    probes: 0,
    lists: 0,
    async available() {
      this.probes++;
      if (opts.up === 'throws') throw new Error('connection refused');
      return (opts.up ?? true) ? { ok: true } : { ok: false, reason: 'connection refused (probe)' };
    },
    async listUnits() {
      this.lists++;
      return opts.units ?? [];
    },
  };
}

const row = (t: { seq: number; activity: Activity; target: string; unit: string | null; status: string }) => [
  t.seq,
  t.activity.name,
  t.target,
  t.unit,
  t.status,
];

describe('expandActivities', () => {
  it('a list of targets takes exactly those targets; an entry matching nothing is a failed task of its own', async () => {
    const inventory = [target('web'), target('db1'), target('db2'), target('other')];
    const listed = await expandActivities([activity('b', 'backup', ['db2', 'web'], null)], inventory);
    assert.deepEqual(listed.map(row), [
      [1, 'b', 'db2', null, 'pending'],
      [2, 'b', 'web', null, 'pending'],
    ]);
    const [gone] = await expandActivities([activity('b', 'backup', ['web', 'db9', 'db*'], null)], inventory).then(
      (t) => [t.filter((x) => x.status === 'failed')],
    );
    assert.deepEqual(
      gone!.map((t) => [t.target, t.reason]),
      [['db9', "no target matches 'db9'"]],
    );
    assert.equal(inventory.find((t) => t.name === 'other')!.probes, 0, 'a target outside the list is not probed');
  });

  it("gives the seed example's six tasks, in order, the last one skipped with the unexpanded pattern", async () => {
    const inventory = [
      target('TEST9', { up: false, units: ['DOMAIN1'] }),
      target('QA2'),
      target('QA1'),
      target('QA3'),
      target('TEST8', { units: ['OTHER', 'DOMAIN2', 'DOMAIN1'] }),
    ];
    const tasks = await expandActivities(
      [activity('secure-backup', 'backup', 'QA*', null), activity('export-domains', 'export', 'TEST[89]', 'DOMAIN*')],
      inventory,
    );
    assert.deepEqual(tasks.map(row), [
      [1, 'secure-backup', 'QA1', null, 'pending'],
      [2, 'secure-backup', 'QA2', null, 'pending'],
      [3, 'secure-backup', 'QA3', null, 'pending'],
      [4, 'export-domains', 'TEST8', 'DOMAIN1', 'pending'],
      [5, 'export-domains', 'TEST8', 'DOMAIN2', 'pending'],
      [6, 'export-domains', 'TEST9', 'DOMAIN*', 'skipped'],
    ]);
    assert.equal(tasks[5]!.reason, 'target TEST9 is unavailable: connection refused (probe)');
    assert.equal(inventory[0]!.lists, 0, 'an unavailable target is not asked for its units');
  });

  it('makes a failed task for a target pattern, a unit pattern or a target with no units that matches nothing', async () => {
    const tasks = await expandActivities(
      [
        activity('a', 'backup', 'PROD*', null),
        activity('b', 'export', 'TEST8', 'NOPE*'),
        activity('c', 'backup', 'EMPTY', null),
      ],
      [target('TEST8', { units: ['DOMAIN1', 'DOMAIN2'] }), target('EMPTY', { kind: 'command', units: [] })],
    );
    assert.deepEqual(tasks.map(row), [
      [1, 'a', 'PROD*', null, 'failed'],
      [2, 'b', 'TEST8', 'NOPE*', 'failed'],
      [3, 'c', 'EMPTY', null, 'failed'],
    ]);
    assert.equal(tasks[0]!.reason, "no target matches 'PROD*'");
    assert.equal(tasks[1]!.reason, "no unit of TEST8 matches 'NOPE*' (units: DOMAIN1, DOMAIN2)");
    assert.equal(tasks[2]!.reason, 'EMPTY has no units');
  });

  it("fails a target whose own filter matches nothing (databases: 'shopp'), naming what is there", async () => {
    const shop = target('shop-db', { kind: 'postgres' });
    shop.listUnits = async () => {
      throw noMatch('database', 'shop-db', 'shopp', ['postgres', 'shop'], ['_globals']);
    };
    const tasks = await expandActivities([activity('db', 'backup', 'shop-db', null)], [shop]);
    assert.deepEqual(tasks.map(row), [[1, 'db', 'shop-db', null, 'failed']]);
    assert.equal(tasks[0]!.reason, "no database of target shop-db matches 'shopp' (databases: postgres, shop)");
  });

  it('with allowEmpty, leaves out what matches nothing (logged, no task) and keeps what the target still has', async () => {
    const shop = target('shop-db', { kind: 'postgres' });
    shop.listUnits = async () => {
      throw noMatch('database', 'shop-db', 'shopp', ['postgres', 'shop'], ['_globals']);
    };
    const lines: string[] = [];
    const tasks = await expandActivities(
      [
        { ...activity('a', 'backup', 'PROD*', null), allowEmpty: true },
        { ...activity('b', 'export', 'TEST8', 'NOPE*'), allowEmpty: true },
        { ...activity('db', 'backup', 'shop-db', null), allowEmpty: true },
        { ...activity('down', 'backup', 'TEST9', null), allowEmpty: true },
      ],
      [target('TEST8', { units: ['DOMAIN1'] }), shop, target('TEST9', { up: false })],
      {},
      (l) => lines.push(l),
    );
    assert.deepEqual(tasks.map(row), [
      [1, 'db', 'shop-db', '_globals', 'pending'],
      [2, 'down', 'TEST9', null, 'skipped'],
    ]);
    assert.deepEqual(lines, [
      "activity a: no target matches 'PROD*'; left out (allowEmpty)",
      "activity b: no unit of TEST8 matches 'NOPE*' (units: DOMAIN1); left out (allowEmpty)",
      "activity db: no database of target shop-db matches 'shopp' (databases: postgres, shop); left out (allowEmpty)",
    ]);
  });

  it("fails a group member's named unit that does not exist, unless allowEmpty", async () => {
    const groups: Record<string, Group> = {
      app: {
        name: 'app',
        mode: 'independent',
        members: [{ target: 'DB', units: ['shop', 'shopp'] }],
        stop: null,
        start: null,
        check: null,
        cleanup: null,
      },
    };
    const inventory = [target('DB', { kind: 'postgres', units: ['_globals', 'shop'] })];
    const g = { ...activity('g', 'backup', '', null), group: 'app' };
    assert.deepEqual((await expandActivities([g], inventory, groups)).map(row), [
      [1, 'g', 'DB', 'shop', 'pending'],
      [2, 'g', 'DB', 'shopp', 'failed'],
    ]);
    const allowed = await expandActivities([{ ...g, allowEmpty: true }], inventory, groups);
    assert.deepEqual(allowed.map(row), [[1, 'g', 'DB', 'shop', 'pending']]);
  });

  it('treats a failing probe as unavailable, and probes each target once', async () => {
    const flaky = target('DB1', { up: 'throws', kind: 'command', units: ['x'] });
    const fine = target('DB2', { kind: 'command', units: ['x'] });
    const tasks = await expandActivities(
      [activity('one', 'backup', 'DB*', null), activity('two', 'backup', 'DB*', null)],
      [flaky, fine],
    );
    assert.deepEqual(tasks.map(row), [
      [1, 'one', 'DB1', null, 'skipped'],
      [2, 'one', 'DB2', 'x', 'pending'],
      [3, 'two', 'DB1', null, 'skipped'],
      [4, 'two', 'DB2', 'x', 'pending'],
    ]);
    assert.equal(flaky.probes, 1);
    assert.equal(fine.probes, 1);
    assert.equal(fine.lists, 1);
  });

  it('expands a files or command target without a unit pattern into all its units, in natural order', async () => {
    const tasks = await expandActivities(
      [activity('all', 'backup', 'web', null)],
      [target('web', { kind: 'files', units: ['logs10', 'logs2', 'etc'] })],
    );
    assert.deepEqual(
      tasks.map((t) => t.unit),
      ['etc', 'logs2', 'logs10'],
    );
  });

  it('expands 10,000 targets x 10 units quickly', async () => {
    const inventory = Array.from({ length: 10_000 }, (_, i) =>
      target(`T${i}`, { units: Array.from({ length: 10 }, (_, u) => `U${u}`) }),
    );
    const t0 = performance.now();
    const tasks = await expandActivities([activity('all', 'export', 'T*', 'U*')], inventory);
    const ms = performance.now() - t0;
    assert.equal(tasks.length, 100_000);
    assert.ok(ms < 5000, `took ${ms.toFixed(0)} ms`); // the benchmark (bench/expand-speed.ts) holds the 1 s target
  });
});
