// The environment of every program Safehold starts (hooks, command targets
// and device adapters, purge and alert commands, database tools): a short
// allow-list of Safehold's own variables (where to find programs, who and
// where the user is, locale, time zone) plus what that one program needs,
// given explicitly by its caller. Nothing else is passed on, so a secret read
// from the environment (`{ env: NAME }` in safehold.yaml, SAFEHOLD_PASSWORD…)
// never reaches a child, its output or a run log. docs/configuration.md
// lists the variables.

/** Variables passed on from Safehold's environment when set (and LC_*). */
export const INHERITED_ENV: readonly string[] = Object.freeze([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'TZ',
  'TMPDIR',
  'SHELL',
  'TERM',
]);
/** Prefixes of variables passed on: the locale categories. */
const INHERITED_PREFIXES: readonly string[] = ['LC_'];
/** Safehold's own secrets (SAFEHOLD_PASSWORD, SAFEHOLD_NEW_PASSWORD, SAFEHOLD_TO_PASSWORD…): never inherited. */
const OWN_SECRET = /^SAFEHOLD_.*PASSWORD/;

/** Names of variables the loaded configuration read a secret from (marked by config/secrets.ts). */
const secretNames = new Set<string>();

/** Records that a secret was read from this variable: it is never passed on, even if allow-listed. */
export function markSecretEnv(name: string): void {
  secretNames.add(name);
}

/** Whether a variable was marked as a secret's source. */
export function isSecretEnv(name: string): boolean {
  return secretNames.has(name) || OWN_SECRET.test(name);
}

export interface ChildEnvOptions {
  /** The parent environment to pick from (default process.env). */
  readonly base?: NodeJS.ProcessEnv;
  /** More of the parent's variables this child may have (exact names), e.g. a client library's settings. */
  readonly inherit?: (name: string) => boolean;
}

/** Whether a parent variable is on the allow-list (before the secret check). */
function allowed(name: string, extra: ((name: string) => boolean) | undefined): boolean {
  return INHERITED_ENV.includes(name) || INHERITED_PREFIXES.some((p) => name.startsWith(p)) || (extra?.(name) ?? false);
}

/**
 * A child's environment: the allow-listed variables of `base` that are not a
 * secret's source, then `own` (the child's own variables, set as given; an
 * undefined value leaves the name unset).
 */
export function childEnv(
  own: Readonly<Record<string, string | undefined>> = {},
  opts: ChildEnvOptions = {},
): NodeJS.ProcessEnv {
  const base = opts.base ?? process.env;
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(base)) {
    if (value !== undefined && allowed(name, opts.inherit) && !isSecretEnv(name)) env[name] = value;
  }
  for (const [name, value] of Object.entries(own)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}
