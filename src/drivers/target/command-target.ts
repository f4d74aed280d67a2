// The programs of a command target: a short capture (probe, unit listing)
// and the backup stream, each with the allow-listed environment of
// core/child-env.ts plus the target's own `env`, within its timeout, run the
// one way of core/child-process.ts (a timeout stops the program's whole
// process group: SIGTERM, then SIGKILL after a grace period).

import type { Readable } from 'node:stream';
import type { CommandTarget } from '../../config/types.ts';
import { SafeholdError } from '../../core/errors.ts';
import { childEnv } from '../../core/child-env.ts';
import { DEFAULT_MAX_CAPTURE, runChild, streamChild, type StartError } from '../../core/child-process.ts';

export function secretValues(env: Readonly<Record<string, { value: string }>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.value]));
}

/** A command target's program gets the allow-listed environment, the target's own `env` and `extra`. */
function commandEnv(t: CommandTarget, extra: Record<string, string>): NodeJS.ProcessEnv {
  return childEnv({ ...secretValues(t.env), ...extra });
}

function cannotRun(t: CommandTarget, argv: readonly string[], e: StartError): SafeholdError {
  return new SafeholdError('IO', `${t.name}: cannot run ${argv[0] ?? '(nothing)'}: ${e.reason}`, { cause: e.cause });
}

/** Runs a short command of a command target, capturing its output, within the target's timeout. */
export async function runCapture(
  t: CommandTarget,
  argv: readonly string[],
  extra: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await runChild({ argv, env: commandEnv(t, extra), timeoutMs: t.timeoutMs, stdout: 'capture' });
  if (r.startError) throw cannotRun(t, argv, r.startError);
  if (r.stopped === 'limit') {
    throw new SafeholdError('IO', `${t.name}: ${argv[0]} printed more than ${DEFAULT_MAX_CAPTURE} bytes`);
  }
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

/** The backup program's stdout; the stream fails, after its last byte, when the program exits non-zero. */
export function commandStream(t: CommandTarget, unit: string): Readable {
  const argv = t.backup;
  return streamChild({
    argv,
    env: commandEnv(t, { SAFEHOLD_UNIT: unit, SAFEHOLD_TARGET: t.name }),
    timeoutMs: t.timeoutMs,
    failure: (r) => {
      if (r.startError) return cannotRun(t, argv, r.startError);
      if (r.exitCode === 0) return null;
      const said = r.stderr.trim() ? `: ${r.stderr.trim().split('\n').at(-1)}` : '';
      const how = `${t.name}: backup of ${unit} exited with ${r.exitCode ?? 'a signal'}${said}`;
      return new SafeholdError('IO', how, { retryable: true });
    },
  }).stdout;
}
