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
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { Readable } from 'node:stream';
import { childEnv } from '../../core/child-env.ts';
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
  health: 'health', units: 'list-units', state: 'state', quiesced: 'quiesced', quiesce: 'quiesce',
  unquiesce: 'unquiesce', unsaved: 'unsaved', space: 'space',
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

/** Kills the child's whole process group (it runs detached, as a group leader), ignoring a group already gone. */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
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

  private start(args: string[]): ChildProcess {
    return spawn(this.argv[0]!, [...this.argv.slice(1), ...args], {
      env: this.env, cwd: this.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true, windowsHide: true,
    });
  }

  private spawnError(what: string, e: unknown) {
    const code = (e as NodeJS.ErrnoException).code;
    const detail = code === 'ENOENT' ? `cannot run ${this.argv[0]}: no such program`
      : code === 'EACCES' ? `cannot run ${this.argv[0]}: permission denied`
      : `cannot run ${this.argv[0]}: ${redact((e as Error).message, this.secrets)}`;
    return deviceError(this.name, this.address, what, detail, { retryable: false, cause: e });
  }

  /** A failed exit: 2 refused (not retryable), other codes and signals retryable. */
  private exitError(what: string, code: number | null, signal: NodeJS.Signals | null, stderr: string) {
    const said = lastLine(redact(stderr, this.secrets));
    const how = code !== null ? `exit code ${code}` : `killed by ${signal}`;
    return deviceError(this.name, this.address, what, said ? `${how}: ${said}` : how, {
      retryable: code !== 2, details: { exitCode: code, signal },
    });
  }

  private timeoutError(what: string, detail: string) {
    return deviceError(this.name, this.address, what, detail, { retryable: true });
  }

  call(op: WireOp, params: WireParams, what: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const child = this.start(commandArgs(op, params));
      const out: Buffer[] = [];
      let outBytes = 0;
      let err = '';
      let failure: Error | null = null;
      const stop = (e: Error) => {
        if (failure === null) failure = e;
        killGroup(child);
      };
      const timer = setTimeout(() => stop(this.timeoutError(what, `no answer within ${this.timeoutMs} ms (program killed)`)), this.timeoutMs);
      child.stdout!.on('data', (d: Buffer) => {
        outBytes += d.length;
        if (outBytes > MAX_JSON_BYTES) stop(deviceError(this.name, this.address, what, `invalid answer: more than ${MAX_JSON_BYTES} bytes`, { retryable: false }));
        else out.push(d);
      });
      child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString('utf8')).slice(-STDERR_TAIL); });
      child.on('error', (e) => {
        clearTimeout(timer);
        stop(this.spawnError(what, e));
        reject(failure);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (failure !== null) return reject(failure);
        if (code !== 0) return reject(this.exitError(what, code, signal, err));
        const text = Buffer.concat(out).toString('utf8');
        try {
          resolve(JSON.parse(text));
        } catch {
          reject(deviceError(this.name, this.address, what, `invalid answer: not JSON: ${JSON.stringify(lastLine(redact(text, this.secrets), 80))}`, { retryable: false }));
        }
      });
    });
  }

  /**
   * Starts `backup` and resolves with its stdout once the first byte arrives
   * (or the program exits 0 having written nothing); an exit before that
   * rejects. Later, a failed exit or an idle timeout destroys the stream.
   */
  stream(req: BackupRequest, what: string): Promise<Readable> {
    return new Promise((resolve, reject) => {
      const child = this.start(commandArgs('backup', req));
      const stdout = child.stdout!;
      let err = '';
      let exited = false;
      let failure: Error | null = null;
      let timer: NodeJS.Timeout | undefined;
      let started = false;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          failure ??= this.timeoutError(what, started ? `no data for ${this.timeoutMs} ms (program killed)` : `no answer within ${this.timeoutMs} ms (program killed)`);
          killGroup(child);
        }, this.timeoutMs);
      };
      const out = new Readable({
        read() {
          arm();
          stdout.resume();
        },
        destroy(e, cb) {
          clearTimeout(timer);
          // Ending early (or failing) stops the program.
          if (!exited) killGroup(child);
          cb(e);
        },
      });
      const begin = () => {
        if (started) return;
        started = true;
        resolve(out);
      };
      arm();
      stdout.on('data', (d: Buffer) => {
        clearTimeout(timer);
        if (!out.push(d)) stdout.pause();
        else arm();
        begin();
      });
      child.stderr!.on('data', (d: Buffer) => { err = (err + d.toString('utf8')).slice(-STDERR_TAIL); });
      child.on('error', (e) => {
        clearTimeout(timer);
        failure ??= this.spawnError(what, e);
        exited = true;
        if (!started) reject(failure);
        else out.destroy(failure);
      });
      child.on('close', (code, signal) => {
        exited = true;
        clearTimeout(timer);
        const e = failure ?? (code === 0 ? null : this.exitError(what, code, signal, err));
        if (!started) {
          if (e !== null) return reject(e);
          begin();
        }
        if (e !== null) out.destroy(e);
        else out.push(null);
      });
    });
  }
}
