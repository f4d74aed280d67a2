// Dump and restore programs as streams, for the database drivers: a dump
// program's stdout as a Readable that fails after its last byte when the
// program fails (childStream), and a Readable piped into a restore program's
// stdin, resolving when it exits cleanly (pipeToChild). Both run the one way
// of core/child-process.ts: a process group of their own (pg_dump's workers
// included), stopped on timeout, abort or an abandoned stream with SIGTERM
// then SIGKILL to the whole group. Errors are IO with the program's last
// stderr error line (secrets scrubbed), CANCELLED on abort, and "X is not
// installed (or not on PATH)" for a missing binary. Secrets go in `env`,
// never in argv; `env` is built by the driver with core/child-env.ts (the
// allow-listed variables and the tool's own settings, nothing else).

import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { SafeholdError } from '../../core/errors.ts';
import { DEFAULT_STDERR_TAIL, runChild, streamChild } from '../../core/child-process.ts';
import type { ChildOptions as ProcessOptions, ChildOutcome, StartError } from '../../core/child-process.ts';

export interface ChildOptions {
  /** What the program does, for messages: "pg_dump of shop on prod". */
  what: string;
  /** Kill the program after this long (default: no limit). */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Strings never shown in messages (passwords): replaced by ***. */
  redact?: readonly string[];
  /** Whether a failure with this stderr may succeed when retried (connection problems). */
  retryable?(stderr: string): boolean;
  /** Advice appended to the failure message for this stderr (e.g. which setting to change), or null. */
  hint?(stderr: string): string | null;
  /** Every complete stderr line, as it arrives. */
  onStderrLine?(line: string): void;
}

/** The last line of stderr that reports an error ("error:", "FATAL:"), else its last line. */
function errorLine(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.findLast((l) => /\b(error|fatal|panic):/i.test(l)) ?? lines.at(-1) ?? '';
}

function scrub(s: string, redact: readonly string[] | undefined): string {
  let out = s;
  for (const r of redact ?? []) if (r) out = out.split(r).join('***');
  return out;
}

/** The error for a start failure: a missing binary is named as such. */
function startError(argv0: string, e: StartError, o: ChildOptions): SafeholdError {
  const name = path.basename(argv0);
  if (e.kind === 'missing') {
    return new SafeholdError('IO', `${o.what}: ${name} is not installed (or not on PATH)`, { cause: e.cause });
  }
  return new SafeholdError('IO', `${o.what}: cannot run ${name}: ${scrub(e.reason, o.redact)}`, { cause: e.cause });
}

/** How the program runs: its own process group, the driver's limits, stderr lines to the driver. */
function runOptions(argv: readonly string[], env: NodeJS.ProcessEnv, o: ChildOptions): ProcessOptions {
  const onLine = o.onStderrLine;
  return {
    argv,
    env,
    timeoutMs: o.timeoutMs,
    signal: o.signal,
    stderrTail: DEFAULT_STDERR_TAIL,
    ...(onLine
      ? {
          onLine: (stream: string, line: string) => {
            if (stream === 'stderr') onLine(line);
          },
        }
      : {}),
  };
}

/** The error for a program that ended badly, or null when it exited 0. */
function exitError(argv0: string, r: ChildOutcome, o: ChildOptions): SafeholdError | null {
  if (r.startError) return startError(argv0, r.startError, o);
  if (r.stopped === 'abort') return new SafeholdError('CANCELLED', `${o.what} was cancelled`);
  if (r.stopped === 'timeout') {
    return new SafeholdError('IO', `${o.what} did not finish within ${o.timeoutMs} ms`, { retryable: true });
  }
  if (r.exitCode === 0) return null;
  const last = scrub(errorLine(r.stderr), o.redact);
  const hint = o.hint?.(r.stderr);
  const how = `${o.what} failed (exit ${r.exitCode ?? 'by a signal'})${last ? `: ${last}` : ''}`;
  return new SafeholdError('IO', `${how}${hint ? ` (${hint})` : ''}`, { retryable: o.retryable?.(r.stderr) ?? false });
}

/**
 * The program's stdout as a stream; after the last byte the stream fails when
 * the program exited non-zero. Destroying the stream early stops the program.
 */
export function childStream(argv: readonly string[], env: NodeJS.ProcessEnv, o: ChildOptions): Readable {
  return streamChild({ ...runOptions(argv, env, o), failure: (r) => exitError(argv[0]!, r, o) }).stdout;
}

/**
 * Pipes `input` into the program's stdin and resolves when it exits 0. When
 * the program fails, the error is its own (not the broken pipe); when `input`
 * fails, the program is stopped and the input's error is thrown.
 */
export async function pipeToChild(
  input: Readable,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  o: ChildOptions,
): Promise<void> {
  try {
    const r = await runChild({ ...runOptions(argv, env, o), stdin: input });
    if (r.inputError !== null && !r.startError) {
      if (r.inputError instanceof SafeholdError) throw r.inputError;
      const msg = r.inputError instanceof Error ? r.inputError.message : String(r.inputError);
      const how = `${o.what}: reading the backup failed: ${scrub(msg, o.redact)}`;
      throw new SafeholdError('IO', how, { cause: r.inputError });
    }
    const err = exitError(argv[0]!, r, o);
    if (err) throw err;
  } finally {
    if (!input.destroyed) input.destroy();
  }
}
