// The command device adapter: a configured program (argv, never a shell) run
// once per operation with a subcommand of the contract in docs/adapters.md.
// Every subcommand but `backup` prints one JSON object on stdout; `backup`
// writes the stream on stdout. Exit 0 is success, 2 a refused request (not
// retryable), anything else a device failure (retryable); the message carries
// stderr's last line with the configured environment values redacted. Each
// call has a timeout after which the program's whole process group is killed.
// The program's environment is the allow-listed one (core/child-env.ts) plus
// the adapter's configured `env`: no other secret of Safehold's reaches it.

import path from 'node:path';
import type { Readable } from 'node:stream';
import { childEnv } from '../../core/child-env.ts';
import { runChild, streamChild } from '../../core/child-process.ts';
import type { ChildOptions, ChildOutcome, StartError } from '../../core/child-process.ts';
import { DEFAULT_DEVICE_TIMEOUT_MS, deviceError, lastLine, redact, wireAdapter } from './adapter.ts';
import type { BackupRequest, DeviceAdapter, DeviceTransport, WireOp, WireParams } from './adapter.ts';

export interface CommandAdapterOptions {
  /** The target's name, for messages. */
  readonly name: string;
  /** Program and fixed arguments; the subcommand and its options are appended. */
  readonly command: readonly string[];
  /** Added to the allow-listed environment (core/child-env.ts); the values are treated as secrets (redacted from messages). */
  readonly env?: Readonly<Record<string, string>>;
  /** Per call; for a backup, the wait for the first byte and then for each next chunk. */
  readonly timeoutMs?: number;
  readonly cwd?: string;
}

const SUBCOMMANDS: Record<WireOp, string> = {
  health: 'health',
  units: 'list-units',
  state: 'state',
  quiesced: 'quiesced',
  quiesce: 'quiesce',
  unquiesce: 'unquiesce',
  unsaved: 'unsaved',
  space: 'space',
};

/** JSON answers larger than this are refused (a program printing garbage must not exhaust memory). */
const MAX_JSON_BYTES = 1024 * 1024;
/** How much of stderr is kept for the message. */
const STDERR_TAIL = 8 * 1024;

export function createCommandAdapter(opts: CommandAdapterOptions): DeviceAdapter {
  return wireAdapter(new CommandTransport(opts));
}

/** The subcommand's argv for an operation; options are single `--name=value` arguments. */
export function commandArgs(op: WireOp | 'backup', p: WireParams & Partial<BackupRequest>): string[] {
  const args = [op === 'backup' ? 'backup' : SUBCOMMANDS[op]];
  if (p.unit != null) args.push(`--unit=${p.unit}`);
  if (p.timeout !== undefined) args.push(`--timeout=${p.timeout}`);
  if (p.kind !== undefined) args.push(`--kind=${p.kind}`);
  if (p.state !== undefined) args.push(`--state=${p.state}`);
  return args;
}

class CommandTransport implements DeviceTransport {
  readonly name: string;
  readonly address: string;
  private readonly argv: readonly string[];
  private readonly env: NodeJS.ProcessEnv;
  private readonly secrets: string[];
  private readonly timeoutMs: number;
  private readonly cwd: string | undefined;

  constructor(opts: CommandAdapterOptions) {
    if (opts.command.length === 0) throw new TypeError('command adapter: empty command');
    this.name = opts.name;
    this.argv = opts.command;
    // Arguments are not shown: they may carry secrets.
    this.address = `program ${path.basename(opts.command[0]!)}`;
    this.env = childEnv(opts.env);
    this.secrets = Object.values(opts.env ?? {});
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_DEVICE_TIMEOUT_MS;
    this.cwd = opts.cwd;
  }

  /** How every subcommand runs: the configured argv and the subcommand's, in its own process group. */
  private spec(args: string[]): ChildOptions {
    return { argv: [...this.argv, ...args], env: this.env, cwd: this.cwd, stderrTail: STDERR_TAIL };
  }

  private spawnError(what: string, e: StartError) {
    const detail =
      e.kind === 'missing'
        ? `cannot run ${this.argv[0]}: no such program`
        : e.kind === 'denied'
          ? `cannot run ${this.argv[0]}: permission denied`
          : `cannot run ${this.argv[0]}: ${redact(e.reason, this.secrets)}`;
    return deviceError(this.name, this.address, what, detail, { retryable: false, cause: e.cause });
  }

  /** A failed exit: 2 refused (not retryable), other codes and signals retryable. */
  private exitError(what: string, code: number | null, signal: NodeJS.Signals | null, stderr: string) {
    const said = lastLine(redact(stderr, this.secrets));
    const how = code !== null ? `exit code ${code}` : `killed by ${signal}`;
    return deviceError(this.name, this.address, what, said ? `${how}: ${said}` : how, {
      retryable: code !== 2,
      details: { exitCode: code, signal },
    });
  }

  private timeoutError(what: string, detail: string) {
    return deviceError(this.name, this.address, what, detail, { retryable: true });
  }

  async call(op: WireOp, params: WireParams, what: string): Promise<unknown> {
    const r = await runChild({
      ...this.spec(commandArgs(op, params)),
      timeoutMs: this.timeoutMs,
      stdout: 'capture',
      maxCapture: MAX_JSON_BYTES,
    });
    if (r.startError) throw this.spawnError(what, r.startError);
    if (r.stopped === 'timeout') {
      throw this.timeoutError(what, `no answer within ${this.timeoutMs} ms (program killed)`);
    }
    if (r.stopped === 'limit') {
      const detail = `invalid answer: more than ${MAX_JSON_BYTES} bytes`;
      throw deviceError(this.name, this.address, what, detail, { retryable: false });
    }
    if (r.exitCode !== 0) throw this.exitError(what, r.exitCode, r.signal, r.stderr);
    try {
      return JSON.parse(r.stdout);
    } catch {
      const text = JSON.stringify(lastLine(redact(r.stdout, this.secrets), 80));
      throw deviceError(this.name, this.address, what, `invalid answer: not JSON: ${text}`, { retryable: false });
    }
  }

  /**
   * Starts `backup` and resolves with its stdout once the first byte arrives
   * (or the program exits 0 having written nothing); an exit before that
   * rejects. Later, a failed exit or an idle timeout fails the stream after
   * the bytes already read; destroying it early stops the program.
   */
  async stream(req: BackupRequest, what: string): Promise<Readable> {
    const s = streamChild({
      ...this.spec(commandArgs('backup', req)),
      idleTimeoutMs: this.timeoutMs,
      failure: (r) => this.streamFailure(what, r),
    });
    await s.started;
    return s.stdout;
  }

  private streamFailure(what: string, r: ChildOutcome): Error | null {
    if (r.startError) return this.spawnError(what, r.startError);
    if (r.stopped === 'timeout') {
      const detail = r.stdoutBytes > 0 ? `no data for ${this.timeoutMs} ms` : `no answer within ${this.timeoutMs} ms`;
      return this.timeoutError(what, `${detail} (program killed)`);
    }
    if (r.stopped === 'cancel' || r.exitCode === 0) return null;
    return this.exitError(what, r.exitCode, r.signal, r.stderr);
  }
}
