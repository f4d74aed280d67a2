// The machinery of core/child-process.ts: the options and outcome of a run,
// start errors described once, and `Supervised`, one program from spawn
// (detached, the leader of its own process group) until it has exited, its
// pipes are closed and, when Safehold stopped it, its group is gone.

import { spawn, type ChildProcess } from 'node:child_process';
import { Readable } from 'node:stream';
import { sysCode } from './errors.ts';
import { LineSplitter, TextTail } from './line-capture.ts';
import { DEFAULT_GRACE_MS, GroupStop } from './process-group.ts';

export type OutputName = 'stdout' | 'stderr';

/**
 * Why Safehold stopped a program: its time limit, the abort signal, too much
 * output, its stdin stream failed, its reader gave up.
 */
export type StopReason = 'timeout' | 'abort' | 'limit' | 'input' | 'cancel';

/** Why a program could not be started. */
export interface StartError {
  /** The system's code (ENOENT, EACCES…), null when there was none (an empty argv, a refused argument). */
  readonly code: string | null;
  /** 'missing': no such program (or an empty argv); 'denied': not executable. */
  readonly kind: 'missing' | 'denied' | 'other';
  /** 'command not found', 'no such file' (a path), 'permission denied', 'empty command', or the system's message. */
  readonly reason: string;
  /** `program: reason` ('nope: command not found'); the system's message alone for other errors. */
  readonly message: string;
  readonly cause: unknown;
}

export interface ChildOptions {
  readonly argv: readonly string[];
  /** The whole environment of the program (build it with core/child-env.ts). */
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string;
  /** Real ms from the start, after which the program is stopped ('timeout'); absent, 0 or infinite: no limit. */
  readonly timeoutMs?: number;
  /** Stops the program ('abort'); already aborted: it is not started. */
  readonly signal?: AbortSignal;
  /** Time between SIGTERM and SIGKILL (real ms, default 5000). */
  readonly graceMs?: number;
  /** What the program reads; a stream is piped in, and its failure stops the program ('input'). Absent: nothing. */
  readonly stdin?: string | Buffer | Readable;
  /** Every whole line of stderr, and of stdout when `stdout` is 'lines'. */
  readonly onLine?: (stream: OutputName, line: string) => void;
  /** Longer lines are passed on in pieces of this many characters (default 64 Ki). */
  readonly maxLine?: number;
  /** Characters of stderr kept in the outcome (default 4000). */
  readonly stderrTail?: number;
}

export interface RunOptions extends ChildOptions {
  /** 'lines': to onLine; 'capture': into the outcome, up to maxCapture bytes (more stops the program: 'limit'). */
  readonly stdout?: 'lines' | 'capture' | 'ignore';
  /** Bytes of stdout captured (default 16 MiB). */
  readonly maxCapture?: number;
}

/** How a program ended. */
export interface ChildOutcome {
  /** Exit status; null when it ended by a signal or never ran. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  /** Why Safehold stopped it, or null when it ended on its own. */
  readonly stopped: StopReason | null;
  readonly startError: StartError | null;
  /** The captured stdout ('capture'), decoded as UTF-8; '' otherwise. */
  readonly stdout: string;
  /** Bytes read from stdout. */
  readonly stdoutBytes: number;
  /** The last `stderrTail` characters of stderr. */
  readonly stderr: string;
  /** The error of the stdin stream, if it failed. */
  readonly inputError: unknown;
}

export const DEFAULT_STDERR_TAIL = 4000;
export const DEFAULT_MAX_CAPTURE = 16 * 1024 * 1024;
/** After the program exits, how long to keep reading pipes a background child may still hold. */
const DRAIN_MS = 250;
/** While stopping, how often to check whether the process group is gone. */
const POLL_MS = 50;

/** Runs a program to its end and reports how it went; never throws. */
export function runChild(opts: RunOptions): Promise<ChildOutcome> {
  return new Supervised(opts, opts.stdout ?? 'ignore').outcome;
}

/** The StartError for what spawn threw or emitted. */
export function startErrorOf(program: string, e: unknown): StartError {
  const code = e instanceof Error && 'syscall' in e ? (sysCode(e) ?? null) : null;
  const kind = code === 'ENOENT' ? 'missing' : code === 'EACCES' ? 'denied' : 'other';
  if (kind === 'other') {
    const reason = e instanceof Error ? e.message : String(e);
    return { code, kind, reason, message: reason, cause: e };
  }
  const reason = kind === 'denied' ? 'permission denied' : program.includes('/') ? 'no such file' : 'command not found';
  return { code, kind, reason, message: `${program}: ${reason}`, cause: e };
}

type StdoutMode = 'lines' | 'capture' | 'ignore' | 'stream';

/**
 * One running program: spawned detached, watched until it has exited and its
 * pipes are closed (and, when Safehold stopped it, until its group is gone).
 * In 'stream' mode stdout chunks go to `onStdout` and the reader decides when
 * the pipe is drained; `proc.stdout` may be paused and resumed.
 */
