// Retention: which snapshots a keep policy keeps (forget by policy, SPEC S1).
// Pure selection, restic's semantics: snapshots are grouped (by host, paths
// and tags by default), and in each group, newest first, `keepLast` keeps the
// n newest; `keepHourly`/`Daily`/`Weekly`/`Monthly`/`Yearly` keep the newest
// snapshot of each of the n newest distinct hours/days/ISO weeks/months/years
// that have one (wall-clock buckets in the given IANA time zone); when a rule
// runs out of buckets before its count, the group's oldest snapshot is kept
// for it too (restic ≥ 0.17), so a young repository keeps its whole history;
// `keepWithinMs` keeps every snapshot at most that long before the NEWEST
// snapshot of the group (not before now: backups that stopped never make it
// remove everything). A snapshot kept by several rules lists every reason.

import type { SnapshotWithId } from '../../repo/snapshot.ts';

/** Retention rules (config's Retention is this type). null = rule not set. */
export interface RetentionPolicy {
  readonly keepLast: number | null;
  readonly keepHourly: number | null;
  readonly keepDaily: number | null;
  readonly keepWeekly: number | null;
  readonly keepMonthly: number | null;
  readonly keepYearly: number | null;
  readonly keepWithinMs: number | null;
}

export type GroupField = 'host' | 'paths' | 'tags';
export const GROUP_FIELDS: readonly GroupField[] = ['host', 'paths', 'tags'];

export type KeepReason = 'last' | 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly' | 'within' | 'empty policy';

export interface KeptSnapshot {
  snapshot: SnapshotWithId;
  /** Why it is kept: 'last', 'daily', 'within', ... (a bucket rule that kept the oldest snapshot for lack of buckets says 'daily' too). */
  reasons: KeepReason[];
}

export interface RetentionGroup {
  /** Unique key of the group (JSON of `fields`); '{}' when not grouping. */
  key: string;
  /** The grouping values of this group (only the fields grouped by). */
  fields: { host?: string; paths?: string[]; tags?: string[] };
  /** Newest first. */
  keep: KeptSnapshot[];
  /** Newest first. */
  remove: SnapshotWithId[];
}

export interface RetentionOptions {
  /** Default: all three. [] puts every snapshot in one group. */
  groupBy?: readonly GroupField[];
  /** IANA time zone for the calendar buckets; default: the machine's. */
  timezone?: string;
}

/** True when no rule is set (every count null or 0 and no keepWithin): such a policy keeps everything, and callers refuse it. */
export function isEmptyPolicy(p: RetentionPolicy): boolean {
  const counts = [p.keepLast, p.keepHourly, p.keepDaily, p.keepWeekly, p.keepMonthly, p.keepYearly];
  return counts.every((c) => c === null || c === 0) && p.keepWithinMs === null;
}

export function applyRetention(
  snapshots: readonly SnapshotWithId[],
  policy: RetentionPolicy,
  opts: RetentionOptions = {},
): { groups: RetentionGroup[] } {
  const groupBy = opts.groupBy ?? GROUP_FIELDS;
  const bucketsOf = bucketFunctions(opts.timezone ?? (Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC'));
  const groups = new Map<string, { fields: RetentionGroup['fields']; snaps: SnapshotWithId[] }>();
  for (const s of snapshots) {
    const fields = groupFields(s, groupBy);
    const key = JSON.stringify(fields);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { fields, snaps: [] }));
    g.snaps.push(s);
  }
  const out: RetentionGroup[] = [];
  for (const key of [...groups.keys()].sort()) {
    const g = groups.get(key)!;
    out.push({ key, fields: g.fields, ...selectInGroup(newestFirst(g.snaps), policy, bucketsOf) });
  }
  return { groups: out };
}

function groupFields(s: SnapshotWithId, groupBy: readonly GroupField[]): RetentionGroup['fields'] {
  const f: RetentionGroup['fields'] = {};
  if (groupBy.includes('host')) f.host = s.hostname;
  if (groupBy.includes('paths')) f.paths = [...new Set(s.paths)].sort();
  if (groupBy.includes('tags')) f.tags = [...new Set(s.tags)].sort();
  return f;
}

