// Turns what is wrong with a configuration file into one CONFIG error whose
// message has one line per problem, in file order:
//   safehold.yaml:14:9: plans.nightly.activities[1].units: expected a glob pattern string (e.g. 'QA*'), got a number
// Zod issues are translated here (unknown keys with "did you mean", missing
// keys, unions reduced to the branch that fits the value's shape).

import type { z } from 'zod';
import { SafeholdError } from '../core/errors.ts';
import { UNKNOWN_KEYS } from './schema-values.ts';
import { didYouMean } from './values.ts';
import type { PathSegment, Position, YamlSource } from './yaml-source.ts';

export interface Problem {
  /** The path shown in the message (empty: the top level). */
  path: PathSegment[];
  message: string;
  /** Where it points in the file: the value at a path, or the key naming it. */
  at: { path: PathSegment[]; mode: 'key' | 'value' };
}

/** At most this many problems are listed; the rest are counted. */
export const MAX_PROBLEMS = 20;

/** plans.nightly.activities[1].units; names that are not plain words are quoted: targets["a.b"]. */
export function formatPath(path: readonly PathSegment[]): string {
  let s = '';
  for (const seg of path) {
    if (typeof seg === 'number') s += `[${seg}]`;
    else if (/^[A-Za-z0-9_][A-Za-z0-9_-]*$/.test(seg)) s += s === '' ? seg : `.${seg}`;
    else s += `[${JSON.stringify(seg)}]`;
  }
  return s;
}

/** How a value is shown after "got": its type, or (for strings and numbers) the value itself. */
export function describeValue(v: unknown, typeOnly: boolean): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (typeof v === 'object') return Object.keys(v).length === 0 ? 'an empty map' : 'a map';
  if (typeof v === 'string') {
    if (typeOnly) return 'a string';
    if (v === '') return 'an empty string';
    return `'${v.length > 40 ? `${v.slice(0, 37)}...` : v}'`;
  }
  if (typeof v === 'number') return typeOnly || !Number.isFinite(v) ? 'a number' : String(v);
  if (typeof v === 'boolean') return typeOnly ? 'true/false' : String(v);
  return typeof v;
}

export function valueAt(data: unknown, path: readonly PathSegment[]): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

const TYPE_PHRASE: Record<string, string> = {
  object: 'a map',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
};

/** Messages for issues whose schema gives none (passed to safeParse). */
export const errorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      return `expected ${TYPE_PHRASE[iss.expected] ?? iss.expected}`;
    case 'invalid_value':
      return `expected ${iss.values.map((x) => `'${String(x)}'`).join(iss.values.length > 2 ? ', ' : ' or ')}`;
    case 'too_small':
      return iss.origin === 'array'
        ? `expected at least ${String(iss.minimum)} item(s)`
        : `expected at least ${String(iss.minimum)}`;
    case 'too_big':
      return iss.origin === 'array'
        ? `expected at most ${String(iss.maximum)} item(s)`
        : `expected at most ${String(iss.maximum)}`;
    case 'invalid_format':
      return `expected a ${iss.format}${iss.pattern ? ` matching ${iss.pattern}` : ''}`;
    default:
      return undefined;
  }
};

function isPlainMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Zod issues → problems. `data` is what was validated; `base` prefixes the issue paths (for union branches). */
export function problemsFromIssues(
  issues: readonly z.core.$ZodIssue[],
  data: unknown,
  base: PathSegment[] = [],
): Problem[] {
  const out: Problem[] = [];
  for (const iss of issues) {
    const path = [...base, ...(iss.path as PathSegment[])];
    if (iss.code === 'invalid_union' && iss.errors.length > 0) {
      // Keep the branches that fit the shape of the value (a map for a map branch, a string for a string branch).
      const fitting = iss.errors.filter(
        (branch) =>
          !branch.some((b) => b.path.length === 0 && (b.code === 'invalid_type' || b.code === 'invalid_value')),
      );
      if (fitting.length === 1) {
        out.push(...problemsFromIssues(fitting[0]!, data, path));
        continue;
      }
    }
    if (iss.code === 'unrecognized_keys') {
      const allowed = iss.message.startsWith(UNKNOWN_KEYS) ? iss.message.slice(UNKNOWN_KEYS.length).split(',') : [];
      for (const k of iss.keys)
        out.push({
          path,
          message: `unknown key '${k}'${didYouMean(k, allowed)}`,
          at: { path: [...path, k], mode: 'key' },
        });
      continue;
    }
    if (iss.code === 'invalid_key') {
      const key = path[path.length - 1];
      const inner = iss.issues[0]?.message ?? 'invalid name';
      out.push({
        path: path.slice(0, -1),
        message: `invalid name '${String(key)}': ${inner}`,
        at: { path, mode: 'key' },
      });
      continue;
    }
    const value = valueAt(data, path);
    const parent = valueAt(data, path.slice(0, -1));
    const key = path[path.length - 1];
    if (value === undefined && typeof key === 'string' && isPlainMap(parent) && !(key in parent)) {
      out.push({
        path: path.slice(0, -1),
        message: `missing required key '${key}'`,
        at: { path: path.slice(0, -1), mode: 'key' },
      });
      continue;
    }
    out.push({ path, message: withGot(iss, value), at: { path, mode: 'value' } });
  }
  return out;
}

function withGot(iss: z.core.$ZodIssue, value: unknown): string {
  // Show the type, not the value, when the type is wrong (a number where a secret goes must not be echoed).
  const typeOnly = iss.code === 'invalid_type' || (iss.code === 'invalid_union' && typeof value !== 'string');
  let msg = iss.message;
  if (msg.includes('{got}')) return msg.replace('{got}', describeValue(value, typeOnly));
  if (!msg.startsWith('expected')) return msg;
  msg += `, got ${describeValue(value, typeOnly)}`;
  if (iss.code === 'invalid_value' && typeof value === 'string') msg += didYouMean(value, iss.values.map(String));
  if (iss.code === 'invalid_union' && 'options' in iss && Array.isArray(iss.options) && typeof value === 'string') {
    msg += didYouMean(value, (iss.options as unknown[]).map(String));
  }
  return msg;
}

export interface ProblemLine {
  line: number | null;
  col: number | null;
  path: string;
  message: string;
}

/** The CONFIG error listing `problems` (sorted by position, at most MAX_PROBLEMS) for `file` as the user named it. */
export function configError(file: string, src: YamlSource | null, problems: readonly Problem[]): SafeholdError {
  const located = problems.map((p, i) => ({ p, i, pos: src?.locate(p.at.path, p.at.mode) ?? null }));
  located.sort((a, b) => cmpPos(a.pos, b.pos) || a.i - b.i);
  const seen = new Set<string>();
  const lines: ProblemLine[] = [];
  for (const { p, pos } of located) {
    const line: ProblemLine = {
      line: pos?.line ?? null,
      col: pos?.col ?? null,
      path: formatPath(p.path),
      message: p.message,
    };
    const key = JSON.stringify(line);
    if (seen.has(key)) continue;
    seen.add(key);
    lines.push(line);
  }
  return errorFromLines(file, lines);
}

/** The CONFIG error for problem lines already placed (also used for YAML syntax errors). */
export function errorFromLines(file: string, lines: ProblemLine[]): SafeholdError {
  const shown = lines.slice(0, MAX_PROBLEMS).map((l) => renderLine(file, l));
  if (lines.length > MAX_PROBLEMS) shown.push(`${file}: ... and ${lines.length - MAX_PROBLEMS} more problems`);
  return new SafeholdError('CONFIG', shown.join('\n'), { details: { file, problems: lines } });
}

export function renderLine(file: string, l: ProblemLine): string {
  const where = l.line !== null ? `${file}:${l.line}:${l.col}` : file;
  return l.path ? `${where}: ${l.path}: ${l.message}` : `${where}: ${l.message}`;
}

function cmpPos(a: Position | null, b: Position | null): number {
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  return a.line - b.line || a.col - b.col;
}
