// What a CLI command is: its name, one-line summary, usage text, options
// (util.parseArgs format) and a run function. Global options are shared.

import type { ParseArgsConfig } from 'node:util';
import type { Output } from './output.ts';
import type { ExitCode } from './exit-codes.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface CommandContext {
  values: Values;
  positionals: string[];
  out: Output;
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: OptionSpec;
  /** Resolves to the exit code: a member of EXIT (exit-codes.ts). */
  run(ctx: CommandContext): Promise<ExitCode>;
}

export const GLOBAL_OPTIONS: OptionSpec = {
  config: { type: 'string', short: 'c' },
  repo: { type: 'string', short: 'r' },
  destination: { type: 'string' },
  'password-file': { type: 'string' },
  connections: { type: 'string' },
  'limit-upload': { type: 'string' },
  'limit-download': { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  help: { type: 'boolean', short: 'h' },
};

export const GLOBAL_USAGE = `Global options:
  -c, --config FILE        the configuration (or SAFEHOLD_CONFIG): its settings.dataDir holds the catalog
  -r, --repo LOCATION      repository (or SAFEHOLD_REPOSITORY): a path, s3:https://host:port/bucket/prefix,
                           s3:bucket/prefix or sftp:user@host:port:/path
      --destination NAME   instead of --repo: a repository destination of the configuration (its location,
                           password and remote settings)
      --password-file FILE read the password from FILE (or SAFEHOLD_PASSWORD, or a prompt on a TTY)
      --connections N      remote repositories: requests in flight at once (or SAFEHOLD_CONNECTIONS; default 8)
      --limit-upload SIZE  remote repositories: bytes per second sent, e.g. 10MiB (or SAFEHOLD_LIMIT_UPLOAD)
      --limit-download SIZE  remote repositories: bytes per second received (or SAFEHOLD_LIMIT_DOWNLOAD)
      --json               print one JSON document on stdout
  -q, --quiet              no progress, no human summary
  -h, --help               this help`;

export function str(v: Values, k: string): string | undefined {
  const x = v[k];
  return typeof x === 'string' ? x : undefined;
}

export function list(v: Values, k: string): string[] {
  const x = v[k];
  return Array.isArray(x) ? x : typeof x === 'string' ? [x] : [];
}
