// Zod building blocks for safehold.yaml: strict maps, names, globs, command
// lines, durations, sizes, cron expressions, time zones, days, secrets.
// Convention for messages: each says what was expected ("expected a duration
// like '10m'"); problems.ts appends ", got <what was there>" (or fills a
// {got} placeholder). The schema stays free of transforms so that it can be
// rendered as JSON Schema; load.ts compiles the validated values.

import { z } from 'zod';
import { globToRegExp } from '../core/glob.ts';
import {
  DURATION_RE,
  NAME_RE,
  PERCENT_RE,
  SIZE_RE,
  TIME_OF_DAY_RE,
  cronProblem,
  didYouMean,
  isTimeZone,
  parseDayWord,
  parseDuration,
  parseSizeOrPercent,
  timeZoneNames,
} from './values.ts';

/** Marks the message of an unknown-key issue; the allowed keys follow, comma-separated. */
export const UNKNOWN_KEYS = '\u0000unknown-keys:';

/** A map with exactly these keys (others are errors, with a suggestion of the closest allowed key). */
export function obj<T extends z.ZodRawShape>(shape: T, expected = 'a map') {
  const keys = Object.keys(shape).join(',');
  return z.strictObject(shape, {
    error: (iss) =>
      iss.code === 'unrecognized_keys'
        ? UNKNOWN_KEYS + keys
        : iss.code === 'invalid_type'
          ? `expected ${expected}`
          : undefined,
  });
}

/** A map from names to values; `what` names the things ('target'). */
export function named<T extends z.ZodType>(what: string, value: T, description: string) {
  return z
    .record(nameOf(what), value, { error: `expected a map of ${what} names to ${what} settings` })
    .describe(description);
}

export function nameOf(what: string) {
  return z.string().regex(NAME_RE, {
    error: `expected a ${what} name of letters, digits, '_', '.' or '-' (not starting with '.' or '-')`,
  });
}

/** A reference by name to something defined elsewhere in the file (checked by load.ts). */
export function ref(what: string) {
  return z.string({ error: `expected the name of a ${what}` }).min(1, { error: `expected the name of a ${what}` });
}

export const text = z.string({ error: 'expected a string' });

export const bool = z.boolean({ error: 'expected true or false' });

export const count = z
  .int({ error: 'expected a whole number' })
  .min(1, { error: 'expected a whole number of at least 1' })
  .max(1_000_000, { error: 'expected a whole number of at most 1000000' });

/** A glob on target or unit names (src/core/glob.ts): '*', '?', '[89]', '[!x]'. */
export const glob = z
  .string({ error: "expected a glob pattern string (e.g. 'QA*')" })
  .min(1, { error: "expected a glob pattern string (e.g. 'QA*')" })
  .superRefine((v, ctx) => {
    try {
      globToRegExp(v);
    } catch {
      ctx.addIssue({
        code: 'custom',
        message:
          "expected a glob pattern like 'QA*' or 'TEST[89]', got {got} (a character class range is out of order)",
      });
    }
  });

/** An exclude pattern of a files unit (src/engine/backup/excluder.ts): a name glob, or an absolute path glob when it has a '/'. */
export const excludePattern = z
  .string({ error: "expected an exclude pattern like '*.tmp' or '/home/*/.cache'" })
  .min(1, { error: "expected an exclude pattern like '*.tmp' or '/home/*/.cache'" });

export const port = z
  .int({ error: 'expected a port number' })
  .min(1, { error: 'expected a port number' })
  .max(65535, { error: 'expected a port number' });

export const path = z.string({ error: 'expected a path' }).min(1, { error: 'expected a path' });

export const argv = z
  .array(z.string({ error: 'expected a string (one argument)' }), {
    error: "expected a command as a list of strings, e.g. [pg_dump, '--format=custom', mydb]",
  })
  .min(1, { error: 'expected a command as a list of at least one string' })
  .refine((a) => a[0] !== '', { error: 'the program name (the first item) must not be empty' });

