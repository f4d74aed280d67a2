// Chain analysis over archived WAL names: an unbroken archive; a hole in the
// middle; timeline switches read from history files (mid-segment and at a
// segment boundary, an old timeline's .partial not counting, a backup on an
// abandoned branch); a backup whose start segment is missing; a backup with
// its WAL inside; and removableWal, which never returns history files nor
// anything at or after the oldest kept backup's start segment.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatLsn } from '../pg-ha/lsn.ts';
import { analyseChain, parseHistory, removableWal } from './wal-chain.ts';
import type { BaseBackupRef } from './wal-chain.ts';
import { parseWalName, segmentName } from './wal-names.ts';

const seg = (timeline: number, ...segnos: number[]) => segnos.map((s) => segmentName(timeline, BigInt(s)));
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

const b2: BaseBackupRef = { id: 'b2', timeline: 1, startLsn: '0/2000028', stopLsn: '0/3000100' };

describe('analyseChain', () => {
  it('an unbroken archive reaches its newest segment', () => {
    const files = [
      ...seg(1, ...range(1, 6)),
      '000000010000000000000002.00000028.backup',
      '000000010000000000000007.partial',
      'README',
    ];
    const r = analyseChain(files, [b2]);
    assert.deepEqual(r.backups, [
      {
        id: 'b2',
        consistent: true,
        reachesLatest: true,
        firstGap: null,
        lastSegment: '000000010000000000000006',
        endTimeline: 1,
      },
    ]);
    assert.deepEqual(r.gaps, []);
    assert.deepEqual(r.timelines, [1]);
    assert.equal(r.newestSegment, '000000010000000000000006');
  });

  it('finds a hole in the middle', () => {
    const files = seg(1, 1, 2, 3, 4, 7, 8, 9);
    const later: BaseBackupRef = { id: 'b7', timeline: 1, startLsn: '0/7000060', stopLsn: '0/8000000' };
    const r = analyseChain(files, [b2, later]);
    const gap = { timeline: 1, from: '000000010000000000000005', to: '000000010000000000000006' };
    assert.deepEqual(r.backups[0], {
      id: 'b2',
      consistent: true,
      reachesLatest: false,
      firstGap: gap,
      lastSegment: '000000010000000000000004',
      endTimeline: 1,
    });
    // Its stop at a segment boundary needs segment 7 only.
    assert.deepEqual(r.backups[1], {
      id: 'b7',
      consistent: true,
      reachesLatest: true,
      firstGap: null,
      lastSegment: '000000010000000000000009',
      endTimeline: 1,
    });
    assert.deepEqual(r.gaps, [gap]);
    assert.equal(r.newestSegment, '000000010000000000000009');
  });

  it('crosses the log boundary without a false gap', () => {
    const files = seg(1, ...range(250, 260));
    const b: BaseBackupRef = { id: 'b', timeline: 1, startLsn: '0/FB000028', stopLsn: '1/1000000' };
    const r = analyseChain(files, [b]);
    assert.equal(r.backups[0]!.consistent, true);
    assert.equal(r.backups[0]!.lastSegment, '000000010000000100000004');
    assert.deepEqual(r.gaps, []);
  });

  describe('timeline switches', () => {
    // Timeline 2 left 1 in the middle of segment 5; timeline 3 left 2 exactly at the start of segment 7.
    const histories = new Map([
      [2, parseHistory('1\t0/50000A0\tno recovery target specified\n')],
      [3, parseHistory('1\t0/50000A0\tno recovery target specified\n\n2\t0/7000000\tat restore point "x"\n')],
    ]);
    const files = [
      ...seg(1, 1, 2, 3, 4),
      '000000010000000000000005.partial', // the promoted standby's last segment of timeline 1
      '00000002.history',
      ...seg(2, 5, 6, 7, 8), // 7 and 8 of timeline 2 were left behind by timeline 3
      '00000003.history',
      ...seg(3, 7, 8, 9),
    ];

    it('parses history files', () => {
      assert.deepEqual(histories.get(3), [
        { parentTimeline: 1, switchLsn: 0x50000a0n },
        { parentTimeline: 2, switchLsn: 0x7000000n },
      ]);
    });

    it('follows the newest timeline from the switch segment on', () => {
      const r = analyseChain(files, [b2], { histories });
      assert.deepEqual(r.backups[0], {
        id: 'b2',
        consistent: true,
        reachesLatest: true,
        firstGap: null,
        lastSegment: '000000030000000000000009',
        endTimeline: 3,
      });
      assert.deepEqual(r.gaps, []);
      assert.deepEqual(r.timelines, [1, 2, 3]);
      assert.equal(r.newestSegment, '000000030000000000000009');
    });

    it("needs the switch segment under the new timeline: the old one's .partial does not count", () => {
      const without = files.filter((f) => f !== '000000020000000000000005');
      const r = analyseChain([...without, '000000010000000000000005'], [b2], { histories });
      const gap = { timeline: 2, from: '000000020000000000000005', to: '000000020000000000000005' };
      assert.deepEqual(r.backups[0]!.firstGap, gap);
      assert.equal(r.backups[0]!.lastSegment, '000000010000000000000004');
      assert.equal(r.backups[0]!.reachesLatest, false);
      assert.deepEqual(r.gaps, [gap]);
    });

    it('a segment missing from an intermediate timeline is a gap on that timeline', () => {
      const r = analyseChain(
        files.filter((f) => f !== '000000020000000000000006'),
        [b2],
        { histories },
      );
      assert.deepEqual(r.backups[0]!.firstGap, {
        timeline: 2,
        from: '000000020000000000000006',
        to: '000000020000000000000006',
      });
      assert.equal(r.backups[0]!.lastSegment, '000000020000000000000005');
    });

    it("without the history the walk stays on the backup's timeline", () => {
      const r = analyseChain(files, [b2]);
      assert.equal(r.backups[0]!.endTimeline, 1);
      assert.equal(r.backups[0]!.lastSegment, '000000010000000000000004');
      assert.equal(r.backups[0]!.reachesLatest, true); // nothing known descends from timeline 1
    });

    it('a backup of timeline 2 follows timeline 3; one of the abandoned branch cannot reach the latest', () => {
      const onTwo: BaseBackupRef = { id: 't2', timeline: 2, startLsn: '0/6000028', stopLsn: '0/6000200' };
      const late: BaseBackupRef = { id: 'late', timeline: 2, startLsn: '0/7000028', stopLsn: '0/8000100' };
      const r = analyseChain(files, [onTwo, late], { histories });
      assert.deepEqual(r.backups[0], {
        id: 't2',
        consistent: true,
        reachesLatest: true,
        firstGap: null,
        lastSegment: '000000030000000000000009',
        endTimeline: 3,
      });
      // Taken on timeline 2 after timeline 3 left it: consistent, but 'latest' is out of its reach.
      assert.deepEqual(r.backups[1], {
        id: 'late',
        consistent: true,
        reachesLatest: false,
        firstGap: null,
        lastSegment: '000000020000000000000008',
        endTimeline: 2,
      });
    });
  });

  it('a backup whose start segment is missing is not consistent', () => {
    const r = analyseChain(seg(1, 3, 4, 5, 6), [b2]);
    const gap = { timeline: 1, from: '000000010000000000000002', to: '000000010000000000000002' };
    assert.deepEqual(r.backups[0], {
      id: 'b2',
      consistent: false,
      reachesLatest: false,
      firstGap: gap,
      lastSegment: null,
      endTimeline: 1,
    });
    assert.deepEqual(r.gaps, [gap]);
    const none = analyseChain([], [b2]);
    assert.deepEqual(none.backups[0], {
      id: 'b2',
      consistent: false,
      reachesLatest: false,
      firstGap: null,
      lastSegment: null,
      endTimeline: 1,
    });
    assert.equal(none.newestSegment, null);
  });

  it('a backup with its WAL inside needs the archive only from its stop segment on', () => {
    const inside: BaseBackupRef = { ...b2, walIncluded: true };
    let r = analyseChain(seg(1, 3, 4, 5), [inside]);
    assert.equal(r.backups[0]!.consistent, true);
    assert.equal(r.backups[0]!.reachesLatest, true);
    assert.equal(r.backups[0]!.lastSegment, '000000010000000000000005');
    r = analyseChain(seg(1, 4, 5), [inside]);
    assert.equal(r.backups[0]!.consistent, true);
    assert.equal(r.backups[0]!.reachesLatest, false);
    assert.deepEqual(r.backups[0]!.firstGap, {
      timeline: 1,
      from: '000000010000000000000003',
      to: '000000010000000000000003',
    });
    r = analyseChain([], [inside]);
    assert.equal(r.backups[0]!.reachesLatest, true);
  });
});

