// The names of the files PostgreSQL archives (archive_command /
// archive_library): WAL segments TTTTTTTTXXXXXXXXYYYYYYYY (timeline, then the
// segment number split into "log" and "seg" parts, uppercase hex), the last
// segment of an abandoned timeline as <segment>.partial, timeline history
// files TTTTTTTT.history and backup history files
// <segment>.<offset>.backup; and the arithmetic between WAL positions (LSNs)
// and segment numbers. A segment number is log * segsPerLog + seg, with
// segsPerLog = 0x100000000 / segment size.

import { SafeholdError } from '../../core/errors.ts';
import { parseLsn } from '../pg-ha/lsn.ts';

export type WalKind = 'segment' | 'partial' | 'history' | 'backup';

export interface WalName {
  file: string;
  kind: WalKind;
  timeline: number;
  /** segment number (log*segsPerLog + seg) as bigint, for segment/partial/backup */
  segno?: bigint;
}

/** The default WAL segment size, 16 MiB. */
export const DEFAULT_SEG_SIZE = 16 * 1024 * 1024;

const MIN_SEG_SIZE = 1024 * 1024;
const MAX_SEG_SIZE = 1024 * 1024 * 1024;

/** Whether `n` is a WAL segment size PostgreSQL allows: a power of 2 from 1 MiB to 1 GiB. */
export function isValidSegSize(n: number): boolean {
  return Number.isInteger(n) && n >= MIN_SEG_SIZE && n <= MAX_SEG_SIZE && (n & (n - 1)) === 0;
}

function checkSegSize(segSize: number): bigint {
  if (!isValidSegSize(segSize))
    throw new SafeholdError('USAGE', `${segSize} is not a WAL segment size (a power of 2 from 1 MiB to 1 GiB)`);
  return BigInt(segSize);
}

/** Segments per "log" (the middle 8 hex digits of a name). */
function segsPerLog(segSize: number): bigint {
  return 0x100000000n / checkSegSize(segSize);
}

const hex8 = (n: bigint | number) => n.toString(16).toUpperCase().padStart(8, '0');

const SEGMENT = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})$/;
const PARTIAL = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})\.partial$/;
const BACKUP = /^([0-9A-F]{8})([0-9A-F]{8})([0-9A-F]{8})\.[0-9A-F]{8}\.backup$/;
const HISTORY = /^([0-9A-F]{8})\.history$/;

/**
 * What an archived file name is, or null for anything else. Strict: uppercase
 * hex, exact lengths, timeline ≥ 1, the "seg" part below segsPerLog for
 * `segSize` (default 16 MiB).
 */
export function parseWalName(file: string, segSize: number = DEFAULT_SEG_SIZE): WalName | null {
  const h = HISTORY.exec(file);
  if (h) {
    const timeline = Number.parseInt(h[1]!, 16);
    return timeline >= 1 ? { file, kind: 'history', timeline } : null;
  }
  const per = segsPerLog(segSize);
  for (const [kind, re] of [
    ['segment', SEGMENT],
    ['partial', PARTIAL],
    ['backup', BACKUP],
  ] as const) {
    const m = re.exec(file);
    if (!m) continue;
    const timeline = Number.parseInt(m[1]!, 16);
    const seg = BigInt(`0x${m[3]}`);
    if (timeline < 1 || seg >= per) return null;
    return { file, kind, timeline, segno: BigInt(`0x${m[2]}`) * per + seg };
  }
  return null;
}

function checkTimeline(timeline: number): void {
  if (!Number.isInteger(timeline) || timeline < 1 || timeline > 0xffffffff)
    throw new SafeholdError('USAGE', `${timeline} is not a timeline (a whole number from 1 to 4294967295)`);
}

/** The file name of segment `segno` on `timeline`. */
export function segmentName(timeline: number, segno: bigint, segSize: number = DEFAULT_SEG_SIZE): string {
  checkTimeline(timeline);
  const per = segsPerLog(segSize);
  const log = segno / per;
  if (segno < 0n || log > 0xffffffffn) throw new SafeholdError('USAGE', `${segno} is not a WAL segment number`);
  return `${hex8(timeline)}${hex8(log)}${hex8(segno % per)}`;
}

function lsnValue(lsn: string | bigint): bigint {
  const v = typeof lsn === 'bigint' ? lsn : parseLsn(lsn);
  if (v < 0n || v > 0xffffffffffffffffn) throw new SafeholdError('USAGE', `${lsn} is not a WAL position`);
  return v;
}

/**
 * The number of the segment holding the byte at `lsn` (PostgreSQL's
 * XLByteToSeg; pg_walfile_name_offset). A position exactly at a segment
 * boundary belongs to the segment that starts there.
 */
export function segnoOfLsn(lsn: string | bigint, segSize: number = DEFAULT_SEG_SIZE): bigint {
  return lsnValue(lsn) / checkSegSize(segSize);
}

/**
 * The number of the segment holding the byte just before `lsn` (PostgreSQL's
 * XLByteToPrevSeg; pg_walfile_name): the last segment needed to replay up to
 * `lsn`. Position 0 gives segment 0.
 */
export function segnoBeforeLsn(lsn: string | bigint, segSize: number = DEFAULT_SEG_SIZE): bigint {
  const v = lsnValue(lsn);
  return v === 0n ? 0n : (v - 1n) / checkSegSize(segSize);
}

/** The name of the segment on `timeline` holding the byte at `lsn` (see segnoOfLsn). */
export function walFileOfLsn(timeline: number, lsn: string | bigint, segSize: number = DEFAULT_SEG_SIZE): string {
  return segmentName(timeline, segnoOfLsn(lsn, segSize), segSize);
}

/** The WAL position where segment `segno` starts. */
export function lsnOfSegmentStart(segno: bigint, segSize: number = DEFAULT_SEG_SIZE): bigint {
  if (segno < 0n) throw new SafeholdError('USAGE', `${segno} is not a WAL segment number`);
  return segno * checkSegSize(segSize);
}

/** The name of timeline `timeline`'s history file. */
export function historyName(timeline: number): string {
  checkTimeline(timeline);
  return `${hex8(timeline)}.history`;
}