const DURATION_EXPECTED = "expected a duration like '30s', '10m', '4h' or '1h30m' (units ms, s, m, h, d, w)";
export const duration = z
  .string({ error: DURATION_EXPECTED })
  .regex(DURATION_RE, { error: DURATION_EXPECTED, abort: true })
  .refine((s) => (parseDuration(s) ?? 0) > 0, { error: 'expected a duration above zero' });

const SIZE_EXPECTED =
  "expected a size like '10GiB' or '500MB' (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB) or a percentage like '15%'";
const SIZE_OR_PERCENT_RE = new RegExp(`${SIZE_RE.source}|${PERCENT_RE.source}`);
export const sizeOrPercent = z
  .string({ error: SIZE_EXPECTED })
  .regex(SIZE_OR_PERCENT_RE, { error: SIZE_EXPECTED, abort: true })
  .refine((s) => parseSizeOrPercent(s) !== null, { error: 'expected a percentage from 0% to 100%' });

const CRON_EXPECTED =
  "expected a cron expression of 5 fields (minute hour day-of-month month day-of-week) like '0 2 * * *'";
export const cron = z.string({ error: CRON_EXPECTED }).superRefine((v, ctx) => {
  const why = cronProblem(v);
  if (why !== null) ctx.addIssue({ code: 'custom', message: `${CRON_EXPECTED}, got {got} (${why})` });
});

export const timezone = z
  .string({ error: "expected an IANA time zone name like 'Europe/Paris' or 'UTC'" })
  .superRefine((v, ctx) => {
    if (!isTimeZone(v))
      ctx.addIssue({
        code: 'custom',
        message: `expected an IANA time zone name like 'Europe/Paris' or 'UTC', got {got}${didYouMean(v, timeZoneNames())}`,
      });
  });

export const timeOfDay = z
  .string({ error: "expected a time of day 'HH:MM' (00:00 to 24:00), quoted, like '22:00'" })
  .regex(TIME_OF_DAY_RE, { error: "expected a time of day 'HH:MM' (00:00 to 24:00) like '22:00'" });

const DAY_EXPECTED = "expected a day name (mon, tue, wed, thu, fri, sat, sun) or a range like 'mon-fri'";
const DAY_WORDS = [
  'mon',
  'tue',
  'wed',
  'thu',
  'fri',
  'sat',
  'sun',
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
];
const dayWord = z.string({ error: DAY_EXPECTED }).superRefine((v, ctx) => {
  if (parseDayWord(v) === null) {
    const parts = v.split('-');
    const hint = parts.length <= 2 ? (parts.map((p) => didYouMean(p, DAY_WORDS)).find((s) => s !== '') ?? '') : '';
    ctx.addIssue({ code: 'custom', message: `${DAY_EXPECTED}, got {got}${hint}` });
  }
});
export const days = z.union([dayWord, z.array(dayWord).min(1, { error: 'expected at least one day' })], {
  error: `${DAY_EXPECTED}, or a list of them`,
});

/** A secret: written inline, or { env: NAME }, or { file: PATH } (resolved by secrets.ts). */
export const secretRef = obj({
  env: z
    .string({ error: 'expected an environment variable name' })
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' })
    .optional(),
  file: path.optional(),
}).refine((r) => (r.env === undefined) !== (r.file === undefined), { error: "needs exactly one of 'env' or 'file'" });
export const secret = z
  .union([z.string(), secretRef], { error: 'expected a secret: a string, { env: NAME } or { file: PATH }' })
  .describe(
    'A secret: inline string, { env: NAME } (environment variable) or { file: PATH } (first line of a file). Never printed.',
  );

/** Environment variables for a child process; values are secrets (never printed). */
export const envMap = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'expected an environment variable name' }),
  secret,
  { error: 'expected a map of environment variable names to values' },
);
