// Tests of maintenance windows: each form in and out, ranges wrapping past
// midnight, exclusive ends, zone-local weekdays, daylight-saving changes in
// both directions, and the next-start / end computations. Fixed instants only.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Window } from '../../config/types.ts';
import { isSafeholdError } from '../../core/errors.ts';
import { describeWindow, formatInZone, inWindow, nextWindowStart, outsideWindowReason, windowEnd } from './window.ts';

const U = Date.UTC;
const MIN = 60_000;
const BERLIN = 'Europe/Berlin';
const NY = 'America/New_York';
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const weeknights: Window = { type: 'cron', expression: '* 22-23,0-5 * * 1-5', timezone: BERLIN };
const fridayNight: Window = { type: 'ranges', timezone: BERLIN, ranges: [{ days: [5], from: '22:00', to: '06:00' }] };

test('always: inside at any instant, opens now, never closes', () => {
  const w: Window = { type: 'always' };
  const now = U(2026, 10, 25, 3, 17);
  assert.equal(inWindow(w, now), true);
  assert.equal(nextWindowStart(w, now), now);
  assert.equal(windowEnd(w, now), null);
  assert.equal(describeWindow(w), 'always');
});

test('cron: weeknights 22:00-05:59 in Berlin (CET = UTC+1 in November)', () => {
  // Tuesday 2026-11-24.
  assert.equal(inWindow(weeknights, U(2026, 10, 24, 21, 0)), true, 'Tue 22:00 CET');
  assert.equal(inWindow(weeknights, U(2026, 10, 24, 21, 30, 59)), true, 'Tue 22:30:59 CET');
  assert.equal(inWindow(weeknights, U(2026, 10, 24, 20, 59, 59)), false, 'Tue 21:59:59 CET');
  assert.equal(inWindow(weeknights, U(2026, 10, 25, 4, 59)), true, 'Wed 05:59 CET');
  assert.equal(inWindow(weeknights, U(2026, 10, 25, 5, 0)), false, 'Wed 06:00 CET');
  assert.equal(inWindow(weeknights, U(2026, 10, 25, 11, 0)), false, 'Wed noon');
  // The after-midnight part belongs to the day it falls on: Saturday 01:00 is out, Monday 01:00 is in.
  assert.equal(inWindow(weeknights, U(2026, 10, 28, 0, 0)), false, 'Sat 01:00 CET');
  assert.equal(inWindow(weeknights, U(2026, 10, 30, 0, 0)), true, 'Mon 01:00 CET');
});

test('cron: nextWindowStart and windowEnd', () => {
  assert.equal(iso(nextWindowStart(weeknights, U(2026, 10, 24, 12, 0))), '2026-11-24T21:00:00.000Z');
  const inside = U(2026, 10, 24, 21, 30, 12);
  assert.equal(nextWindowStart(weeknights, inside), inside, 'now when inside');
  // Tue 22:00 through Wed 05:59 is one stretch: it closes Wed 06:00 CET.
  assert.equal(iso(windowEnd(weeknights, inside)), '2026-11-25T05:00:00.000Z');
  // Friday's stretch stops at midnight (Saturday is not a weekday).
  assert.equal(iso(windowEnd(weeknights, U(2026, 10, 27, 22, 0))), '2026-11-27T23:00:00.000Z');
  // From Friday midnight the next opening is Monday 00:00 CET.
  assert.equal(iso(nextWindowStart(weeknights, U(2026, 10, 27, 23, 0))), '2026-11-29T23:00:00.000Z');
  assert.equal(windowEnd(weeknights, U(2026, 10, 25, 12, 0)), null, 'null when outside');
  assert.equal(
    outsideWindowReason(weeknights, U(2026, 10, 25, 11, 0)),
    'outside the maintenance window (opens 2026-11-25 22:00 Europe/Berlin)',
  );
});

