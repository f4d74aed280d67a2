// Retention policy selection: exact kept sets for a hand-written calendar
// around the 2024 daylight-saving changes in Europe/Berlin (compared with
// UTC), grouping, reasons, and properties checked with fast-check.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { applyRetention, isEmptyPolicy, isoWeek } from './retention.ts';
import type { GroupField, RetentionPolicy } from './retention.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { snapshotRecord } from '../../../test/helpers/snapshot-record.ts';

const NONE: RetentionPolicy = {
  keepLast: null,
  keepHourly: null,
  keepDaily: null,
  keepWeekly: null,
  keepMonthly: null,
  keepYearly: null,
  keepWithinMs: null,
};
const DAY = 86_400_000;

function snap(id: string, time: string, over: Partial<SnapshotWithId> = {}): SnapshotWithId {
  return { ...snapshotRecord({ time, ...over }), id };
}

// Around the end of summer time in Berlin (2024-10-27 03:00 CEST → 02:00 CET) and the new year.
const FALL = [
  snap('s1', '2024-10-26T21:30:00.000Z'), // Sat 26 Oct 23:30 CEST
  snap('s2', '2024-10-26T22:30:00.000Z'), // Sun 27 Oct 00:30 CEST (UTC: still the 26th)
  snap('s3', '2024-10-27T00:15:00.000Z'), // Sun 27 Oct 02:15 CEST, the first 02:xx
  snap('s4', '2024-10-27T01:15:00.000Z'), // Sun 27 Oct 02:15 CET, the same wall-clock hour again
  snap('s5', '2024-10-27T23:30:00.000Z'), // Mon 28 Oct 00:30 CET: ISO week 44 starts
  snap('s6', '2024-10-28T10:00:00.000Z'), // Mon 28 Oct 11:00
  snap('s7', '2024-11-01T08:00:00.000Z'), // Fri 1 Nov 09:00
  snap('s8', '2024-12-31T23:30:00.000Z'), // Wed 1 Jan 2025 00:30 (UTC: still 2024)
  snap('s9', '2025-01-01T10:00:00.000Z'), // Wed 1 Jan 2025 11:00
];

function keptIds(snaps: SnapshotWithId[], p: Partial<RetentionPolicy>, timezone: string): string[] {
  const { groups } = applyRetention(snaps, { ...NONE, ...p }, { timezone });
  assert.equal(groups.length, 1);
  return groups[0]!.keep.map((k) => k.snapshot.id);
}