/** Newest first: by time, ties by id (the same order as 'latest'). */
function newestFirst(snaps: SnapshotWithId[]): SnapshotWithId[] {
  return [...snaps].sort((a, b) => Date.parse(b.time) - Date.parse(a.time) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
}

type Bucket = (ms: number) => number;

interface Rule {
  reason: KeepReason;
  left: number;
  bucket: Bucket | null;
  last: number | null;
}

function selectInGroup(
  list: SnapshotWithId[],
  p: RetentionPolicy,
  b: Record<'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly', Bucket>,
): Omit<RetentionGroup, 'key' | 'fields'> {
  if (isEmptyPolicy(p)) return { keep: list.map((snapshot) => ({ snapshot, reasons: ['empty policy'] })), remove: [] };
  const rules: Rule[] = [
    { reason: 'last', left: p.keepLast ?? 0, bucket: null, last: null },
    { reason: 'hourly', left: p.keepHourly ?? 0, bucket: b.hourly, last: null },
    { reason: 'daily', left: p.keepDaily ?? 0, bucket: b.daily, last: null },
    { reason: 'weekly', left: p.keepWeekly ?? 0, bucket: b.weekly, last: null },
    { reason: 'monthly', left: p.keepMonthly ?? 0, bucket: b.monthly, last: null },
    { reason: 'yearly', left: p.keepYearly ?? 0, bucket: b.yearly, last: null },
  ];
  const newest = list.length > 0 ? Date.parse(list[0]!.time) : 0;
  const keep: KeptSnapshot[] = [];
  const remove: SnapshotWithId[] = [];
  list.forEach((s, nr) => {
    const t = Date.parse(s.time);
    const reasons: KeepReason[] = [];
    for (const r of rules) {
      if (r.left <= 0) continue;
      const val = r.bucket ? r.bucket(t) : nr;
      // The oldest snapshot is kept for a rule that still has counts left (restic ≥ 0.17).
      if (val !== r.last || nr === list.length - 1) {
        r.last = val;
        r.left--;
        reasons.push(r.reason);
      }
    }
    if (p.keepWithinMs !== null && t >= newest - p.keepWithinMs) reasons.push('within');
    if (reasons.length > 0) keep.push({ snapshot: s, reasons });
    else remove.push(s);
  });
  return { keep, remove };
}

/** Calendar bucket numbers (like restic's: YYYYMMDDHH, YYYYMMDD, YYYYWW, YYYYMM, YYYY) in a time zone, by wall clock. */
function bucketFunctions(timezone: string): Record<'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly', Bucket> {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone: timezone,
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    hourCycle: 'h23',
  });
  const cache = new Map<number, [number, number, number, number]>();
  const parts = (ms: number): [number, number, number, number] => {
    let p = cache.get(ms);
    if (!p) {
      const v: Record<string, number> = {};
      for (const x of fmt.formatToParts(ms)) if (x.type !== 'literal') v[x.type] = Number(x.value);
      cache.set(ms, (p = [v.year!, v.month!, v.day!, v.hour!]));
    }
    return p;
  };
  return {
    hourly: (ms) => {
      const [y, m, d, h] = parts(ms);
      return ((y * 100 + m) * 100 + d) * 100 + h;
    },
    daily: (ms) => {
      const [y, m, d] = parts(ms);
      return (y * 100 + m) * 100 + d;
    },
    weekly: (ms) => {
      const [y, m, d] = parts(ms);
      const [wy, w] = isoWeek(y, m, d);
      return wy * 100 + w;
    },
    monthly: (ms) => {
      const [y, m] = parts(ms);
      return y * 100 + m;
    },
    yearly: (ms) => parts(ms)[0],
  };
}

/** ISO 8601 week-numbering year and week of a calendar date. */
export function isoWeek(year: number, month: number, day: number): [number, number] {
  const date = new Date(Date.UTC(year, month - 1, day));
  const dow = date.getUTCDay() || 7; // Monday 1 … Sunday 7
  date.setUTCDate(date.getUTCDate() + 4 - dow); // the Thursday of the same week decides the year
  const wy = date.getUTCFullYear();
  return [wy, Math.floor((date.getTime() - Date.UTC(wy, 0, 1)) / 86_400_000 / 7) + 1];
}