test('cron in UTC: minute ranges and long stretches', () => {
  const half: Window = { type: 'cron', expression: '0-29 * * * *', timezone: 'UTC' };
  assert.equal(inWindow(half, U(2026, 5, 1, 10, 29, 59)), true);
  assert.equal(inWindow(half, U(2026, 5, 1, 10, 30)), false);
  assert.equal(iso(windowEnd(half, U(2026, 5, 1, 10, 10))), '2026-06-01T10:30:00.000Z');
  assert.equal(iso(nextWindowStart(half, U(2026, 5, 1, 10, 45))), '2026-06-01T11:00:00.000Z');
  const weekdays: Window = { type: 'cron', expression: '* * * * 1-5', timezone: 'UTC' };
  assert.equal(
    iso(windowEnd(weekdays, U(2026, 10, 23, 10, 0))),
    '2026-11-28T00:00:00.000Z',
    'Mon through Fri, closes Sat 00:00',
  );
  const business: Window = { type: 'cron', expression: '* 8-17 * * *', timezone: 'UTC' };
  assert.equal(iso(windowEnd(business, U(2026, 10, 23, 8, 5))), '2026-11-23T18:00:00.000Z');
  assert.equal(
    windowEnd({ type: 'cron', expression: '* * * * *', timezone: 'UTC' }, U(2026, 0, 1)),
    null,
    'never closes',
  );
  assert.equal(
    nextWindowStart({ type: 'cron', expression: '0 0 30 2 *', timezone: 'UTC' }, U(2026, 0, 1)),
    null,
    'never opens',
  );
});

test("cron: the weekday is the zone's, not UTC's", () => {
  const mondays: Window = { type: 'cron', expression: '* * * * 1', timezone: NY };
  // Tue 2026-11-24 03:00 UTC is Mon 22:00 in New York.
  assert.equal(inWindow(mondays, U(2026, 10, 24, 3, 0)), true);
  // Mon 2026-11-23 03:00 UTC is Sun 22:00 in New York.
  assert.equal(inWindow(mondays, U(2026, 10, 23, 3, 0)), false);
  assert.equal(iso(windowEnd(mondays, U(2026, 10, 24, 3, 0))), '2026-11-24T05:00:00.000Z', 'Tue 00:00 EST');
});

test('cron across spring forward in Berlin (2026-03-29 02:00 CET -> 03:00 CEST): the skipped hour never matches', () => {
  const twoAm: Window = { type: 'cron', expression: '* 2 * * *', timezone: BERLIN };
  assert.equal(inWindow(twoAm, U(2026, 2, 29, 0, 59)), false, '01:59 CET');
  assert.equal(inWindow(twoAm, U(2026, 2, 29, 1, 0)), false, '03:00 CEST');
  assert.equal(iso(nextWindowStart(twoAm, U(2026, 2, 28, 23, 0))), '2026-03-30T00:00:00.000Z', 'Mon 02:00 CEST');
  // croner moves a fixed-time job into the gap's end (03:30 CEST); that minute is not in the window.
  const twoThirty: Window = { type: 'cron', expression: '30 2 * * *', timezone: BERLIN };
  assert.equal(inWindow(twoThirty, U(2026, 2, 29, 1, 30)), false);
  assert.equal(iso(nextWindowStart(twoThirty, U(2026, 2, 28, 23, 0))), '2026-03-30T00:30:00.000Z');
  // A night window loses an hour of real time.
  const nights: Window = { type: 'cron', expression: '* 0-5 * * *', timezone: BERLIN };
  assert.equal(iso(windowEnd(nights, U(2026, 2, 28, 23, 0))), '2026-03-29T04:00:00.000Z', '5 real hours');
});

test('cron across fall back in Berlin (2026-10-25 03:00 CEST -> 02:00 CET): the repeated hour matches twice', () => {
  const twoAm: Window = { type: 'cron', expression: '* 2 * * *', timezone: BERLIN };
  assert.equal(inWindow(twoAm, U(2026, 9, 25, 0, 30)), true, '02:30 CEST');
  assert.equal(inWindow(twoAm, U(2026, 9, 25, 1, 30)), true, '02:30 CET');
  assert.equal(inWindow(twoAm, U(2026, 9, 25, 2, 0)), false, '03:00 CET');
  assert.equal(iso(windowEnd(twoAm, U(2026, 9, 25, 0, 30))), '2026-10-25T02:00:00.000Z', 'two real hours');
  const nights: Window = { type: 'cron', expression: '* 0-5 * * *', timezone: BERLIN };
  assert.equal(iso(windowEnd(nights, U(2026, 9, 24, 22, 0))), '2026-10-25T05:00:00.000Z', '7 real hours');
});