describe('retention on a calendar around a DST change', () => {
  it('keepLast keeps the n newest', () => {
    assert.deepEqual(keptIds(FALL, { keepLast: 2 }, 'Europe/Berlin'), ['s9', 's8']);
  });

  it('keepDaily counts days in the time zone, newest snapshot of each', () => {
    assert.deepEqual(keptIds(FALL, { keepDaily: 3 }, 'Europe/Berlin'), ['s9', 's7', 's6']);
    assert.deepEqual(keptIds(FALL, { keepDaily: 3 }, 'UTC'), ['s9', 's8', 's7']);
    assert.deepEqual(keptIds(FALL, { keepDaily: 5 }, 'Europe/Berlin'), ['s9', 's7', 's6', 's4', 's1']);
  });

  it('keepHourly: the repeated 02:00 hour of the change is one wall-clock bucket; the oldest is kept while counts remain', () => {
    assert.deepEqual(keptIds(FALL, { keepHourly: 100 }, 'Europe/Berlin'), [
      's9',
      's8',
      's7',
      's6',
      's5',
      's4',
      's2',
      's1',
    ]);
    assert.deepEqual(keptIds(FALL, { keepHourly: 100 }, 'UTC'), ['s9', 's8', 's7', 's6', 's5', 's4', 's3', 's2', 's1']);
  });

  it('keepWeekly uses ISO weeks (Monday first) of the local date', () => {
    assert.deepEqual(keptIds(FALL, { keepWeekly: 2 }, 'Europe/Berlin'), ['s9', 's7']);
    assert.deepEqual(keptIds(FALL, { keepWeekly: 3 }, 'Europe/Berlin'), ['s9', 's7', 's4']);
    // In UTC s5 (23:30 on Sunday) is still in week 43; s8 (Tue 31 Dec) is in 2025-W01 like s9.
    assert.deepEqual(keptIds(FALL, { keepWeekly: 3 }, 'UTC'), ['s9', 's7', 's5']);
  });

  it('keepMonthly and keepYearly', () => {
    assert.deepEqual(keptIds(FALL, { keepMonthly: 2 }, 'Europe/Berlin'), ['s9', 's7']);
    assert.deepEqual(keptIds(FALL, { keepYearly: 2 }, 'Europe/Berlin'), ['s9', 's7']);
    assert.deepEqual(keptIds(FALL, { keepYearly: 2 }, 'UTC'), ['s9', 's8']);
    assert.deepEqual(
      keptIds(FALL, { keepYearly: 5 }, 'Europe/Berlin'),
      ['s9', 's7', 's1'],
      'two years only: the oldest is kept too',
    );
  });

  it('keepWithin is measured from the newest snapshot of the group, not from now', () => {
    assert.deepEqual(keptIds(FALL, { keepWithinMs: DAY }, 'Europe/Berlin'), ['s9', 's8']);
    assert.deepEqual(keptIds(FALL, { keepWithinMs: 62 * DAY }, 'UTC'), ['s9', 's8', 's7']);
    assert.deepEqual(
      keptIds(FALL, { keepWithinMs: 65 * DAY }, 'UTC'),
      ['s9', 's8', 's7', 's6'],
      's6 is exactly 65 days older: the bound is inclusive',
    );
  });

  it('rules combine, and every kept snapshot lists all its reasons', () => {
    const { groups } = applyRetention(
      FALL,
      { ...NONE, keepLast: 1, keepDaily: 2, keepMonthly: 3 },
      { timezone: 'Europe/Berlin' },
    );
    assert.deepEqual(
      groups[0]!.keep.map((k) => [k.snapshot.id, k.reasons]),
      [
        ['s9', ['last', 'daily', 'monthly']],
        ['s7', ['daily', 'monthly']],
        ['s6', ['monthly']],
      ],
    );
    assert.deepEqual(
      groups[0]!.remove.map((s) => s.id),
      ['s8', 's5', 's4', 's3', 's2', 's1'],
    );
  });

  it('the start of summer time moves day boundaries by the zone offset', () => {
    const spring = [
      snap('a', '2024-03-30T22:30:00.000Z'), // Sat 30 Mar 23:30 CET
      snap('b', '2024-03-30T23:30:00.000Z'), // Sun 31 Mar 00:30 CET
      snap('c', '2024-03-31T21:30:00.000Z'), // Sun 31 Mar 23:30 CEST (a 23-hour day)
      snap('d', '2024-03-31T22:30:00.000Z'), // Mon 1 Apr 00:30 CEST
    ];
    assert.deepEqual(keptIds(spring, { keepDaily: 10 }, 'Europe/Berlin'), ['d', 'c', 'a']);
    assert.deepEqual(keptIds(spring, { keepDaily: 10 }, 'UTC'), ['d', 'b', 'a']);
  });

  it('ISO week numbers at year boundaries', () => {
    assert.deepEqual(isoWeek(2024, 12, 30), [2025, 1]);
    assert.deepEqual(isoWeek(2021, 1, 3), [2020, 53]);
    assert.deepEqual(isoWeek(2026, 1, 1), [2026, 1]);
    assert.deepEqual(isoWeek(2024, 10, 27), [2024, 43]);
    assert.deepEqual(isoWeek(2024, 10, 28), [2024, 44]);
  });
});

describe('retention groups and empty policies', () => {
  const mixed = [
    snap('a1', '2025-01-01T00:00:00.000Z', { hostname: 'a', paths: ['/x', '/y'] }),
    snap('a2', '2025-01-02T00:00:00.000Z', { hostname: 'a', paths: ['/y', '/x'] }),
    snap('a3', '2025-01-03T00:00:00.000Z', { hostname: 'a', paths: ['/x', '/y'], tags: ['db'] }),
    snap('b1', '2025-01-04T00:00:00.000Z', { hostname: 'b', paths: ['/x', '/y'] }),
  ];

  it('groups by host, paths (as a set) and tags by default', () => {
    const { groups } = applyRetention(mixed, { ...NONE, keepLast: 1 }, { timezone: 'UTC' });
    assert.deepEqual(
      groups.map((g) => [g.fields, g.keep.map((k) => k.snapshot.id), g.remove.map((s) => s.id)]),
      [
        [{ host: 'a', paths: ['/x', '/y'], tags: ['db'] }, ['a3'], []],
        [{ host: 'a', paths: ['/x', '/y'], tags: [] }, ['a2'], ['a1']],
        [{ host: 'b', paths: ['/x', '/y'], tags: [] }, ['b1'], []],
      ],
    );
  });

  it('groups by the chosen fields only, or not at all', () => {
    const byHost = applyRetention(mixed, { ...NONE, keepLast: 1 }, { groupBy: ['host'], timezone: 'UTC' }).groups;
    assert.deepEqual(
      byHost.map((g) => [g.key, g.keep.map((k) => k.snapshot.id)]),
      [
        ['{"host":"a"}', ['a3']],
        ['{"host":"b"}', ['b1']],
      ],
    );
    const all = applyRetention(mixed, { ...NONE, keepLast: 1 }, { groupBy: [], timezone: 'UTC' }).groups;
    assert.deepEqual(
      all.map((g) => [g.key, g.keep.map((k) => k.snapshot.id), g.remove.length]),
      [['{}', ['b1'], 3]],
    );
  });

  it('a policy without a rule keeps everything (callers refuse it)', () => {
    assert.equal(isEmptyPolicy(NONE), true);
    assert.equal(isEmptyPolicy({ ...NONE, keepDaily: 0, keepLast: 0 }), true);
    assert.equal(isEmptyPolicy({ ...NONE, keepWithinMs: 0 }), false);
    assert.equal(isEmptyPolicy({ ...NONE, keepYearly: 1 }), false);
    const { groups } = applyRetention(FALL, NONE, { timezone: 'UTC' });
    assert.equal(groups[0]!.keep.length, FALL.length);
    assert.deepEqual(groups[0]!.keep[0]!.reasons, ['empty policy']);
  });
});

