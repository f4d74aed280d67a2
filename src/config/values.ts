// Parsers for the small value languages of safehold.yaml: durations ('10m',
// '1h30m'), sizes ('10GiB', '500MB'), percentages ('15%'), day names and
// ranges ('mon-fri'), times of day ('22:00'), cron expressions, time zones
// and names; plus the "did you mean" suggestion used in error messages.

import { Cron } from 'croner';

export const DURATION_RE = /^(?:\d+(?:ms|s|m|h|d|w))+$/;
const DURATION_UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** '10m' → 600000; '1h30m' → 5400000. Null when the text is not a duration. */
export function parseDuration(text: string): number | null {
  if (!DURATION_RE.test(text)) return null;
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) ms += Number(m[1]) * DURATION_UNIT_MS[m[2]!]!;
  return Number.isSafeInteger(ms) ? ms : null;
}

export const SIZE_RE = /^(\d+(?:\.\d+)?) ?(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/;
export const PERCENT_RE = /^(\d+(?:\.\d+)?)%$/;
const SIZE_UNIT: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
};

/** '10GiB' → { bytes }, '15%' → { fraction: 0.15 }; null when neither (or a percentage above 100). */
export function parseSizeOrPercent(text: string): { bytes: number } | { fraction: number } | null {
  const s = SIZE_RE.exec(text);
  if (s) {
    const bytes = Math.round(Number(s[1]) * SIZE_UNIT[s[2]!]!);
    return Number.isSafeInteger(bytes) ? { bytes } : null;
  }
  const p = PERCENT_RE.exec(text);
  if (p) {
    const pct = Number(p[1]);
    return pct <= 100 ? { fraction: pct / 100 } : null;
  }
  return null;
}

export const TIME_OF_DAY_RE = /^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$/;

/** '22:30' → minutes since midnight (1350); '24:00' is accepted (end of day). */
export function minutesOfDay(text: string): number | null {
  if (!TIME_OF_DAY_RE.test(text)) return null;
  const [h, m] = text.split(':').map(Number);
  return h! * 60 + m!;
}

const DAY_NAMES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const FULL_DAY_NAMES = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

function dayNumber(word: string): number | null {
  const w = word.toLowerCase();
  const i = DAY_NAMES.indexOf(w);
  if (i >= 0) return i;
  const j = FULL_DAY_NAMES.indexOf(w);
  return j >= 0 ? j : null;
}

/**
 * A day name ('mon', 'monday') or a range ('mon-fri', 'fri-mon' wraps the
 * week) → day numbers, 0 = Sunday … 6 = Saturday (as Date.getDay). Null when
 * it is neither.
 */
export function parseDayWord(text: string): number[] | null {
  const parts = text.split('-');
  if (parts.length === 1) {
    const d = dayNumber(parts[0]!);
    return d === null ? null : [d];
  }
  if (parts.length !== 2) return null;
  const a = dayNumber(parts[0]!);
  const b = dayNumber(parts[1]!);
  if (a === null || b === null) return null;
  const out: number[] = [];
  for (let d = a; ; d = (d + 1) % 7) {
    out.push(d);
    if (d === b) break;
  }
  return out;
}

/** Days as written ('mon-fri' or ['mon', 'wed-thu']) → sorted unique day numbers. */
export function parseDays(days: string | readonly string[]): number[] {
  const words = typeof days === 'string' ? [days] : days;
  const set = new Set<number>();
  for (const w of words) for (const d of parseDayWord(w) ?? []) set.add(d);
  return [...set].sort((x, y) => x - y);
}

/** Whether Intl knows the IANA time zone name. */
export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

let zoneList: string[] | undefined;
/** Known time zone names, for suggestions. */
export function timeZoneNames(): string[] {
  zoneList ??= [...Intl.supportedValuesOf('timeZone'), 'UTC'];
  return zoneList;
}

/** The machine's time zone: the default for schedules and windows. */
export function localTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** Null when `expr` is a valid 5-field cron expression (or @daily etc.); otherwise why not. */
export function cronProblem(expr: string): string | null {
  try {
    new Cron(expr, { paused: true, mode: '5-part' });
    return null;
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).replace(/^CronPattern: /, '');
  }
}

/** Target, unit, site, destination, hook and plan names. */
export const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Damerau–Levenshtein (optimal string alignment) distance, case-insensitive. */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** The closest candidate to `word` when it is close enough to be a likely typo, else null. */
export function closest(word: string, candidates: Iterable<string>): string | null {
  const limit = Math.max(1, Math.floor(word.length / 3));
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD && (d <= limit || c.toLowerCase() === word.toLowerCase())) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** " (did you mean 'x'?)" or ''. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const c = closest(word, candidates);
  return c !== null && c !== word ? ` (did you mean '${c}'?)` : '';
}