test('cron across both changes in New York', () => {
  const oneAm: Window = { type: 'cron', expression: '* 1 * * *', timezone: NY };
  // 2026-11-01: 02:00 EDT -> 01:00 EST, so 01:xx happens at 05:xx and 06:xx UTC.
  assert.equal(inWindow(oneAm, U(2026, 10, 1, 5, 10)), true);
  assert.equal(inWindow(oneAm, U(2026, 10, 1, 6, 10)), true);
  assert.equal(iso(windowEnd(oneAm, U(2026, 10, 1, 5, 10))), '2026-11-01T07:00:00.000Z');
  // 2026-03-08: 02:00 EST -> 03:00 EDT, so 02:xx does not exist that day.
  const twoAm: Window = { type: 'cron', expression: '* 2 * * *', timezone: NY };
  assert.equal(iso(nextWindowStart(twoAm, U(2026, 2, 8, 6, 0))), '2026-03-09T06:00:00.000Z');
});

test('ranges: Friday 22:00 to Saturday 06:00, from inclusive, to exclusive', () => {
  assert.equal(inWindow(fridayNight, U(2026, 10, 27, 20, 59, 59, 999)), false, 'Fri 21:59:59.999 CET');
  assert.equal(inWindow(fridayNight, U(2026, 10, 27, 21, 0)), true, 'Fri 22:00 CET');
  assert.equal(inWindow(fridayNight, U(2026, 10, 27, 23, 30)), true, 'Sat 00:30 CET');
  assert.equal(inWindow(fridayNight, U(2026, 10, 28, 4, 59, 59, 999)), true, 'Sat 05:59:59.999 CET');
  assert.equal(inWindow(fridayNight, U(2026, 10, 28, 5, 0)), false, 'Sat 06:00 CET');
  assert.equal(inWindow(fridayNight, U(2026, 10, 28, 21, 30)), false, 'Sat 22:30: Saturday has no range');
  assert.equal(inWindow(fridayNight, U(2026, 10, 26, 23, 30)), false, 'Fri 00:30: Thursday has no range');
  assert.equal(iso(windowEnd(fridayNight, U(2026, 10, 27, 22, 0))), '2026-11-28T05:00:00.000Z');
  assert.equal(iso(nextWindowStart(fridayNight, U(2026, 10, 28, 5, 0))), '2026-12-04T21:00:00.000Z');
  assert.equal(describeWindow(fridayNight), 'Fri 22:00-06:00 (next day) (Europe/Berlin)');
});

test('ranges: same-day ranges, several days, touching ranges merge', () => {
  const lunch: Window = {
    type: 'ranges',
    timezone: 'UTC',
    ranges: [{ days: [1, 2, 3, 4, 5], from: '12:00', to: '13:00' }],
  };
  assert.equal(inWindow(lunch, U(2026, 10, 27, 12, 59, 59, 999)), true, 'Fri 12:59:59.999');
  assert.equal(inWindow(lunch, U(2026, 10, 27, 13, 0)), false, 'Fri 13:00');
  assert.equal(inWindow(lunch, U(2026, 10, 28, 12, 30)), false, 'Sat');
  assert.equal(iso(nextWindowStart(lunch, U(2026, 10, 27, 13, 0))), '2026-11-30T12:00:00.000Z', 'next Monday');
  assert.equal(describeWindow(lunch), 'Mon-Fri 12:00-13:00 (UTC)');
  const chained: Window = {
    type: 'ranges',
    timezone: 'UTC',
    ranges: [
      { days: [1], from: '22:00', to: '02:00' },
      { days: [2], from: '02:00', to: '04:00' },
    ],
  };
  assert.equal(iso(windowEnd(chained, U(2026, 10, 23, 23, 0))), '2026-11-24T04:00:00.000Z');
  const allDay: Window = {
    type: 'ranges',
    timezone: 'UTC',
    ranges: [{ days: [0, 1, 2, 3, 4, 5, 6], from: '00:00', to: '00:00' }],
  };
  assert.equal(inWindow(allDay, U(2026, 10, 23, 23, 0)), true);
  assert.equal(windowEnd(allDay, U(2026, 10, 23, 23, 0)), null, 'never closes');
  assert.equal(describeWindow(allDay), 'daily 00:00-00:00 (next day) (UTC)');
  const untilMidnight: Window = {
    type: 'ranges',
    timezone: 'UTC',
    ranges: [{ days: [6], from: '20:00', to: '24:00' }],
  };
  assert.equal(inWindow(untilMidnight, U(2026, 10, 28, 23, 59, 59)), true);
  assert.equal(inWindow(untilMidnight, U(2026, 10, 29, 0, 0)), false);
  assert.equal(nextWindowStart({ type: 'ranges', timezone: 'UTC', ranges: [] }, U(2026, 0, 1)), null);
});

