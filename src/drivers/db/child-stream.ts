// Dump and restore programs as streams, for the database drivers: a dump
// program's stdout as a Readable that fails after its last byte when the
// program fails (childStream), and a Readable piped into a restore program's
// stdin, resolving when it exits cleanly (pipeToChild). Errors are IO with the
// program's last stderr error line (secrets scrubbed), CANCELLED on abort, and "X is
// not installed (or not on PATH)" for a missing binary. Secrets go in `env`,
// never in argv; `env` is built by the driver with core/child-env.ts (the
// allow-listed variables and the tool's own settings, nothing else).

import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { SafeholdError, sysCode } from '../../core/errors.ts';

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

/** The tail of a program's stderr (the last 4000 characters), with its lines fed to a callback. */
class StderrTail {
  text = '';
  private partial = '';
  private readonly onLine: ((line: string) => void) | undefined;

  constructor(child: ChildProcess, onLine?: (line: string) => void) {
    this.onLine = onLine;
    child.stderr?.on('data', (d: Buffer) => this.add(d.toString()));
  }

  private add(s: string): void {
    this.text = (this.text + s).slice(-4000);
    if (!this.onLine) return;
    const lines = (this.partial + s).split('\n');
    this.partial = lines.pop() ?? '';
    for (const l of lines) this.onLine(l);
  }

  flush(): void {
    if (this.partial && this.onLine) this.onLine(this.partial);
    this.partial = '';
  }

  /** The last line that reports an error ("error:", "FATAL:"), else the last line. */
  lastLine(): string {
    const lines = this.text.split('\n').map((l) => l.trim()).filter(Boolean);
    return lines.findLast((l) => /\b(error|fatal|panic):/i.test(l)) ?? lines.at(-1) ?? '';
  }
}

function scrub(s: string, redact: readonly string[] | undefined): string {
  let out = s;
  for (const r of redact ?? []) if (r) out = out.split(r).join('***');
  return out;
}

/** The error for a spawn failure: a missing binary is named as such. */
function spawnError(argv0: string, e: Error, o: ChildOptions): SafeholdError {
  if (sysCode(e) === 'ENOENT') return new SafeholdError('IO', `${o.what}: ${path.basename(argv0)} is not installed (or not on PATH)`, { cause: e });
  return new SafeholdError('IO', `${o.what}: cannot run ${path.basename(argv0)}: ${scrub(e.message, o.redact)}`, { cause: e });
}

interface Running {
  child: ChildProcess;
  stderr: StderrTail;
  /** Exit code (null for a signal); rejects when the program cannot be started. */
  exited: Promise<number | null>;
  /** Why the program was killed by us, if it was. */
  killedFor(): 'timeout' | 'abort' | null;
  done(): void;
}

function start(argv: readonly string[], env: NodeJS.ProcessEnv, stdin: 'pipe' | 'ignore', stdout: 'pipe' | 'ignore', o: ChildOptions): Running {
  const child = spawn(argv[0]!, argv.slice(1), { env, stdio: [stdin, stdout, 'pipe'] });
  const stderr = new StderrTail(child, o.onStderrLine);
  let killed: 'timeout' | 'abort' | null = null;
  const kill = (why: 'timeout' | 'abort') => {
    killed ??= why;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (e) => reject(spawnError(argv[0]!, e, o)));
    child.on('close', (code) => { stderr.flush(); resolve(code); });
  });
  exited.catch(() => {});
  const timer = o.timeoutMs === undefined ? undefined : setTimeout(() => kill('timeout'), o.timeoutMs);
  const onAbort = () => kill('abort');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  if (o.signal?.aborted) kill('abort');
  return {
    child, stderr, exited,
    killedFor: () => killed,
    done() {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

/** The error for a program that ended badly, or null when it exited 0. */
function exitError(r: Running, code: number | null, o: ChildOptions): SafeholdError | null {
  const why = r.killedFor();
  if (why === 'abort') return new SafeholdError('CANCELLED', `${o.what} was cancelled`);
  if (why === 'timeout') return new SafeholdError('IO', `${o.what} did not finish within ${o.timeoutMs} ms`, { retryable: true });
  if (code === 0) return null;
  const last = scrub(r.stderr.lastLine(), o.redact);
  const hint = o.hint?.(r.stderr.text);
  return new SafeholdError('IO', `${o.what} failed (exit ${code ?? 'by a signal'})${last ? `: ${last}` : ''}${hint ? ` (${hint})` : ''}`, { retryable: o.retryable?.(r.stderr.text) ?? false });
}

/**
 * The program's stdout as a stream; after the last byte the stream fails when
 * the program exited non-zero. Destroying the stream early kills the program.
 */
export function childStream(argv: readonly string[], env: NodeJS.ProcessEnv, o: ChildOptions): Readable {
  const r = start(argv, env, 'ignore', 'pipe', o);
  // Read stdout from the start: Node discards what an unread stdout still holds when the program
  // exits, so a short dump would be lost before the consumer gets to it. The pipe keeps backpressure.
  const stdout = r.child.stdout!.pipe(new PassThrough());
  async function* body(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of stdout) yield chunk as Buffer;
      const err = exitError(r, await r.exited, o);
      if (err) throw err;
    } finally {
      r.done();
    }
  }
  return Readable.from(body(), { objectMode: false });
}

/**
 * Pipes `input` into the program's stdin and resolves when it exits 0. When
 * the program fails, the error is its own (not the broken pipe); when `input`
 * fails, the program is killed and the input's error is thrown.
 */
export async function pipeToChild(input: Readable, argv: readonly string[], env: NodeJS.ProcessEnv, o: ChildOptions): Promise<void> {
  const r = start(argv, env, 'pipe', 'ignore', o);
  let inputError: unknown = null;
  const stdin = r.child.stdin!;
  stdin.on('error', () => {}); // EPIPE when the program stops reading: its exit status tells why
  input.on('error', (e) => {
    inputError ??= e;
    r.done();
  });
  input.pipe(stdin);
  try {
    const code = await r.exited;
    if (inputError !== null) {
      if (inputError instanceof SafeholdError) throw inputError;
      const msg = inputError instanceof Error ? inputError.message : String(inputError);
      throw new SafeholdError('IO', `${o.what}: reading the backup failed: ${scrub(msg, o.redact)}`, { cause: inputError });
    }
    const err = exitError(r, code, o);
    if (err) throw err;
  } finally {
    input.unpipe(stdin);
    r.done();
    if (!input.destroyed) input.destroy();
  }
}
