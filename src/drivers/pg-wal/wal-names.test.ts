// WAL archive names: parsing each kind, round trips through segmentName,
// rejection of anything not strictly a PostgreSQL name (lowercase, wrong
// lengths, path tricks, timeline 0, a "seg" part past segsPerLog), and the
// LSN ↔ segment arithmetic across the log boundary for 16 MiB and other sizes.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSafeholdError } from '../../core/errors.ts';
import {
  historyName,
  isValidSegSize,
  lsnOfSegmentStart,
  parseWalName,
  segmentName,
  segnoBeforeLsn,
  segnoOfLsn,
  walFileOfLsn,
} from './wal-names.ts';

const MiB = 1024 * 1024;

describe('parseWalName', () => {
  it('reads the four kinds', () => {
    assert.deepEqual(parseWalName('000000010000000000000003'), {
      file: '000000010000000000000003',
      kind: 'segment',
      timeline: 1,
      segno: 3n,
    });
    assert.deepEqual(parseWalName('0000000A00000002000000FF.partial'), {
      file: '0000000A00000002000000FF.partial',
      kind: 'partial',
      timeline: 10,
      segno: 2n * 256n + 255n,
    });
    assert.deepEqual(parseWalName('00000002.history'), { file: '00000002.history', kind: 'history', timeline: 2 });
    assert.deepEqual(parseWalName('000000010000000000000002.00000028.backup'), {
      file: '000000010000000000000002.00000028.backup',
      kind: 'backup',
      timeline: 1,
      segno: 2n,
    });
  });

  it('rejects anything else', () => {
    for (const bad of [
      '00000001000000000000000a', // lowercase
      '00000001000000000000000A1', // too long
      '00000001000000000000000', // too short
      '0000000100000000000000FF.Partial',
      '00000002.HISTORY',
      '0000002.history',
      '000000010000000000000002.0000028.backup',
      '000000010000000000000002.backup',
      '../000000010000000000000003',
      '000000010000000000000003/..',
      'x/000000010000000000000003',
      '000000000000000000000003', // timeline 0
      '00000000.history',
      '000000010000000000000100', // seg 0x100 does not exist with 16 MiB segments
      '000000010000000000000003.tmp',
      ' 000000010000000000000003',
      '',
      'archive_status',
    ]) {
      assert.equal(parseWalName(bad), null, bad);
    }
  });

  it('takes the segment size into account', () => {
    // 1 MiB: 4096 segments per log, so seg 0x100 exists and 0x1000 does not.
    assert.equal(parseWalName('000000010000000100000100', MiB)?.segno, 4096n + 256n);
    assert.equal(parseWalName('000000010000000000001000', MiB), null);
    // 1 GiB: 4 segments per log.
    assert.equal(parseWalName('000000010000000200000003', 1024 * MiB)?.segno, 11n);
    assert.equal(parseWalName('000000010000000000000004', 1024 * MiB), null);
  });
});

describe('segmentName', () => {
  it('round-trips through parseWalName for several sizes and timelines', () => {
    for (const segSize of [MiB, 16 * MiB, 64 * MiB, 1024 * MiB]) {
      for (const timeline of [1, 2, 0x1f, 0xffffffff]) {
        for (const segno of [0n, 1n, 255n, 256n, 4095n, 4096n, 123456789n]) {
          const name = segmentName(timeline, segno, segSize);
          assert.match(name, /^[0-9A-F]{24}$/);
          assert.deepEqual(parseWalName(name, segSize), { file: name, kind: 'segment', timeline, segno });
        }
      }
    }
  });

  it('crosses the log boundary (16 MiB: segment 255 → 256)', () => {
    assert.equal(segmentName(1, 255n), '0000000100000000000000FF');
    assert.equal(segmentName(1, 256n), '000000010000000100000000');
    assert.equal(segmentName(1, 256n, MiB), '000000010000000000000100');
  });

  it('refuses a bad timeline, segment number or size', () => {
    const usage = (e: unknown) => isSafeholdError(e, 'USAGE');
    assert.throws(() => segmentName(0, 1n), usage);
    assert.throws(() => segmentName(1.5, 1n), usage);
    assert.throws(() => segmentName(1, -1n), usage);
    assert.throws(() => segmentName(1, 1n << 40n), usage); // log part past 32 bits
    assert.throws(() => segmentName(1, 1n, 3 * MiB), usage);
    assert.equal(historyName(0x1f), '0000001F.history');
  });
});

describe('LSN ↔ segment', () => {
  it('maps positions to segments and back', () => {
    assert.equal(segnoOfLsn('0/3000060'), 3n);
    assert.equal(segnoOfLsn('0/FFFFFFF'), 15n);
    assert.equal(segnoOfLsn('0/FF000000'), 255n);
    assert.equal(segnoOfLsn('0/FFFFFFFF'), 255n);
    assert.equal(segnoOfLsn('1/0'), 256n);
    assert.equal(segnoOfLsn(0x1_00000028n), 256n);
    assert.equal(walFileOfLsn(1, '0/FFFFFFFF'), '0000000100000000000000FF');
    assert.equal(walFileOfLsn(1, '1/0'), '000000010000000100000000');
    assert.equal(walFileOfLsn(3, '2A/BC000000'), '000000030000002A000000BC');
    assert.equal(lsnOfSegmentStart(256n), 0x1_00000000n);
    assert.equal(lsnOfSegmentStart(3n), 0x3000000n);
    for (const segno of [0n, 7n, 255n, 256n, 99999n]) assert.equal(segnoOfLsn(lsnOfSegmentStart(segno)), segno);
  });

  it('tells the segment of a position from the one before it at a boundary', () => {
    assert.equal(segnoOfLsn('0/2000000'), 2n);
    assert.equal(segnoBeforeLsn('0/2000000'), 1n); // like pg_walfile_name
    assert.equal(segnoBeforeLsn('0/2000001'), 2n);
    assert.equal(segnoBeforeLsn('1/0'), 255n);
    assert.equal(segnoBeforeLsn(0n), 0n);
  });

  it('follows the segment size', () => {
    assert.equal(segnoOfLsn('0/3000060', MiB), 48n);
    assert.equal(walFileOfLsn(1, '0/3000060', MiB), '000000010000000000000030');
    assert.equal(walFileOfLsn(1, '1/0', MiB), '000000010000000100000000');
    assert.equal(lsnOfSegmentStart(5n, 64 * MiB), 5n * 64n * 1048576n);
    assert.equal(walFileOfLsn(1, '1/40000000', 1024 * MiB), '000000010000000100000001');
  });

  it('refuses a position that is not one', () => {
    assert.throws(
      () => segnoOfLsn('0-3000060'),
      (e) => isSafeholdError(e, 'CORRUPT'),
    );
    assert.throws(
      () => segnoOfLsn(-1n),
      (e) => isSafeholdError(e, 'USAGE'),
    );
    assert.throws(
      () => lsnOfSegmentStart(-1n),
      (e) => isSafeholdError(e, 'USAGE'),
    );
  });
});

describe('isValidSegSize', () => {
  it('accepts powers of 2 from 1 MiB to 1 GiB only', () => {
    for (let n = MiB; n <= 1024 * MiB; n *= 2) assert.equal(isValidSegSize(n), true, String(n));
    for (const n of [0, -MiB, MiB / 2, 2048 * MiB, 3 * MiB, 16 * MiB + 1, 1.5, Number.NaN])
      assert.equal(isValidSegSize(n), false, String(n));
  });
});