test("ranges: the weekday is the zone's, not UTC's", () => {
  const mondayMorning: Window = {
    type: 'ranges',
    timezone: 'Pacific/Auckland',
    ranges: [{ days: [1], from: '00:00', to: '08:00' }],
  };
  // Sun 2026-11-22 12:00 UTC is Mon 01:00 NZDT (UTC+13).
  assert.equal(inWindow(mondayMorning, U(2026, 10, 22, 12, 0)), true);
  // Mon 2026-11-23 12:00 UTC is Tue 01:00 NZDT.
  assert.equal(inWindow(mondayMorning, U(2026, 10, 23, 12, 0)), false);
  assert.equal(iso(windowEnd(mondayMorning, U(2026, 10, 22, 12, 0))), '2026-11-22T19:00:00.000Z');
});

test('ranges spanning midnight across spring forward: Saturday 22:00 CET to Sunday 06:00 CEST is 7 real hours', () => {
  const w: Window = { type: 'ranges', timezone: BERLIN, ranges: [{ days: [6], from: '22:00', to: '06:00' }] };
  assert.equal(inWindow(w, U(2026, 2, 28, 20, 59)), false);
  assert.equal(inWindow(w, U(2026, 2, 28, 21, 0)), true, 'Sat 22:00 CET');
  assert.equal(inWindow(w, U(2026, 2, 29, 3, 59)), true, 'Sun 05:59 CEST');
  assert.equal(inWindow(w, U(2026, 2, 29, 4, 0)), false, 'Sun 06:00 CEST');
  assert.equal(iso(windowEnd(w, U(2026, 2, 28, 21, 0))), '2026-03-29T04:00:00.000Z');
  assert.equal(iso(nextWindowStart(w, U(2026, 2, 28, 12, 0))), '2026-03-28T21:00:00.000Z');
});

test('ranges spanning midnight across fall back: Saturday 22:00 CEST to Sunday 06:00 CET is 9 real hours', () => {
  const w: Window = { type: 'ranges', timezone: BERLIN, ranges: [{ days: [6], from: '22:00', to: '06:00' }] };
  assert.equal(inWindow(w, U(2026, 9, 24, 19, 59)), false);
  assert.equal(inWindow(w, U(2026, 9, 24, 20, 0)), true, 'Sat 22:00 CEST');
  assert.equal(inWindow(w, U(2026, 9, 25, 4, 59)), true, 'Sun 05:59 CET');
  assert.equal(inWindow(w, U(2026, 9, 25, 5, 0)), false, 'Sun 06:00 CET');
  assert.equal(iso(windowEnd(w, U(2026, 9, 24, 20, 0))), '2026-10-25T05:00:00.000Z');
});

