// Loads safehold.yaml once: read → parse YAML (positions kept) → validate
// against the schema → compile (defaults, durations, sizes, secrets,
// references) → deep-freeze. Every problem found is reported at once in one
// CONFIG error, one line per problem: file:line:col: path: what was expected.

import fs from 'node:fs';
import nodePath from 'node:path';
import { SafeholdError, readFailureReason } from '../core/errors.ts';
import { compileConfig, deepFreeze } from './compile.ts';
import { withSources } from './compile-runbooks.ts';
import { loadRunbookFiles, mergeConfigErrors } from './load-runbooks.ts';
import { configError, errorFromLines, errorMap, problemsFromIssues } from './problems.ts';
import type { Problem } from './problems.ts';
import { contentHash } from './generation.ts';
import { configSchema } from './schema.ts';
import type { Config } from './types.ts';
import { parseYaml } from './yaml-source.ts';
import type { PathSegment } from './yaml-source.ts';

/** Reads, validates and compiles the configuration file; throws a CONFIG SafeholdError listing every problem. */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new SafeholdError('CONFIG', `cannot read configuration file ${file}: ${readFailureReason(e)}`, { cause: e });
  }
  return parseConfig(text, file, env);
}

/** Like loadConfig, for text already read; `file` names it in messages and anchors relative paths. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const src = parseYaml(text);
  if (src.errors.length > 0) {
    throw errorFromLines(
      file,
      src.errors.map((e) => ({ line: e.at?.line ?? null, col: e.at?.col ?? null, path: '', message: e.message })),
    );
  }
  if (src.data === null || src.data === undefined) {
    throw errorFromLines(file, [
      {
        line: 1,
        col: 1,
        path: '',
        message: 'expected a map with settings, sites, targets, destinations, hooks and plans, got an empty file',
      },
    ]);
  }
  const parsed = configSchema.safeParse(src.data, { error: errorMap });
  const reserved = reservedKeys(src.data, []);
  if (!parsed.success || reserved.length > 0) {
    throw configError(file, src, [
      ...reserved,
      ...(parsed.success ? [] : problemsFromIssues(parsed.error.issues, src.data)),
    ]);
  }
  const { config, problems } = compileConfig(parsed.data, nodePath.resolve(file), env);
  const extra = loadRunbookFiles(file, config);
  const errors = [...(problems.length > 0 ? [configError(file, src, problems)] : []), ...extra.errors];
  if (errors.length > 0) throw mergeConfigErrors(errors);
  const inline = Object.values(config.runbooks).map((rb) => withSources(rb, src, file, ['runbooks', rb.name]));
  const runbooks = { ...Object.fromEntries(inline.map((rb) => [rb.name, rb])), ...extra.runbooks };
  return deepFreeze({ ...config, runbooks, hash: contentHash([text, ...extra.texts].join('\n')) });
}

/** '__proto__' as a key (which maps would silently drop) is an error wherever it appears. */
function reservedKeys(v: unknown, path: PathSegment[]): Problem[] {
  if (v === null || typeof v !== 'object') return [];
  if (Array.isArray(v)) return v.flatMap((x, i) => reservedKeys(x, [...path, i]));
  return Object.keys(v).flatMap((k) =>
    k === '__proto__'
      ? [{ path, message: "the key '__proto__' is not allowed", at: { path: [...path, k], mode: 'key' as const } }]
      : reservedKeys((v as Record<string, unknown>)[k], [...path, k]),
  );
}
