// The target schemas of safehold.yaml (zod): files, command, device (with
// its HTTP or command adapter), postgres, mariadb and sqlite, as the
// discriminated union `target` on 'kind'. Part of the schema of schema.ts.

import { z } from 'zod';
import {
  argv,
  duration,
  envMap,
  excludePattern,
  glob,
  named,
  obj,
  path,
  port,
  ref,
  secret,
  text,
} from './schema-values.ts';

const httpAdapter = obj({
  url: z.string({ error: "expected an http(s) URL like 'https://qa1.example.com:5554'" }).superRefine((v, ctx) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: "expected an http(s) URL like 'https://qa1.example.com:5554'" });
      return;
    }
    // Never echo a URL that carries credentials.
    if (u.username !== '' || u.password !== '')
      ctx.addIssue({ code: 'custom', message: "must not contain credentials (put them in 'token')" });
    else if (u.protocol !== 'http:' && u.protocol !== 'https:')
      ctx.addIssue({ code: 'custom', message: 'expected an http:// or https:// URL' });
  }),
  token: secret.optional().describe('Bearer token sent to the adapter (a secret).'),
});

const adapter = obj({
  http: httpAdapter.optional().describe('HTTP adapter (docs/adapters.md).'),
  command: argv.optional().describe('Command adapter: program and leading arguments (docs/adapters.md).'),
  env: envMap.optional().describe('Environment of the command adapter (values are secrets).'),
  timeout: duration.optional().describe('Timeout of one adapter call (default 10m).'),
}).superRefine((a, ctx) => {
  if ((a.http === undefined) === (a.command === undefined))
    ctx.addIssue({ code: 'custom', message: "needs exactly one of 'http' or 'command'" });
  else if (a.http !== undefined && a.env !== undefined)
    ctx.addIssue({ code: 'custom', message: "'env' is only allowed with a 'command' adapter", path: ['env'] });
});

const filesUnit = obj({
  paths: z.array(path, { error: 'expected a list of paths' }).min(1, { error: 'expected at least one path' }),
  exclude: z
    .array(excludePattern, { error: 'expected a list of exclude patterns' })
    .optional()
    .describe(
      "Left out: a pattern without '/' matches a name at any depth ('*.tmp', 'node_modules'), with '/' the absolute path ('/home/*/.cache').",
    ),
});

const filesTarget = obj({
  kind: z.literal('files'),
  site: ref('site').optional(),
  units: named('unit', filesUnit, 'Units: named path sets.').refine((u) => Object.keys(u).length > 0, {
    error: 'expected at least one unit',
  }),
});

const commandTarget = obj({
  kind: z.literal('command'),
  site: ref('site').optional(),
  backup: argv.describe("Writes a unit's backup to stdout (SAFEHOLD_UNIT names the unit)."),
  restore: argv.optional().describe("Reads a unit's backup from stdin."),
  listUnits: argv.optional().describe("Prints unit names, one per line (default: one unit named 'default')."),
  probe: argv.optional().describe('Exits 0 when the target is available (default: always available).'),
  timeout: duration.optional().describe('Timeout of each command (default 1h).'),
  env: envMap.optional().describe('Environment of the commands (values are secrets).'),
});

const deviceTarget = obj({
  kind: z.literal('device'),
  site: ref('site').optional(),
  adapter,
});

const serverDb = (kind: 'postgres' | 'mariadb', dflt: { port: number; user: string }) =>
  obj({
    kind: z.literal(kind),
    site: ref('site').optional(),
    host: text.optional().describe('Default 127.0.0.1.'),
    port: port.optional().describe(`Default ${dflt.port}.`),
    user: text.optional().describe(`Default '${dflt.user}'.`),
    password: secret
      .optional()
      .describe('A secret; passed to the dump tools in their environment, never on a command line.'),
    databases: glob.optional().describe("Glob on database names: the units (default '*')."),
    exclude: z.array(glob, { error: 'expected a list of globs' }).optional().describe('Databases left out.'),
    timeout: duration.optional().describe('Limit of one dump or restore (default 6h).'),
  });

const sqliteTarget = obj({
  kind: z.literal('sqlite'),
  site: ref('site').optional(),
  dir: path.describe('Directory of the database files (relative paths are relative to this file).'),
  files: glob.optional().describe("Glob on file names: the units (default '*.db')."),
  timeout: duration.optional().describe('Default 6h.'),
});

export const target = z.discriminatedUnion(
  'kind',
  [
    filesTarget,
    commandTarget,
    deviceTarget,
    serverDb('postgres', { port: 5432, user: 'postgres' }),
    serverDb('mariadb', { port: 3306, user: 'root' }),
    sqliteTarget,
  ],
  {
    error: (iss) =>
      (iss.code as string) === 'invalid_type'
        ? 'expected a map with a kind and its settings'
        : "expected one of 'files', 'command', 'device', 'postgres', 'mariadb', 'sqlite'",
  },
);