describe('retention properties', () => {
  const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Australia/Lord_Howe'];
  const T0 = Date.UTC(2023, 0, 1);
  const snapsArb = fc
    .array(
      fc.record({
        t: fc.integer({ min: 0, max: 3 * 365 * DAY }),
        host: fc.constantFrom('h1', 'h2'),
        paths: fc.constantFrom(['/a'], ['/a', '/b'], ['/b', '/a']),
        tags: fc.subarray(['x', 'y']),
      }),
      { maxLength: 60 },
    )
    .map((rs) =>
      rs.map((r, i) =>
        snap(i.toString(16).padStart(4, '0'), new Date(T0 + r.t).toISOString(), {
          hostname: r.host,
          paths: [...r.paths],
          tags: r.tags,
        }),
      ),
    );
  const count = fc.option(fc.integer({ min: 0, max: 8 }), { nil: null });
  const policyArb = fc.record({
    keepLast: count,
    keepHourly: count,
    keepDaily: count,
    keepWeekly: count,
    keepMonthly: count,
    keepYearly: count,
    keepWithinMs: fc.option(fc.integer({ min: 0, max: 400 * DAY }), { nil: null }),
  });
  const groupByArb = fc.subarray(['host', 'paths', 'tags'] as GroupField[]);
  const zoneArb = fc.constantFrom(...ZONES);
  const newestFirst = (a: SnapshotWithId, b: SnapshotWithId) =>
    Date.parse(b.time) - Date.parse(a.time) || (a.id < b.id ? 1 : -1);

  it('kept and removed partition every group, and every kept snapshot has a reason', () => {
    fc.assert(
      fc.property(snapsArb, policyArb, groupByArb, zoneArb, (snaps, policy, groupBy, timezone) => {
        const { groups } = applyRetention(snaps, policy, { groupBy, timezone });
        const seen = groups.flatMap((g) => [...g.keep.map((k) => k.snapshot.id), ...g.remove.map((s) => s.id)]);
        assert.deepEqual([...seen].sort(), snaps.map((s) => s.id).sort());
        for (const g of groups) for (const k of g.keep) assert.ok(k.reasons.length > 0);
      }),
    );
  });

  it('keepLast n alone keeps exactly the n newest of each group', () => {
    fc.assert(
      fc.property(snapsArb, fc.integer({ min: 1, max: 10 }), groupByArb, (snaps, n, groupBy) => {
        for (const g of applyRetention(snaps, { ...NONE, keepLast: n }, { groupBy, timezone: 'UTC' }).groups) {
          const all = [...g.keep.map((k) => k.snapshot), ...g.remove].sort(newestFirst);
          assert.deepEqual(
            g.keep.map((k) => k.snapshot.id),
            all.slice(0, n).map((s) => s.id),
          );
        }
      }),
    );
  });

  it('never removes the newest snapshot of a group when a rule is set', () => {
    fc.assert(
      fc.property(snapsArb, policyArb, groupByArb, zoneArb, (snaps, policy, groupBy, timezone) => {
        fc.pre(!isEmptyPolicy(policy));
        for (const g of applyRetention(snaps, policy, { groupBy, timezone }).groups) {
          const newest = [...g.keep.map((k) => k.snapshot), ...g.remove].sort(newestFirst)[0]!;
          assert.ok(
            g.keep.some((k) => k.snapshot.id === newest.id),
            `newest ${newest.id} of ${g.key} is kept`,
          );
        }
      }),
    );
  });

  it('is idempotent: applied again to what it keeps, it removes nothing', () => {
    fc.assert(
      fc.property(snapsArb, policyArb, groupByArb, zoneArb, (snaps, policy, groupBy, timezone) => {
        const kept = applyRetention(snaps, policy, { groupBy, timezone }).groups.flatMap((g) =>
          g.keep.map((k) => k.snapshot),
        );
        const again = applyRetention(kept, policy, { groupBy, timezone }).groups;
        assert.deepEqual(
          again.flatMap((g) => g.remove.map((s) => s.id)),
          [],
        );
      }),
      { numRuns: 300 },
    );
  });
});