test('ranges with times that do not exist or repeat', () => {
  // 02:30 does not exist on 2026-03-29 in Berlin: the range opens when the clocks jump (03:00 CEST).
  const gap: Window = { type: 'ranges', timezone: BERLIN, ranges: [{ days: [0], from: '02:30', to: '04:00' }] };
  assert.equal(inWindow(gap, U(2026, 2, 29, 0, 59)), false, '01:59 CET');
  assert.equal(inWindow(gap, U(2026, 2, 29, 1, 0)), true, '03:00 CEST');
  assert.equal(iso(nextWindowStart(gap, U(2026, 2, 29, 0, 0))), '2026-03-29T01:00:00.000Z');
  assert.equal(iso(windowEnd(gap, U(2026, 2, 29, 1, 0))), '2026-03-29T02:00:00.000Z');
  // 02:30 happens twice on 2026-10-25: a range ending then ends at the first one.
  const fold: Window = { type: 'ranges', timezone: BERLIN, ranges: [{ days: [0], from: '01:00', to: '02:30' }] };
  assert.equal(inWindow(fold, U(2026, 9, 24, 23, 0)), true, '01:00 CEST');
  assert.equal(iso(windowEnd(fold, U(2026, 9, 24, 23, 0))), '2026-10-25T00:30:00.000Z');
  assert.equal(inWindow(fold, U(2026, 9, 25, 1, 15)), false, '02:15 CET, the second time round');
});

test('consistency: next start is inside, end is outside, the minute before the end is inside', () => {
  const windows: Window[] = [
    weeknights,
    fridayNight,
    { type: 'cron', expression: '*/20 1-3 * * 0', timezone: BERLIN },
    {
      type: 'ranges',
      timezone: NY,
      ranges: [
        { days: [0, 6], from: '01:30', to: '03:15' },
        { days: [3], from: '23:00', to: '23:30' },
      ],
    },
  ];
  // Every 97 minutes through the Berlin and New York autumn changes.
  for (const w of windows) {
    for (let t = U(2026, 9, 20); t < U(2026, 10, 5); t += 97 * MIN) {
      const start = nextWindowStart(w, t);
      assert.ok(start !== null && start >= t, describeWindow(w));
      assert.equal(inWindow(w, start), true, `${describeWindow(w)} start ${iso(start)}`);
      if (start > t) assert.equal(inWindow(w, start - 1), false, `${describeWindow(w)} just before ${iso(start)}`);
      const end = windowEnd(w, start);
      assert.ok(end !== null && end > start);
      assert.equal(inWindow(w, end), false, `${describeWindow(w)} end ${iso(end)}`);
      assert.equal(inWindow(w, end - 1), true, `${describeWindow(w)} just before end ${iso(end)}`);
    }
  }
});

test('describeWindow and formatInZone', () => {
  assert.equal(describeWindow(weeknights), 'cron "* 22-23,0-5 * * 1-5" (Europe/Berlin)');
  assert.equal(
    describeWindow({
      type: 'ranges',
      timezone: 'UTC',
      ranges: [
        { days: [6, 0], from: '08:00', to: '10:00' },
        { days: [1, 3, 5], from: '23:00', to: '01:00' },
      ],
    }),
    'Sun,Sat 08:00-10:00, Mon,Wed,Fri 23:00-01:00 (next day) (UTC)',
  );
  assert.equal(formatInZone(U(2026, 10, 25, 21, 0), BERLIN), '2026-11-25 22:00 Europe/Berlin');
  assert.equal(formatInZone(U(2026, 6, 1, 3, 5), NY), '2026-06-30 23:05 America/New_York');
});

test('bad windows are CONFIG errors', () => {
  const isConfig = (re: RegExp) => (e: unknown) => isSafeholdError(e, 'CONFIG') && re.test(e.message);
  assert.throws(
    () => inWindow({ type: 'cron', expression: '* * * *', timezone: 'UTC' }, 0),
    isConfig(/invalid cron expression '\* \* \* \*'/),
  );
  assert.throws(
    () => inWindow({ type: 'cron', expression: '* * * * *', timezone: 'Mars/Olympus' }, 0),
    isConfig(/unknown time zone 'Mars\/Olympus'/),
  );
  assert.throws(
    () =>
      inWindow(
        { type: 'ranges', timezone: 'UTC', ranges: [{ days: [1], from: '25:00', to: '02:00' }] },
        U(2026, 10, 23),
      ),
    isConfig(/invalid time of day '25:00'/),
  );
});
