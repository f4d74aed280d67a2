// The programs of a command target: a short capture (probe, unit listing)
// and the backup stream, each with the allow-listed environment of
// core/child-env.ts plus the target's own `env`, within its timeout.

import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import type { CommandTarget } from '../../config/types.ts';
import { SafeholdError } from '../../core/errors.ts';
import { childEnv } from '../../core/child-env.ts';

export function secretValues(env: Readonly<Record<string, { value: string }>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.value]));
}

/** A command target's program gets the allow-listed environment, the target's own `env` and `extra`. */
function commandEnv(t: CommandTarget, extra: Record<string, string>): NodeJS.ProcessEnv {
  return childEnv({ ...secretValues(t.env), ...extra });
}

/** Runs a short command of a command target, capturing its output, within the target's timeout. */
export function runCapture(t: CommandTarget, argv: readonly string[], extra: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: commandEnv(t, extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), t.timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(new SafeholdError('IO', `${t.name}: cannot run ${argv[0]}: ${e.message}`)); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** The backup program's stdout; the stream fails, after its last byte, when the program exits non-zero. */
export function commandStream(t: CommandTarget, unit: string): Readable {
  const argv = t.backup;
  const child = spawn(argv[0]!, argv.slice(1), { env: commandEnv(t, { SAFEHOLD_UNIT: unit, SAFEHOLD_TARGET: t.name }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  // Read stdout from the start: Node discards what an unread stdout still holds when the program
  // exits, so a short dump would be lost before the consumer gets to it. The pipe keeps backpressure.
  const stdout = child.stdout.pipe(new PassThrough());
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (e) => reject(new SafeholdError('IO', `${t.name}: cannot run ${argv[0]}: ${e.message}`)));
    child.on('close', (code) => resolve(code));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), t.timeoutMs);
  async function* body(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of stdout) yield chunk as Buffer;
      const code = await exited;
      if (code !== 0) {
        throw new SafeholdError('IO', `${t.name}: backup of ${unit} exited with ${code ?? 'a signal'}${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`, { retryable: true });
      }
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }
  return Readable.from(body());
}
