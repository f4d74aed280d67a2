// Secrets in safehold.yaml: written inline, as { env: NAME } (an environment
// variable) or as { file: PATH } (the first line of a file, relative paths
// from the configuration file's directory). Resolved once at load. A resolved
// Secret prints as "***(env:NAME)" through JSON.stringify and util.inspect,
// so a secret that slips into a log line or a JSON document shows no value.
// A variable read as a secret is marked (core/child-env.ts): it is never
// passed on to the programs Safehold starts.

import fs from 'node:fs';
import nodePath from 'node:path';
import { inspect } from 'node:util';
import type { Secret } from './types.ts';
import { readFailureReason } from '../core/errors.ts';
import { markSecretEnv } from '../core/child-env.ts';

export type SecretSpec = string | { env?: string | undefined; file?: string | undefined };

/** "***(env:NAME)", "***(file:/etc/safehold/pw)" or "***(inline)". */
export function redactedSecret(s: Secret): string {
  return `***(${s.source})`;
}

/** A Secret whose value never shows in JSON.stringify or console.log. */
export function makeSecret(source: string, value: string): Secret {
  const s = { source, value };
  const shown = `***(${source})`;
  Object.defineProperty(s, 'toJSON', { value: () => shown, enumerable: false });
  Object.defineProperty(s, inspect.custom, { value: () => shown, enumerable: false });
  return s;
}

export function isSecret(v: unknown): v is Secret {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return (
    keys.length === 2 &&
    typeof (v as Secret).source === 'string' &&
    typeof (v as Secret).value === 'string' &&
    keys.includes('source') &&
    keys.includes('value')
  );
}

/**
 * Resolves one secret. `baseDir` anchors relative file paths. Returns the
 * Secret, or the reason it cannot be resolved (naming the variable or file,
 * never a value).
 */
export function resolveSecret(
  spec: SecretSpec,
  env: NodeJS.ProcessEnv,
  baseDir: string,
): { secret: Secret } | { problem: string } {
  if (typeof spec === 'string') return { secret: makeSecret('inline', spec) };
  if (spec.env !== undefined) {
    markSecretEnv(spec.env);
    const v = env[spec.env];
    if (v === undefined) return { problem: `environment variable ${spec.env} is not set` };
    if (v === '') return { problem: `environment variable ${spec.env} is empty` };
    return { secret: makeSecret(`env:${spec.env}`, v) };
  }
  const file = nodePath.resolve(baseDir, spec.file ?? '');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    return { problem: `cannot read secret file ${file}: ${readFailureReason(e)}` };
  }
  const first = text.split(/\r?\n/)[0] ?? '';
  if (first === '') return { problem: `secret file ${file} is empty (the secret is its first line)` };
  return { secret: makeSecret(`file:${file}`, first) };
}

/**
 * Makes `obj` show `shown` in place of some of its fields through
 * JSON.stringify, util.inspect and redactConfig (redact.ts), while the
 * fields keep their values for the code that reads them (the S3 secret key
 * in a destination's backend options).
 */
export function hideFields<T extends object>(obj: T, shown: Partial<Record<keyof T, string>>): T {
  const view = () => ({ ...obj, ...shown });
  Object.defineProperty(obj, 'toJSON', { value: view, enumerable: false });
  Object.defineProperty(obj, inspect.custom, { value: view, enumerable: false });
  return obj;
}
