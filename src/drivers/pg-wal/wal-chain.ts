// Gap and coverage analysis over the archived WAL file names of one cluster
// (pure, no I/O): for each base backup, whether its own WAL is there and how
// far recovery can replay from it without a hole, following timeline
// switches the way PostgreSQL does with recovery_target_timeline = 'latest';
// the holes in the archive; and which files a retention run may delete once
// only some base backups remain.
//
// Timeline rule (PostgreSQL's XLogFileReadAnyTLI): a timeline that branched
// off its parent at switch LSN L begins at segnoOfLsn(L). From that segment
// on, recovery reads the new timeline's files (the segment holding L exists
// on both timelines, under each one's id); before it, the parent's.

import { parseLsn } from '../pg-ha/lsn.ts';
import { parseHistory as parseHistoryLines } from '../pg-ha/timeline-history.ts';
import { DEFAULT_SEG_SIZE, parseWalName, segmentName, segnoBeforeLsn, segnoOfLsn } from './wal-names.ts';

export interface BaseBackupRef {
  id: string;
  timeline: number;
  startLsn: string;
  stopLsn: string;
  /**
   * The backup holds the WAL from its start to its stop itself (pg_basebackup
   * -X fetch/stream): it is consistent without the archive, which is then
   * only needed from its stop segment on.
   */
  walIncluded?: boolean;
}

/** first and last missing segment file names */
export interface WalGap {
  timeline: number;
  from: string;
  to: string;
}

export interface BackupCoverage {
  id: string;
  /** Every segment from its start segment through its stop segment is archived (or `walIncluded`). */
  consistent: boolean;
  /** The walk reaches the newest archived segment of the newest timeline it can follow with no gap, and no newer timeline descends from the backup's timeline beyond its reach. */
  reachesLatest: boolean;
  /** The first gap on the walk (after its start), null when none. */
  firstGap: WalGap | null;
  /** The last segment recovery can replay from this backup without a gap; null when the walk's first segment is not archived. */
  lastSegment: string | null;
  /** The timeline the walk ends on (the backup's own when no later timeline can be followed). */
  endTimeline: number;
}

export interface ChainReport {
  /** Per base backup: whether every segment from its start segment through its stop segment is present (or it was taken with its WAL inside), and the first gap after it, following timeline switches. */
  backups: BackupCoverage[];
  /** Holes inside any timeline's archived segments and on any backup's walk, merged per timeline. */
  gaps: WalGap[];
  /** Every timeline named by an archived file, ascending. */
  timelines: number[];
  /** The newest segment of the newest timeline with archived segments. */
  newestSegment: string | null;
}

/** One line of a timeline history file: the timeline left and where. */
export interface TimelineSwitch {
  parentTimeline: number;
  switchLsn: bigint;
}

/** A timeline's ancestry: one entry per earlier timeline, oldest first. */
export type Histories = ReadonlyMap<number, readonly TimelineSwitch[]>;

export interface ChainOptions {
  segSize?: number;
  /** Timeline → the switches in its history file (parseHistory). */
  histories?: Histories;
}

/** The lines of a PostgreSQL timeline history file ("parentTLI<TAB>switchLSN<TAB>reason"), oldest first. */
export function parseHistory(text: string): TimelineSwitch[] {
  return parseHistoryLines(text).map((s) => ({ parentTimeline: s.timeline, switchLsn: parseLsn(s.at) }));
}

/** Archived complete segments: timeline → ascending segment numbers. */
type SegIndex = Map<number, bigint[]>;

const cmp = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

function indexFiles(files: readonly string[], segSize: number): { segs: SegIndex; timelines: number[] } {
  const segs: SegIndex = new Map();
  const timelines = new Set<number>();
  for (const f of files) {
    const w = parseWalName(f, segSize);
    if (!w) continue;
    timelines.add(w.timeline);
    if (w.kind !== 'segment') continue;
    let list = segs.get(w.timeline);
    if (!list) segs.set(w.timeline, (list = []));
    list.push(w.segno!);
  }
  for (const [tl, list] of segs) segs.set(tl, [...new Set(list)].sort(cmp));
  return { segs, timelines: [...timelines].sort((a, b) => a - b) };
}

