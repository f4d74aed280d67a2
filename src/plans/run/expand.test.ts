// Tests of activity expansion (S3 step 5), starting with the DPOD manual's
// own example: devices QA1-QA3 backed up, TEST8's DOMAIN1 and DOMAIN2
// exported, TEST9 unavailable: exactly six tasks, the last one skipped.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Activity, TargetKind } from '../../config/types.ts';
import { expandActivities } from './expand.ts';
import type { InventoryTarget } from './expand.ts';

function activity(name: string, kind: 'backup' | 'export', targets: string, units: string | null): Activity {
  return {
    name,
    kind,
    targets,
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

  it('makes a skipped task for a target pattern or a unit pattern that matches nothing', async () => {
    const tasks = await expandActivities(
      [activity('a', 'backup', 'PROD*', null), activity('b', 'export', 'TEST8', 'NOPE*')],
      [target('TEST8', { units: ['DOMAIN1'] })],
    );
    assert.deepEqual(tasks.map(row), [
      [1, 'a', 'PROD*', null, 'skipped'],
      [2, 'b', 'TEST8', 'NOPE*', 'skipped'],
    ]);
    assert.equal(tasks[0]!.reason, "no target matches 'PROD*'");
    assert.equal(tasks[1]!.reason, "no unit of TEST8 matches 'NOPE*'");
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
