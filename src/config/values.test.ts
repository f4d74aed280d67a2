// The small value languages of safehold.yaml: durations, sizes and
// percentages, days, times of day, cron, time zones, suggestions and paths.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  closest,
  cronProblem,
  editDistance,
  isTimeZone,
  minutesOfDay,
  parseDays,
  parseDayWord,
  parseDuration,
  parseSizeOrPercent,
} from './values.ts';
import { describeValue, formatPath } from './problems.ts';

describe('config values', () => {
  it('durations', () => {
    const cases: [string, number | null][] = [
      ['30s', 30_000],
      ['10m', 600_000],
      ['4h', 14_400_000],
      ['1h30m', 5_400_000],
      ['250ms', 250],
      ['2d', 172_800_000],
      ['1w', 604_800_000],
      ['0s', 0],
      ['10 minutes', null],
      ['10', null],
      ['1.5h', null],
      ['m', null],
      ['', null],
      ['-5m', null],
      ['10M', null],
    ];
    for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
  });

  it('sizes and percentages', () => {
    const cases: [string, unknown][] = [
      ['10GiB', { bytes: 10 * 2 ** 30 }],
      ['500MB', { bytes: 500e6 }],
      ['1 KiB', { bytes: 1024 }],
      ['0B', { bytes: 0 }],
      ['1.5TB', { bytes: 1.5e12 }],
      ['15%', { fraction: 0.15 }],
      ['0%', { fraction: 0 }],
      ['100%', { fraction: 1 }],
      ['150%', null],
      ['100.5%', null],
      ['10 gigs', null],
      ['10gb', null],
      ['10', null],
      ['%', null],
      ['-1GiB', null],
    ];
    for (const [text, v] of cases) assert.deepEqual(parseSizeOrPercent(text), v, text);
  });

  it('days: names, full names, ranges that wrap the week; 0 is Sunday', () => {
    assert.deepEqual(parseDayWord('sun'), [0]);
    assert.deepEqual(parseDayWord('Saturday'), [6]);
    assert.deepEqual(parseDayWord('mon-fri'), [1, 2, 3, 4, 5]);
    assert.deepEqual(parseDayWord('fri-mon'), [5, 6, 0, 1]);
    assert.deepEqual(parseDayWord('wed-wed'), [3]);
    assert.equal(parseDayWord('funday'), null);
    assert.equal(parseDayWord('mon-fri-sat'), null);
    assert.equal(parseDayWord('mon-'), null);
    assert.deepEqual(parseDays(['sat', 'fri-sun', 'tue']), [0, 2, 5, 6]);
    assert.deepEqual(parseDays('mon-sun'), [0, 1, 2, 3, 4, 5, 6]);
  });

  it('times of day', () => {
    assert.equal(minutesOfDay('00:00'), 0);
    assert.equal(minutesOfDay('22:30'), 1350);
    assert.equal(minutesOfDay('24:00'), 1440);
    for (const bad of ['24:01', '25:00', '6:00', '06:60', '0600', '06:00:00'])
      assert.equal(minutesOfDay(bad), null, bad);
  });

  it('cron expressions (5 fields) and time zones', () => {
    assert.equal(cronProblem('0 2 * * *'), null);
    assert.equal(cronProblem('*/5 22-23,0-5 * * mon-fri'), null);
    assert.equal(cronProblem('@daily'), null);
    assert.equal(cronProblem('61 2 * * *'), 'Invalid value for minute: 61');
    assert.match(cronProblem('0 0 2 * * *')!, /requires exactly 5 parts/);
    assert.ok(isTimeZone('Europe/Paris'));
    assert.ok(isTimeZone('UTC'));
    assert.ok(!isTimeZone('Europe/Pariss'));
    assert.ok(!isTimeZone(''));
  });

  it('suggestions: close words only', () => {
    assert.equal(editDistance('schedul', 'schedule'), 1);
    assert.equal(editDistance('shcedule', 'schedule'), 1, 'a transposition counts once');
    assert.equal(closest('schedul', ['window', 'schedule', 'retry']), 'schedule');
    assert.equal(closest('PLANS', ['plans', 'sites']), 'plans');
    assert.equal(closest('colour', ['window', 'schedule', 'retry']), null);
    assert.equal(closest('ab', ['xy']), null);
  });

  it('paths and values in messages', () => {
    assert.equal(formatPath(['plans', 'nightly', 'activities', 1, 'units']), 'plans.nightly.activities[1].units');
    assert.equal(formatPath(['targets', 'a.b', 'kind']), 'targets["a.b"].kind');
    assert.equal(formatPath([]), '');
    assert.equal(describeValue(5, true), 'a number');
    assert.equal(describeValue(5, false), '5');
    assert.equal(describeValue('x', true), 'a string');
    assert.equal(describeValue('x'.repeat(50), false), `'${'x'.repeat(37)}...'`);
    assert.equal(describeValue(null, false), 'an empty value');
    assert.equal(describeValue([], false), 'an empty list');
    assert.equal(describeValue({ a: 1 }, false), 'a map');
  });
});