export class Supervised {
  readonly outcome: Promise<ChildOutcome>;
  proc: ChildProcess | null = null;
  private readonly opts: RunOptions;
  private readonly mode: StdoutMode;
  private readonly onStdout: ((chunk: Buffer) => void) | undefined;
  private readonly stderrTail: TextTail;
  private readonly captured: Buffer[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private resolve: (o: ChildOutcome) => void = () => {};
  private exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  private stdoutBytes = 0;
  private openPipes = 0;
  private stopping: StopReason | null = null;
  private groupStop: GroupStop | null = null;
  private startError: StartError | null = null;
  private inputError: unknown = null;
  private done = false;
  private readonly onAbort = () => this.stop('abort');

  constructor(opts: RunOptions, mode: StdoutMode, onStdout?: (chunk: Buffer) => void) {
    this.opts = opts;
    this.mode = mode;
    this.onStdout = onStdout;
    this.stderrTail = new TextTail(opts.stderrTail ?? DEFAULT_STDERR_TAIL);
    this.outcome = new Promise((resolve) => {
      this.resolve = resolve;
    });
    this.start();
  }

  /** Stops the program and its group: SIGTERM, SIGKILL after the grace period. Once; no-op when it is over. */
  stop(why: StopReason): void {
    const pid = this.proc?.pid;
    if (this.stopping !== null || this.done || pid === undefined) return;
    this.stopping = why;
    this.groupStop = new GroupStop(pid, this.opts.graceMs ?? DEFAULT_GRACE_MS, () => this.maybeFinish());
    if (this.exited !== null) this.drainLater();
    // Children that outlive the leader keep the run going until they are gone or killed.
    const poll = () => {
      this.maybeFinish();
      if (!this.done) this.later(POLL_MS, poll);
    };
    this.later(POLL_MS, poll);
  }

  private start(): void {
    const o = this.opts;
    if (o.signal?.aborted) {
      this.stopping = 'abort';
      this.finish();
      return;
    }
    const [program, ...args] = o.argv;
    if (program === undefined || program === '') {
      this.startError = { code: null, kind: 'missing', reason: 'empty command', message: 'empty command', cause: null };
      this.finish();
      return;
    }
    let proc: ChildProcess;
    try {
      proc = spawn(program, args, {
        detached: true,
        env: o.env,
        cwd: o.cwd,
        windowsHide: true,
        stdio: [o.stdin === undefined ? 'ignore' : 'pipe', this.mode === 'ignore' ? 'ignore' : 'pipe', 'pipe'],
      });
    } catch (e) {
      this.startError = startErrorOf(program, e);
      this.finish();
      return;
    }
    this.proc = proc;
    proc.on('error', (e) => {
      // A running program's later errors (a failed kill) are followed by 'exit'; only a failed start ends the run here.
      if (proc.pid !== undefined || this.done) return;
      this.startError = startErrorOf(program, e);
      proc.stdout?.destroy();
      proc.stderr?.destroy();
      this.finish();
    });
    proc.on('exit', (code, signal) => {
      this.exited = { code, signal };
      this.drainLater();
      this.maybeFinish();
    });
    this.feedStdin(proc);
    if (proc.stdout) this.watchPipe(proc.stdout, 'stdout');
    this.watchPipe(proc.stderr!, 'stderr');
    const t = o.timeoutMs;
    if (t !== undefined && Number.isFinite(t) && t > 0) this.later(t, () => this.stop('timeout'));
    o.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  private feedStdin(proc: ChildProcess): void {
    const input = this.opts.stdin;
    if (input === undefined || !proc.stdin) return;
    proc.stdin.on('error', () => {}); // EPIPE when the program exits without reading it all: its exit status tells why
    if (!(input instanceof Readable)) {
      proc.stdin.end(input);
      return;
    }
    input.on('error', (e) => {
      if (this.inputError === null) this.inputError = e;
      this.stop('input');
    });
    input.pipe(proc.stdin);
  }

  private watchPipe(stream: Readable, name: OutputName): void {
    const onLine = this.opts.onLine;
    const wantLines = onLine !== undefined && (name === 'stderr' || this.mode === 'lines');
    const lines = wantLines ? new LineSplitter((l) => onLine(name, l), this.opts.maxLine) : null;
    this.openPipes++;
    let closed = false;
    const close = () => {
      if (closed) return;
      closed = true;
      lines?.end();
      this.openPipes--;
      this.maybeFinish();
    };
    stream.on('data', (chunk: Buffer) => {
      lines?.write(chunk);
      if (name === 'stderr') this.stderrTail.add(chunk);
      else this.takeStdout(chunk);
    });
    stream.on('end', close);
    stream.on('close', close);
    stream.on('error', close);
  }

  private takeStdout(chunk: Buffer): void {
    this.stdoutBytes += chunk.length;
    if (this.mode === 'stream') this.onStdout?.(chunk);
    if (this.mode !== 'capture') return;
    if (this.stdoutBytes > (this.opts.maxCapture ?? DEFAULT_MAX_CAPTURE)) this.stop('limit');
    else this.captured.push(chunk);
  }

  /**
   * After the exit, a background child may still hold the pipes: read what
   * comes soon, then stop reading. A stream's stdout is left to its reader
   * (it ends when every writer closed it) unless the program is being stopped.
   */
  private drainLater(): void {
    this.later(DRAIN_MS, () => {
      if (this.mode !== 'stream' || this.stopping !== null) this.proc?.stdout?.destroy();
      this.proc?.stderr?.destroy();
    });
  }

  private maybeFinish(): void {
    if (this.done || this.exited === null || this.openPipes > 0) return;
    if (this.groupStop !== null && !this.groupStop.over()) return;
    this.finish();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.groupStop?.dispose();
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    const input = this.opts.stdin;
    if (input instanceof Readable && this.proc?.stdin) input.unpipe(this.proc.stdin);
    this.resolve({
      exitCode: this.exited?.code ?? null,
      signal: this.exited?.signal ?? null,
      stopped: this.stopping,
      startError: this.startError,
      stdout: this.mode === 'capture' ? Buffer.concat(this.captured).toString('utf8') : '',
      stdoutBytes: this.stdoutBytes,
      stderr: this.stderrTail.text,
      inputError: this.inputError,
    });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }
}
