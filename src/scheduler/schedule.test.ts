// Due times of cron schedules in IANA time zones across daylight saving
// changes, and the schedule loop on an injected clock (fires at due times,
// fires once for due times it slept through).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../core/clock.ts';
import { dueTimes, nextDue } from './schedule.ts';
import { Scheduler } from './scheduler.ts';
import type { Plan } from '../config/types.ts';

const iso = (ms: number[]) => ms.map((t) => new Date(t).toISOString().slice(0, 16));

describe('cron schedules in time zones (DST)', () => {
  it('a daily 02:30 in Europe/Berlin runs once on the spring-forward day, at 03:00 local, and once on the fall-back day', () => {
    const berlin = { cron: '30 2 * * *', timezone: 'Europe/Berlin' };
    assert.deepEqual(iso(dueTimes(berlin, Date.UTC(2026, 2, 27, 12), Date.UTC(2026, 2, 31, 12))), [
      '2026-03-28T01:30',
      '2026-03-29T01:00',
      '2026-03-30T00:30',
      '2026-03-31T00:30',
    ]);
    assert.deepEqual(iso(dueTimes(berlin, Date.UTC(2026, 9, 23, 12), Date.UTC(2026, 9, 27, 12))), [
      '2026-10-24T00:30',
      '2026-10-25T00:30',
      '2026-10-26T01:30',
      '2026-10-27T01:30',
    ]);
  });

  it('an hourly schedule runs every real hour through the fall-back hour (02:00 local twice)', () => {
    const hourly = { cron: '0 * * * *', timezone: 'Europe/Berlin' };
    assert.deepEqual(iso(dueTimes(hourly, Date.UTC(2026, 9, 24, 23, 30), Date.UTC(2026, 9, 25, 3, 0))), [
      '2026-10-25T00:00',
      '2026-10-25T01:00',
      '2026-10-25T02:00',
      '2026-10-25T03:00',
    ]);
  });

  it('America/New_York and UTC schedules are due at their own midnights', () => {
    assert.equal(
      new Date(
        nextDue({ cron: '0 0 * * *', timezone: 'America/New_York' }, Date.UTC(2026, 10, 25, 0, 0))!,
      ).toISOString(),
      '2026-11-25T05:00:00.000Z',
    );
    assert.equal(
      new Date(nextDue({ cron: '0 0 * * *', timezone: 'UTC' }, Date.UTC(2026, 10, 25, 0, 0))!).toISOString(),
      '2026-11-26T00:00:00.000Z',
    );
  });
});

describe('the schedule loop', () => {
  const plan = (name: string, cron: string | null) =>
    ({ name, schedule: cron ? { cron, timezone: 'UTC' } : null }) as unknown as Plan;

  it('fires each scheduled plan at its due times, and a plan without a schedule never', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 25, 1, 58));
    const fired: [string, string, number][] = [];
    const s = new Scheduler({
      plans: [plan('a', '0 2 * * *'), plan('b', '*/30 * * * *'), plan('c', null)],
      clock,
      onDue: (p, at, missed) => fired.push([p.name, iso([at])[0]!, missed]),
    });
    s.start();
    for (let i = 0; i < 40; i++) await clock.advance(60_000);
    await s.stop();
    assert.deepEqual(fired, [
      ['a', '2026-11-25T02:00', 0],
      ['b', '2026-11-25T02:00', 0],
      ['b', '2026-11-25T02:30', 0],
    ]);
  });

  it('a loop that wakes late fires once, for the latest due time it slept through', async () => {
    const clock = new ManualClock(Date.UTC(2026, 10, 25, 1, 58));
    const fired: [string, number][] = [];
    const s = new Scheduler({
      plans: [plan('b', '*/10 * * * *')],
      clock,
      onDue: (_p, at, missed) => fired.push([iso([at])[0]!, missed]),
    });
    s.start();
    await new Promise((r) => setImmediate(r));
    clock.set(Date.UTC(2026, 10, 25, 2, 35));
    await clock.advance(0);
    await s.stop();
    assert.deepEqual(fired, [['2026-11-25T02:30', 3]]);
  });
});