/** A stretch of the walk on one timeline: from segment `begin` until the next leg's begin. */
interface Leg {
  timeline: number;
  begin: bigint;
}

/**
 * The timelines a recovery from `b` follows: the newest timeline whose history
 * leaves the backup's timeline at or after its stop LSN, and whether some
 * newer timeline descends from the backup's timeline but left it before that
 * (so 'latest' is out of the backup's reach).
 */
function legsFor(b: BaseBackupRef, histories: Histories, segSize: number): { legs: Leg[]; outOfReach: boolean } {
  const stop = parseLsn(b.stopLsn);
  let target = b.timeline;
  let outOfReach = false;
  for (const [tl, entries] of histories) {
    if (tl <= b.timeline) continue;
    const leaving = entries.find((e) => e.parentTimeline === b.timeline);
    if (!leaving) continue;
    if (leaving.switchLsn < stop) outOfReach = true;
    else if (tl > target) target = tl;
  }
  const legs: Leg[] = [{ timeline: b.timeline, begin: 0n }];
  if (target === b.timeline) return { legs, outOfReach };
  const entries = histories.get(target)!;
  const i = entries.findIndex((e) => e.parentTimeline === b.timeline);
  for (let k = i; k < entries.length; k++) {
    const child = k + 1 < entries.length ? entries[k + 1]!.parentTimeline : target;
    legs.push({ timeline: child, begin: segnoOfLsn(entries[k]!.switchLsn, segSize) });
  }
  return { legs, outOfReach };
}

/** The archived segments along `legs` from segment `from` on, ascending. */
function presentOnPath(segs: SegIndex, legs: readonly Leg[], from: bigint): bigint[] {
  const out: bigint[] = [];
  legs.forEach((leg, i) => {
    const next = legs[i + 1]?.begin;
    for (const s of segs.get(leg.timeline) ?? []) {
      if (s >= from && s >= leg.begin && (next === undefined || s < next)) out.push(s);
    }
  });
  return out;
}

const timelineAt = (legs: readonly Leg[], s: bigint) => legs.filter((l) => l.begin <= s).at(-1)!.timeline;

/** Missing runs [from, to] between `start` and the last present segment. */
function missingRuns(present: readonly bigint[], start: bigint): { from: bigint; to: bigint }[] {
  const runs: { from: bigint; to: bigint }[] = [];
  let expected = start;
  for (const s of present) {
    if (s > expected) runs.push({ from: expected, to: s - 1n });
    expected = s + 1n;
  }
  return runs;
}

/** A run of missing segment numbers on the walk, cut where the timeline changes. */
interface Run {
  timeline: number;
  from: bigint;
  to: bigint;
}

function splitByLegs(run: { from: bigint; to: bigint }, legs: readonly Leg[]): Run[] {
  const out: Run[] = [];
  let from = run.from;
  while (from <= run.to) {
    const timeline = timelineAt(legs, from);
    const next = legs.find((l) => l.begin > from)?.begin;
    const to = next !== undefined && next - 1n < run.to ? next - 1n : run.to;
    out.push({ timeline, from, to });
    from = to + 1n;
  }
  return out;
}

function toGap(r: Run, segSize: number): WalGap {
  return {
    timeline: r.timeline,
    from: segmentName(r.timeline, r.from, segSize),
    to: segmentName(r.timeline, r.to, segSize),
  };
}

