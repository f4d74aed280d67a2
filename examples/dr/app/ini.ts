// Reads the demo reporting application's INI file (app.ini): sections of
// `key = value` lines, `;` or `#` comments. Only reads: the runbooks change the
// file with their config-edit steps, and the application re-reads it on start
// and whenever it changes.

import * as fs from 'node:fs';
import * as path from 'node:path';

export type Ini = Record<string, Record<string, string>>;

/** Parses INI text; keys before the first section go to section ''. */
export function parseIni(text: string): Ini {
  const out: Ini = { '': {} };
  let section = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith(';') || line.startsWith('#')) continue;
    const head = /^\[([^\]]+)\]$/.exec(line);
    if (head) {
      section = head[1]!.trim();
      out[section] ??= {};
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new Error(`not a 'key = value' line: ${line}`);
    out[section]![line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** The application's settings, with paths made absolute (relative to the INI file). */
export interface AppConfig {
  file: string;
  site: string;
  host: string;
  port: number;
  database: string;
  user: string;
  log: string;
  pid: string;
  journal: string | null;
  etlIntervalMs: number;
  aggregateEveryMs: number;
  /** [connections]: name → value (sources enabled, the database access point). */
  connections: Record<string, string>;
  runScheduler: boolean;
  runAggregates: boolean;
}

const bool = (v: string | undefined, dflt: boolean): boolean => {
  if (v === undefined || v === '') return dflt;
  if (/^(true|yes|on|1)$/i.test(v)) return true;
  if (/^(false|no|off|0)$/i.test(v)) return false;
  throw new Error(`expected true or false, not '${v}'`);
};

const num = (v: string | undefined, dflt: number, what: string): number => {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${what}: expected a positive whole number, not '${v}'`);
  return n;
};

export function readAppConfig(file: string): AppConfig {
  const abs = path.resolve(file);
  const ini = parseIni(fs.readFileSync(abs, 'utf8'));
  const app = ini.app ?? {};
  const schedule = ini.schedule ?? {};
  const rel = (p: string) => path.resolve(path.dirname(abs), p);
  return {
    file: abs,
    site: app.site ?? 'unknown',
    host: app.host ?? '127.0.0.1',
    port: num(app.port, 5432, 'port'),
    database: app.database ?? 'reporting',
    user: app.user ?? 'postgres',
    log: rel(app.log ?? 'app.log'),
    pid: rel(app.pid ?? 'app.pid'),
    journal: app.journal ? rel(app.journal) : null,
    etlIntervalMs: num(app['etl-interval-ms'], 50, 'etl-interval-ms'),
    aggregateEveryMs: num(app['aggregate-every-ms'], 5000, 'aggregate-every-ms'),
    connections: { ...(ini.connections ?? {}) },
    runScheduler: bool(schedule['run-scheduler'], true),
    runAggregates: bool(schedule['run-aggregates'], true),
  };
}
