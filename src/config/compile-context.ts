// What the parts of the configuration compiler share: the defaults, the
// problem list, secret resolution, name references with "did you mean"
// hints, and the lookups of sites and hooks. compile.ts builds one
// CompileContext per load and hands it to each part.

import nodePath from 'node:path';
import type { Hook, Secret } from './types.ts';
import type { Problem } from './problems.ts';
import type { PathSegment } from './yaml-source.ts';
import { resolveSecret } from './secrets.ts';
import type { SecretSpec } from './secrets.ts';
import { closest, parseDuration } from './values.ts';

export const DEFAULTS = Object.freeze({
  quiesceGraceMs: 3 * 60_000,
  quiesceTimeoutMs: 2 * 60_000,
  hookTimeoutMs: 5 * 60_000,
  commandTimeoutMs: 60 * 60_000,
  adapterTimeoutMs: 10 * 60_000,
  retryEveryMs: 10 * 60_000,
  retryForMs: 4 * 60 * 60_000,
  purgeRetryForMs: 6 * 60 * 60_000,
  maxParallelRuns: 2,
  lockMaxAgeMs: 12 * 60 * 60_000,
  lockHeartbeatTimeoutMs: 5 * 60_000,
  shutdownGraceMs: 60_000,
  runTimeoutMs: 10 * 60 * 60_000,
  taskTimeoutMs: 4 * 60 * 60_000,
  generationsKept: 2,
  dumpTimeoutMs: 6 * 60 * 60_000,
});

/** Durations were validated by the schema; absent ones take the default. */
export function ms(text: string | undefined, dflt: number): number {
  return text === undefined ? dflt : parseDuration(text)!;
}

export function entries<T>(rec: Record<string, T> | undefined): [string, T][] {
  return Object.entries(rec ?? {});
}

export interface CompileContext {
  readonly baseDir: string;
  readonly problems: Problem[];
  problem(path: PathSegment[], message: string): void;
  secret(path: PathSegment[], spec: SecretSpec): Secret;
  secretMap(path: PathSegment[], rec: Record<string, SecretSpec> | undefined): Record<string, Secret>;
  /** Records a problem unless `name` is defined in `section` (`defined` holds that section). */
  reference(path: PathSegment[], kind: string, section: string, name: string, defined: Record<string, unknown>): void;
  /** The site name, checked against the configured sites (`sections.sites`, filled in once compiled). */
  siteOf(path: PathSegment[], name: string | undefined): string | null;
  /** The hook of this name, checked against the configured hooks (`sections.hooks`, filled in once compiled). */
  hookOf(path: PathSegment[], name: string | undefined): Hook | null;
}

/** The compiled sections that later sections look names up in. */
export interface Sections {
  sites: Record<string, unknown>;
  hooks: Record<string, Hook>;
}

/** A context for one configuration file. */
export function compileContext(file: string, env: NodeJS.ProcessEnv, sections: Sections): CompileContext {
  const baseDir = nodePath.dirname(file);
  const problems: Problem[] = [];
  const problem = (path: PathSegment[], message: string) => {
    problems.push({ path, message, at: { path, mode: 'value' } });
  };
  const secret = (path: PathSegment[], spec: SecretSpec): Secret => {
    const r = resolveSecret(spec, env, baseDir);
    if (!('problem' in r)) return r.secret;
    problem(path, r.problem);
    return { source: 'unresolved', value: '' };
  };
  const reference: CompileContext['reference'] = (path, kind, section, name, defined) => {
    if (Object.hasOwn(defined, name)) return;
    problem(
      path,
      `${kind} '${name}' is not defined under '${section}'${nameHint(name, section, Object.keys(defined))}`,
    );
  };
  return {
    baseDir,
    problems,
    problem,
    secret,
    secretMap: (path, rec) => Object.fromEntries(entries(rec).map(([k, v]) => [k, secret([...path, k], v)])),
    reference,
    siteOf(path, name) {
      if (name === undefined) return null;
      reference([...path, 'site'], 'site', 'sites', name, sections.sites);
      return name;
    },
    hookOf(path, name) {
      if (name === undefined) return null;
      reference(path, 'hook', 'hooks', name, sections.hooks);
      return Object.hasOwn(sections.hooks, name) ? sections.hooks[name]! : null;
    },
  };
}

/** " (did you mean 'x'?)", " (there are no hooks)" or " (defined: a, b, …)". */
function nameHint(name: string, section: string, names: string[]): string {
  const near = closest(name, names);
  if (near !== null) return ` (did you mean '${near}'?)`;
  if (names.length === 0) return ` (there are no ${section})`;
  return ` (defined: ${names.slice(0, 8).join(', ')}${names.length > 8 ? ', …' : ''})`;
}
