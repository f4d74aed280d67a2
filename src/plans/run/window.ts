// Maintenance windows (SPEC S3 step 2, S4 step 1): is an instant inside a
// plan's window, when does the window next open, when does the current one
// close. Three forms: 'always'; 'cron' — the set of local minutes matched by a
// 5-field cron expression (croner) in an IANA time zone; 'ranges' — day/time
// ranges in local time. Local times come from Intl.DateTimeFormat, so every
// answer is correct across daylight-saving changes:
//  - cron works on the local wall clock: a repeated hour (clocks go back) is
//    matched twice, a skipped hour (clocks go forward) never.
//  - a range is a real-time interval [from, to) that belongs to the local day
//    it starts on and wraps past midnight when `to` <= `from`. A local time that
//    does not exist (skipped) means the moment the clocks jump; an ambiguous one
//    (repeated) means its first occurrence.

import { Cron } from 'croner';
import type { Window } from '../../config/types.ts';
import { SafeholdError } from '../../core/errors.ts';

const MINUTE = 60_000;
const DAY = 86_400_000;
/** How far ahead nextWindowStart / windowEnd look before giving up. */
const HORIZON = 400 * DAY;
const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

type RangesWindow = Extract<Window, { type: 'ranges' }>;
type CronWindow = Extract<Window, { type: 'cron' }>;

// ---------------------------------------------------------------- time zones

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: tz,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch (e) {
      throw new SafeholdError('CONFIG', `unknown time zone '${tz}'`, { cause: e });
    }
    formatters.set(tz, f);
  }
  return f;
}

/** The local wall-clock time at `ms` in `tz`, as milliseconds of a UTC date with the same fields. */
function wallClock(tz: string, ms: number): number {
  const p: Record<string, number> = {};
  for (const part of formatter(tz).formatToParts(ms)) {
    if (part.type !== 'literal') p[part.type] = Number(part.value);
  }
  // Proleptic years below 100 would be misread by Date.UTC; not a concern for windows.
  return Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
}

/** UTC offset of `tz` at `ms`, in ms (local = utc + offset). */
function offsetAt(tz: string, ms: number): number {
  return wallClock(tz, ms) - (ms - (((ms % 1000) + 1000) % 1000));
}

/**
 * The instant at which the wall clock of `tz` shows `wall` (ms of a UTC date with
 * the local fields). Ambiguous: the first occurrence. Skipped: the moment the
 * clocks jump past it (the first instant whose wall clock is later).
 */
