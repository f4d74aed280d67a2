// A small spawn helper for the robustness tests (crash, corruption): runs
// the real CLI (./safehold) with an explicit environment, either to
// completion or as a handle that can be killed mid-run.

import os from 'node:os';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';

import { SAFEHOLD, baseEnv } from './cli.ts';

export { SAFEHOLD };

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall-clock milliseconds from spawn to exit. */
  ms: number;
}

/** The environment for CLI runs against `repo`, with the catalog in `dataDir`. */
export function cliEnv(repo: string, password: string, dataDir: string): NodeJS.ProcessEnv {
  return { ...baseEnv(), SAFEHOLD_REPOSITORY: repo, SAFEHOLD_PASSWORD: password, SAFEHOLD_DATA_DIR: dataDir };
}

export interface Running {
  child: ChildProcess;
  /** Resolves when the process has exited and its output is complete. */
  done: Promise<Exit>;
}

/** Starts the CLI; stdin is closed at once. */
export function startCli(args: string[], env: NodeJS.ProcessEnv): Running {
  const t0 = performance.now();
  const child = spawn(SAFEHOLD, args, { env, cwd: os.tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout!.on('data', (d: Buffer) => out.push(d));
  child.stderr!.on('data', (d: Buffer) => err.push(d));
  const done = new Promise<Exit>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code,
        signal,
        ms: performance.now() - t0,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
  });
  return { child, done };
}

/** Runs the CLI to completion (killed after `timeoutMs`). */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<Exit> {
  const r = startCli(args, env);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), timeoutMs);
  try {
    return await r.done;
  } finally {
    clearTimeout(timer);
  }
}

/** stdout parsed as JSON, or an error showing the whole exit. */
export function jsonOf<T = any>(r: Exit): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON: ${describeExit(r)}`);
  }
}

export function describeExit(r: Exit): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''} after ${Math.round(r.ms)} ms\n--- stdout\n${r.stdout.slice(0, 4000)}\n--- stderr\n${r.stderr.slice(0, 4000)}`;
}
