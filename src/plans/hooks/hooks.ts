// Hook commands around plan runs and tasks (SPEC S3 step 7, S4 steps 6 and
// 10): runs a configured argv without a shell, with SAFEHOLD_* variables
// naming the plan, run, task, target, unit, phase and snapshot on top of the
// allow-listed environment (core/child-env.ts: no secrets), the one way of
// core/child-process.ts: its own process group, stdout and stderr captured
// line by line for the run log, the hook's timeout (and an AbortSignal)
// enforced with SIGTERM then, after a grace period, SIGKILL to the whole
// group. Never throws for a hook that fails or cannot start: the result says
// what happened.

import type { Hook } from '../../config/types.ts';
import { systemClock, type Clock } from '../../core/clock.ts';
import { childEnv } from '../../core/child-env.ts';
import { DEFAULT_GRACE_MS, runChild, type ChildOutcome, type OutputName } from '../../core/child-process.ts';
import { LastItems } from '../../core/line-capture.ts';

export type HookPhase =
  | 'pre-plan'
  | 'post-plan'
  | 'pre-task'
  | 'post-task'
  | 'group-stop'
  | 'group-start'
  | 'restore-stop'
  | 'restore-check'
  | 'restore-cleanup'
  | 'restore-start';

export interface HookContext {
  readonly plan: string;
  readonly run: string;
  readonly task?: string;
  readonly target?: string;
  readonly unit?: string;
  readonly phase: HookPhase;
  readonly snapshot?: string;
}

export interface HookLogLine {
  readonly stream: 'stdout' | 'stderr';
  readonly line: string;
  /** Clock time (ms) at which the line was read. */
  readonly at: number;
}

export interface HookResult {
  readonly phase: HookPhase;
  /** Exit status; null when the hook was ended by a signal. 127/126 when it could not start. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly timedOut: boolean;
  /** Stopped through the AbortSignal. */
  readonly cancelled: boolean;
  /** Why the command could not be started, or null. */
  readonly startError: string | null;
  readonly timeoutMs: number;
  readonly durationMs: number;
  /** The last `maxLines` output lines, in the order read. */
  readonly lines: readonly HookLogLine[];
  /** How many earlier lines were dropped from `lines` (all of them went to `log`). */
  readonly droppedLines: number;
}

export interface RunHookOptions {
  clock?: Clock;
  signal?: AbortSignal;
  /** Receives every output line as it is read. */
  log?: (line: HookLogLine) => void;
  /** Lines kept in the result (default 1000, the last ones). */
  maxLines?: number;
  /** Time between SIGTERM and SIGKILL (real ms, default 5000). */
  graceMs?: number;
}

/** Environment variables a hook gets; absent fields are unset, not empty. */
export const HOOK_ENV = {
  plan: 'SAFEHOLD_PLAN',
  run: 'SAFEHOLD_RUN',
  task: 'SAFEHOLD_TASK',
  target: 'SAFEHOLD_TARGET',
  unit: 'SAFEHOLD_UNIT',
  phase: 'SAFEHOLD_PHASE',
  snapshot: 'SAFEHOLD_SNAPSHOT',
} as const;

/** A hook's environment: the allow-listed variables (core/child-env.ts) and its SAFEHOLD_* context, nothing else. */
export function hookEnv(ctx: HookContext, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const own: Record<string, string | undefined> = {};
  for (const [key, name] of Object.entries(HOOK_ENV)) own[name] = ctx[key as keyof HookContext];
  return childEnv(own, { base });
}

/** Runs one hook to completion and reports how it went. */
export async function runHook(hook: Hook, ctx: HookContext, opts: RunHookOptions = {}): Promise<HookResult> {
  const clock = opts.clock ?? systemClock;
  const started = clock.now();
  const output = new HookOutput(clock, opts.log, opts.maxLines ?? 1000);
  const run = await runChild({
    argv: hook.command,
    env: hookEnv(ctx),
    timeoutMs: hook.timeoutMs,
    signal: opts.signal,
    graceMs: opts.graceMs ?? DEFAULT_GRACE_MS,
    stdout: 'lines',
    onLine: output.add,
    stderrTail: 0,
  });
  if (run.startError) output.add('stderr', `safehold: cannot run hook ${hook.name}: ${run.startError.message}`);
  return hookResult(hook, ctx, run, output, Math.max(0, clock.now() - started));
}

/** A hook's output: every line to the log as it is read, the last `maxLines` kept for the result. */
class HookOutput {
  readonly kept: LastItems<HookLogLine>;
  private readonly clock: Clock;
  private readonly log: ((line: HookLogLine) => void) | undefined;

  constructor(clock: Clock, log: ((line: HookLogLine) => void) | undefined, maxLines: number) {
    this.clock = clock;
    this.log = log;
    this.kept = new LastItems(maxLines);
  }

  readonly add = (stream: OutputName, line: string): void => {
    const entry: HookLogLine = { stream, line, at: this.clock.now() };
    try {
      this.log?.(entry);
    } catch {
      /* a failing logger must not break the hook */
    }
    this.kept.push(entry);
  };
}

/** The result of a finished run: a hook that could not start exits 127 (not found) or 126 (not runnable). */
function hookResult(
  hook: Hook,
  ctx: HookContext,
  run: ChildOutcome,
  output: HookOutput,
  durationMs: number,
): HookResult {
  const startError = run.startError;
  return {
    phase: ctx.phase,
    exitCode: startError ? (startError.kind === 'missing' ? 127 : 126) : run.exitCode,
    signal: run.signal,
    timedOut: run.stopped === 'timeout',
    cancelled: run.stopped === 'abort',
    startError: startError?.message ?? null,
    timeoutMs: hook.timeoutMs,
    durationMs,
    lines: output.kept.kept,
    droppedLines: output.kept.dropped,
  };
}

/** Whether the hook counts as failed: anything but exit status 0. */
export function hookFailed(r: HookResult): boolean {
  return r.exitCode !== 0;
}

/** 'pre-plan hook notify exited with 3', '... timed out after 5m', '... succeeded'. */
export function describeHookResult(name: string, r: HookResult): string {
  const who = `${r.phase} hook ${name}`;
  if (r.startError !== null) return `${who} could not start: ${r.startError}`;
  if (r.timedOut) return `${who} timed out after ${formatSpan(r.timeoutMs)}`;
  if (r.cancelled) return `${who} was cancelled`;
  if (r.signal !== null) return `${who} was killed by ${r.signal}`;
  if (r.exitCode !== 0) return `${who} exited with ${r.exitCode}`;
  return `${who} succeeded`;
}

/** 300ms, 5s, 1.5s, 5m, 2h, 1h30m. */
function formatSpan(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  if (ms % 1000 !== 0) return `${(ms / 1000).toFixed(1).replace(/\.0$/, '')}s`;
  const s = ms / 1000;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return [h ? `${h}h` : '', m ? `${m}m` : '', sec ? `${sec}s` : ''].join('');
}
