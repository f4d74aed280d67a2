// Which configuration a process runs: a generation is the file, the sha256
// of its text when it was loaded (loadConfig stores it in Config.hash), when
// it was loaded, and a counter the server bumps at each reload. The CLI
// compares its own file's hash with the server's to tell when the server
// still runs an older configuration.

import { createHash } from 'node:crypto';
import { formatTime } from '../core/format.ts';
import type { Config } from './types.ts';

export interface ConfigGeneration {
  /** 1 for the configuration the process started with, then one more per reload. */
  readonly number: number;
  /** Absolute path of the configuration file. */
  readonly file: string;
  /** sha256 (hex) of the file's text; null for a configuration built in code. */
  readonly hash: string | null;
  /** When it was loaded (ms since the epoch). */
  readonly loadedAt: number;
}

/** sha256 (hex) of a configuration file's text. */
export function contentHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The generation of `config`, loaded at `loadedAt`. */
export function generationOf(config: Config, number: number, loadedAt: number): ConfigGeneration {
  return { number, file: config.file, hash: config.hash ?? null, loadedAt };
}

/**
 * Null when `mine` (the configuration a command loaded) is what the server
 * runs, or when either side cannot tell; else a sentence saying the server
 * runs another configuration and how to apply this one.
 */
export function staleServerConfig(mine: Config, server: ConfigGeneration): string | null {
  if (!mine.hash || !server.hash || mine.hash === server.hash) return null;
  const loaded = `loaded ${formatTime(server.loadedAt)}`;
  if (server.file !== mine.file)
    return `the server runs the configuration ${server.file} (${loaded}), not ${mine.file}; run plans of ${mine.file} with --local, or restart the server with it`;
  return `the server runs an older configuration of ${server.file} (${loaded}); run 'safehold server reload' to apply your changes`;
}