function fromWallClock(tz: string, wall: number): number {
  const o1 = offsetAt(tz, wall - DAY);
  const o2 = offsetAt(tz, wall + DAY);
  const candidates = [wall - o1, wall - o2].filter((t) => offsetAt(tz, t) === wall - t);
  if (candidates.length > 0) return Math.min(...candidates);
  // In a gap: binary-search the transition between the two candidate instants.
  let lo = Math.min(wall - o1, wall - o2);
  let hi = Math.max(wall - o1, wall - o2);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallClock(tz, mid) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** 'YYYY-MM-DD HH:MM' local time in `tz`. */
function formatWall(wall: number): string {
  return new Date(wall).toISOString().slice(0, 16).replace('T', ' ');
}

/** '2026-11-25 22:00 Europe/Berlin': an instant shown on the local clock of `tz`. */
export function formatInZone(ms: number, tz: string): string {
  return `${formatWall(wallClock(tz, ms))} ${tz}`;
}

// ---------------------------------------------------------------- ranges

/** 'HH:MM' (00:00..24:00) to minutes after midnight. */
export function parseClock(s: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(s);
  const h = m ? Number(m[1]) : NaN;
  const min = m ? Number(m[2]) : NaN;
  if (!m || h > 24 || min > 59 || (h === 24 && min !== 0)) {
    throw new SafeholdError('CONFIG', `invalid time of day '${s}', expected HH:MM between 00:00 and 24:00`);
  }
  return h * 60 + min;
}

interface Interval {
  start: number;
  end: number;
}

/** The real-time intervals of ranges that start on the local days from `firstDay` to `lastDay` (wall ms at midnight). */
function intervals(w: RangesWindow, firstDay: number, lastDay: number): Interval[] {
  const out: Interval[] = [];
  for (let day = firstDay; day <= lastDay; day += DAY) {
    const weekday = new Date(day).getUTCDay();
    for (const r of w.ranges) {
      if (!r.days.includes(weekday)) continue;
      const from = parseClock(r.from);
      const to = parseClock(r.to);
      const start = fromWallClock(w.timezone, day + from * MINUTE);
      const end = fromWallClock(w.timezone, day + (to <= from ? DAY : 0) + to * MINUTE);
      if (end > start) out.push({ start, end });
    }
  }
  return out;
}

function localMidnight(tz: string, ms: number): number {
  const wall = wallClock(tz, ms);
  return wall - (((wall % DAY) + DAY) % DAY);
}

function rangesContaining(w: RangesWindow, now: number): Interval[] {
  const today = localMidnight(w.timezone, now);
  // A range lasts at most a day (25 h with DST), so it started today, yesterday or (DST at midnight) the day before.
  return intervals(w, today - 2 * DAY, today).filter((i) => i.start <= now && now < i.end);
}

// ---------------------------------------------------------------- cron

const crons = new Map<string, Cron>();

function cronOf(w: CronWindow): Cron {
  const key = `${w.timezone}\u0000${w.expression}`;
  let c = crons.get(key);
  if (!c) {
    formatter(w.timezone); // a clear error for an unknown zone
    try {
      c = new Cron(w.expression, { timezone: w.timezone, paused: true, mode: '5-part' });
    } catch (e) {
      throw new SafeholdError(
        'CONFIG',
        `invalid cron expression '${w.expression}': ${e instanceof Error ? e.message : String(e)}`,
        { cause: e },
      );
    }
    crons.set(key, c);
  }
  return c;
}

function cronMatches(w: CronWindow, ms: number): boolean {
  return cronOf(w).match(new Date(Math.floor(ms / MINUTE) * MINUTE));
}

function isWildcard(field: string | undefined): boolean {
  return field === '*' || field === '*/1';
}

// ---------------------------------------------------------------- API

/** Whether `nowMs` lies inside the window. */
export function inWindow(w: Window, nowMs: number): boolean {
  switch (w.type) {
    case 'always':
      return true;
    case 'cron':
      return cronMatches(w, nowMs);
    case 'ranges':
      return rangesContaining(w, nowMs).length > 0;
  }
}

/** When the window next opens: `nowMs` if inside, null if it never opens (within ~400 days). */
export function nextWindowStart(w: Window, nowMs: number): number | null {
  if (inWindow(w, nowMs)) return nowMs;
  if (w.type === 'always') return nowMs;
  if (w.type === 'cron') {
    const cron = cronOf(w);
    let t = nowMs;
    // croner's own DST rules may move a run out of the matched minutes; check each candidate.
    for (let i = 0; i < 10_000; i++) {
      const next = cron.nextRun(new Date(t));
      if (!next || next.getTime() > nowMs + HORIZON) return null;
      if (cronMatches(w, next.getTime())) return next.getTime();
      t = next.getTime();
    }
    return null;
  }
  const today = localMidnight(w.timezone, nowMs);
  const starts = intervals(w, today - DAY, today + 15 * DAY)
    .map((i) => i.start)
    .filter((s) => s > nowMs);
  return starts.length ? Math.min(...starts) : null;
}

/**
 * When the window around `nowMs` closes (the first instant outside it). Null
 * when `nowMs` is outside the window, or the window never closes (within ~400 days).
 */
export function windowEnd(w: Window, nowMs: number): number | null {
  if (w.type === 'always' || !inWindow(w, nowMs)) return null;
  if (w.type === 'cron') {
    const [minute, hour] = w.expression.trim().split(/\s+/);
    const wholeHours = isWildcard(minute);
    const wholeDays = wholeHours && isWildcard(hour);
    let t = Math.floor(nowMs / MINUTE) * MINUTE;
    while (cronMatches(w, t)) {
      if (t > nowMs + HORIZON) return null;
      const wall = wallClock(w.timezone, t);
      if (wholeDays) {
        t = Math.max(t + MINUTE, fromWallClock(w.timezone, wall - (((wall % DAY) + DAY) % DAY) + DAY));
      } else if (wholeHours) {
        // To the next local full hour, unless a clock change lies in between.
        const next = t + (60 - new Date(wall).getUTCMinutes()) * MINUTE;
        t = offsetAt(w.timezone, next) === wall - t ? next : t + MINUTE;
      } else {
        t += MINUTE;
      }
    }
    return t;
  }
  let end = Math.max(...rangesContaining(w, nowMs).map((i) => i.end));
  // Ranges that touch or overlap extend the window.
  for (;;) {
    if (end > nowMs + HORIZON) return null;
    const today = localMidnight(w.timezone, end);
    const later = intervals(w, today - 2 * DAY, today).filter((i) => i.start <= end && end < i.end);
    if (later.length === 0) return end;
    end = Math.max(...later.map((i) => i.end));
  }
}

/** A human description: 'always', 'cron "* 22-23 * * 1-5" (Europe/Berlin)', 'Fri 22:00-06:00 (next day) (Europe/Berlin)'. */
export function describeWindow(w: Window): string {
  switch (w.type) {
    case 'always':
      return 'always';
    case 'cron':
      return `cron "${w.expression}" (${w.timezone})`;
    case 'ranges': {
      if (w.ranges.length === 0) return `never (${w.timezone})`;
      const parts = w.ranges.map((r) => {
        const wraps = parseClock(r.to) <= parseClock(r.from);
        return `${describeDays(r.days)} ${r.from}-${r.to}${wraps ? ' (next day)' : ''}`;
      });
      return `${parts.join(', ')} (${w.timezone})`;
    }
  }
}

function describeDays(days: readonly number[]): string {
  const sorted = [...new Set(days)].sort((a, b) => a - b);
  if (sorted.length === 7) return 'daily';
  if (sorted.length === 0) return 'no day';
  // Runs of consecutive days as 'Mon-Fri'.
  const out: string[] = [];
  let i = 0;
  while (i < sorted.length) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(
      j - i >= 2
        ? `${DAY_NAMES[sorted[i]!]}-${DAY_NAMES[sorted[j]!]}`
        : sorted
            .slice(i, j + 1)
            .map((d) => DAY_NAMES[d])
            .join(','),
    );
    i = j + 1;
  }
  return out.join(',');
}

/** The reason for a refusal: 'outside the maintenance window (opens 2026-11-25 22:00 Europe/Berlin)'. */
export function outsideWindowReason(w: Window, nowMs: number): string {
  const next = nextWindowStart(w, nowMs);
  const tz = w.type === 'always' ? 'UTC' : w.timezone;
  return next === null
    ? `outside the maintenance window ${describeWindow(w)}, which never opens`
    : `outside the maintenance window (opens ${formatInZone(next, tz)})`;
}