describe('removableWal', () => {
  const files = [
    '00000002.history',
    '00000003.history',
    ...seg(1, 1, 2, 3, 4, 5, 6),
    '000000010000000000000004.partial',
    '000000010000000000000002.00000028.backup',
    '000000010000000000000005.00000028.backup',
    ...seg(2, 4, 5, 6),
    ...seg(3, 3),
    'archive_status',
    '00000001000000000000000a',
  ];

  it('removes what lies before the oldest kept start, on every timeline', () => {
    const kept: BaseBackupRef[] = [
      { id: 'a', timeline: 2, startLsn: '0/6000028', stopLsn: '0/6000100' },
      { id: 'b', timeline: 1, startLsn: '0/5000028', stopLsn: '0/5000100' },
    ];
    assert.deepEqual(removableWal(files, kept).sort(), [
      '000000010000000000000001',
      '000000010000000000000002',
      '000000010000000000000002.00000028.backup',
      '000000010000000000000003',
      '000000010000000000000004',
      '000000010000000000000004.partial',
      '000000020000000000000004',
      '000000030000000000000003',
    ]);
    assert.deepEqual(removableWal(files, []), []);
  });

  it('never removes a history file nor anything at or after the oldest kept start', () => {
    const name = fc.oneof(
      fc
        .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 600 }))
        .map(([t, s]) => segmentName(t, BigInt(s))),
      fc
        .tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 600 }))
        .map(([t, s]) => `${segmentName(t, BigInt(s))}.partial`),
      fc.integer({ min: 1, max: 4 }).map((t) => `${t.toString(16).padStart(8, '0')}.history`),
    );
    const backup = fc.tuple(fc.integer({ min: 1, max: 4 }), fc.bigInt({ min: 0n, max: 600n * 0x1000000n })).map(
      ([t, lsn]): BaseBackupRef => ({
        id: String(lsn),
        timeline: t,
        startLsn: formatLsn(lsn),
        stopLsn: formatLsn(lsn),
      }),
    );
    fc.assert(
      fc.property(fc.array(name), fc.array(backup, { minLength: 1, maxLength: 4 }), (names, kept) => {
        const oldest = kept.map((b) => BigInt(b.id) / 0x1000000n).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0]!;
        const out = removableWal(names, kept);
        for (const f of out) {
          const w = parseWalName(f)!;
          assert.notEqual(w.kind, 'history');
          assert.ok(w.segno! < oldest, `${f} is at or after segment ${oldest}`);
        }
        for (const f of names) {
          const w = parseWalName(f)!;
          if (w.kind !== 'history' && w.segno! < oldest) assert.ok(out.includes(f), `${f} kept`);
        }
      }),
    );
  });
});