function coverage(
  b: BaseBackupRef,
  segs: SegIndex,
  histories: Histories,
  segSize: number,
): { report: BackupCoverage; runs: Run[] } {
  const { legs, outOfReach } = legsFor(b, histories, segSize);
  const startSeg = segnoOfLsn(b.startLsn, segSize);
  // The last segment holding WAL before the stop position (just the start segment when stop is not after start).
  const stopSeg = parseLsn(b.stopLsn) > parseLsn(b.startLsn) ? segnoBeforeLsn(b.stopLsn, segSize) : startSeg;
  const walkStart = b.walIncluded ? segnoOfLsn(b.stopLsn, segSize) : startSeg;
  const present = presentOnPath(segs, legs, startSeg);
  const inBackup = present.filter((s) => s >= startSeg && s <= stopSeg).length;
  const consistent = b.walIncluded === true || BigInt(inBackup) === stopSeg - startSeg + 1n;
  const walked = present.filter((s) => s >= walkStart);
  const runs = missingRuns(walked, walkStart).flatMap((r) => splitByLegs(r, legs));
  const first = runs[0] ?? null;
  const last = walked[0] === walkStart ? (first ? first.from - 1n : walked.at(-1)!) : null;
  // A backup with its WAL inside and nothing archived after it is as far as anything gets.
  const walkEnds = last !== null || (b.walIncluded === true && walked.length === 0);
  return {
    report: {
      id: b.id,
      consistent,
      reachesLatest: consistent && runs.length === 0 && !outOfReach && walkEnds,
      firstGap: first ? toGap(first, segSize) : null,
      lastSegment: last === null ? null : segmentName(timelineAt(legs, last), last, segSize),
      endTimeline: legs.at(-1)!.timeline,
    },
    runs,
  };
}

/** Holes between the archived segments of each timeline. */
function timelineRuns(segs: SegIndex): Run[] {
  const out: Run[] = [];
  for (const [timeline, list] of segs) {
    if (list.length === 0) continue;
    for (const r of missingRuns(list, list[0]!)) out.push({ timeline, ...r });
  }
  return out;
}

/** Overlapping or touching runs of one timeline made one, sorted by timeline then segment. */
function mergeRuns(runs: readonly Run[]): Run[] {
  const sorted = [...runs].sort((a, b) => a.timeline - b.timeline || cmp(a.from, b.from));
  const out: Run[] = [];
  for (const r of sorted) {
    const prev = out.at(-1);
    if (prev && prev.timeline === r.timeline && r.from <= prev.to + 1n) {
      if (r.to > prev.to) prev.to = r.to;
    } else out.push({ ...r });
  }
  return out;
}

export function analyseChain(
  files: readonly string[],
  backups: readonly BaseBackupRef[],
  opts: ChainOptions = {},
): ChainReport {
  const segSize = opts.segSize ?? DEFAULT_SEG_SIZE;
  const histories: Histories = opts.histories ?? new Map();
  const { segs, timelines } = indexFiles(files, segSize);
  const allRuns = timelineRuns(segs);
  const reports: BackupCoverage[] = [];
  for (const b of backups) {
    const { report, runs } = coverage(b, segs, histories, segSize);
    reports.push(report);
    allRuns.push(...runs);
  }
  const newestTl = [...segs.keys()].filter((tl) => segs.get(tl)!.length > 0).sort((a, b) => b - a)[0];
  return {
    backups: reports,
    gaps: mergeRuns(allRuns).map((r) => toGap(r, segSize)),
    timelines,
    newestSegment: newestTl === undefined ? null : segmentName(newestTl, segs.get(newestTl)!.at(-1)!, segSize),
  };
}

/**
 * Which archived files can be removed when only `kept` base backups remain:
 * everything on any timeline strictly before the oldest kept backup's start
 * segment (segments, partials, backup-label files); history files are always
 * kept. With no kept backup, nothing is removed. Names that are not WAL
 * archive names are never returned.
 */
export function removableWal(
  files: readonly string[],
  kept: readonly BaseBackupRef[],
  segSize: number = DEFAULT_SEG_SIZE,
): string[] {
  if (kept.length === 0) return [];
  const oldest = kept.map((b) => segnoOfLsn(b.startLsn, segSize)).sort(cmp)[0]!;
  return files.filter((f) => {
    const w = parseWalName(f, segSize);
    return w !== null && w.kind !== 'history' && w.segno !== undefined && w.segno < oldest;
  });
}
