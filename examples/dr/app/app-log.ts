// The demo reporting application's log file: one line per event,
// `<ISO time> <LEVEL> <message>`. Every start writes a start marker; the
// log checks (errors, the migration state, readiness) read only the lines
// after the newest marker.

import * as fs from 'node:fs';

export const START_MARK = 'starting reporting-app pid';
export const READY_MARK = 'ready:';
export const MIGRATION_MARK = 'entered the migration state';

export type Level = 'INFO' | 'WARN' | 'ERROR';

export class AppLog {
  readonly file: string;
  #lastError = '';
  #lastErrorAt = 0;

  constructor(file: string) {
    this.file = file;
  }

  write(level: Level, message: string): void {
    fs.appendFileSync(this.file, `${new Date().toISOString()} ${level.padEnd(5)} ${message}\n`);
  }

  /** Logs an error, but the same message at most once every 5 s. */
  error(message: string): void {
    const now = Date.now();
    if (message === this.#lastError && now - this.#lastErrorAt < 5000) return;
    this.#lastError = message;
    this.#lastErrorAt = now;
    this.write('ERROR', message);
  }
}

/** The lines written since the newest start marker (empty when the app never started). */
export function linesSinceStart(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const lines = text.split('\n').filter((l) => l !== '');
  let i = lines.length - 1;
  while (i >= 0 && !lines[i]!.includes(START_MARK)) i--;
  return i < 0 ? [] : lines.slice(i);
}

export interface LogCheck {
  started: boolean;
  ready: boolean;
  migrationState: boolean;
  errors: string[];
}

export function checkLog(file: string): LogCheck {
  const lines = linesSinceStart(file);
  return {
    started: lines.length > 0,
    ready: lines.some((l) => l.includes(READY_MARK)),
    migrationState: lines.some((l) => l.includes(MIGRATION_MARK)),
    errors: lines.filter((l) => / ERROR /.test(l)),
  };
}
