// Hook commands around plan runs and tasks (SPEC S3 step 7, S4 steps 6 and
// 10): runs a configured argv without a shell, in its own process group, with
// SAFEHOLD_* variables naming the plan, run, task, target, unit, phase and
// snapshot on top of the allow-listed environment (core/child-env.ts: no
// secrets); captures stdout and stderr line by line for the run log; enforces
// the hook's timeout (and an AbortSignal) with SIGTERM then, after a grace
// period, SIGKILL to the whole process group. Never throws for a hook that
// fails or cannot start: the result says what happened.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { Hook } from '../../config/types.ts';
import { systemClock, type Clock } from '../../core/clock.ts';
import { sysCode } from '../../core/errors.ts';
import { childEnv } from '../../core/child-env.ts';

export type HookPhase = 'pre-plan' | 'post-plan' | 'pre-task' | 'post-task' | 'group-stop' | 'group-start' | 'restore-stop' | 'restore-check' | 'restore-cleanup' | 'restore-start';

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
  plan: 'SAFEHOLD_PLAN', run: 'SAFEHOLD_RUN', task: 'SAFEHOLD_TASK', target: 'SAFEHOLD_TARGET',
  unit: 'SAFEHOLD_UNIT', phase: 'SAFEHOLD_PHASE', snapshot: 'SAFEHOLD_SNAPSHOT',
} as const;

const MAX_LINE = 64 * 1024;
/** After the hook exits, how long to keep reading pipes a background child may still hold. */
const DRAIN_MS = 250;
const POLL_MS = 50;
/** After SIGKILL, how long to wait for the process group to disappear before giving up. */
const KILL_WAIT_MS = 2000;

/** A hook's environment: the allow-listed variables (core/child-env.ts) and its SAFEHOLD_* context, nothing else. */
export function hookEnv(ctx: HookContext, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const own: Record<string, string | undefined> = {};
  for (const [key, name] of Object.entries(HOOK_ENV)) own[name] = ctx[key as keyof HookContext];
  return childEnv(own, { base });
}

/** Runs one hook to completion and reports how it went. */
export async function runHook(hook: Hook, ctx: HookContext, opts: RunHookOptions = {}): Promise<HookResult> {
  const clock = opts.clock ?? systemClock;
  const maxLines = opts.maxLines ?? 1000;
  const graceMs = opts.graceMs ?? 5000;
  const started = clock.now();
  const kept: HookLogLine[] = [];
  let dropped = 0;

  const emit = (stream: 'stdout' | 'stderr', line: string) => {
    const entry: HookLogLine = { stream, line, at: clock.now() };
    try { opts.log?.(entry); } catch { /* a failing logger must not break the hook */ }
    kept.push(entry);
    if (kept.length >= 2 * maxLines) { dropped += kept.length - maxLines; kept.splice(0, kept.length - maxLines); }
  };
  const finish = (f: { exitCode: number | null; signal?: NodeJS.Signals | null; timedOut?: boolean; cancelled?: boolean; startError?: string | null }): HookResult => {
    if (kept.length > maxLines) { dropped += kept.length - maxLines; kept.splice(0, kept.length - maxLines); }
    return {
      phase: ctx.phase, exitCode: f.exitCode, signal: f.signal ?? null, timedOut: f.timedOut ?? false,
      cancelled: f.cancelled ?? false, startError: f.startError ?? null, timeoutMs: hook.timeoutMs,
      durationMs: Math.max(0, clock.now() - started), lines: kept, droppedLines: dropped,
    };
  };
  const cannotStart = (message: string, exitCode: number) => {
    emit('stderr', `safehold: cannot run hook ${hook.name}: ${message}`);
    return finish({ exitCode, startError: message });
  };

  if (opts.signal?.aborted) return finish({ exitCode: null, cancelled: true });
  const [program, ...args] = hook.command;
  if (program === undefined || program === '') return cannotStart('empty command', 127);

  let child: ChildProcess;
  try {
    child = spawn(program, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: hookEnv(ctx) });
  } catch (e) {
    return cannotStart(e instanceof Error ? e.message : String(e), 126);
  }

  return new Promise<HookResult>((resolve) => {
    let exited: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let openStreams = 2;
    let stopping: 'timeout' | 'abort' | null = null;
    let killedAt: number | null = null;
    let done = false;
    const timers: NodeJS.Timeout[] = [];

    const groupGone = (): boolean => child.pid === undefined || processGroupGone(child.pid);
    const signalGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try { process.kill(-child.pid, sig); } catch { /* already gone */ }
    };
    const settle = (r: HookResult) => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(r);
    };
    const maybeFinish = () => {
      if (done || exited === null || openStreams > 0) return;
      // After SIGKILL, wait briefly for the kernel to finish the group off (a process in D state may take longer).
      if (stopping !== null && !groupGone() && (killedAt === null || Date.now() - killedAt < KILL_WAIT_MS)) return;
      settle(finish({ exitCode: exited.code, signal: exited.signal, timedOut: stopping === 'timeout', cancelled: stopping === 'abort' }));
    };
    const stop = (why: 'timeout' | 'abort') => {
      if (stopping !== null || done) return;
      stopping = why;
      signalGroup('SIGTERM');
      timers.push(setTimeout(() => { killedAt = Date.now(); signalGroup('SIGKILL'); maybeFinish(); }, graceMs));
      // Children that outlive the leader keep the run going until they are gone or killed.
      const poll = () => { maybeFinish(); if (!done) timers.push(setTimeout(poll, POLL_MS)); };
      timers.push(setTimeout(poll, POLL_MS));
    };
    const onAbort = () => stop('abort');

    for (const [name, stream] of [['stdout', child.stdout!], ['stderr', child.stderr!]] as const) {
      const decoder = new StringDecoder('utf8');
      let buf = '';
      const flushLines = (final: boolean) => {
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          emit(name, buf.slice(0, i > 0 && buf[i - 1] === '\r' ? i - 1 : i));
          buf = buf.slice(i + 1);
        }
        while (buf.length > MAX_LINE) { emit(name, buf.slice(0, MAX_LINE)); buf = buf.slice(MAX_LINE); }
        if (final && buf !== '') { emit(name, buf); buf = ''; }
      };
      let closed = false;
      const onClose = () => {
        if (closed) return;
        closed = true;
        buf += decoder.end();
        flushLines(true);
        openStreams--;
        maybeFinish();
      };
      stream.on('data', (chunk: Buffer) => { buf += decoder.write(chunk); flushLines(false); });
      stream.on('end', onClose);
      stream.on('close', onClose);
      stream.on('error', onClose);
    }

    child.on('error', (e) => {
      if (child.pid !== undefined && exited === null) return; // a later error on a running child: 'exit' follows
      if (done || exited !== null) return;
      const code = sysCode(e);
      const message = code === 'ENOENT' ? `${program}: ${program.includes('/') ? 'no such file' : 'command not found'}` : code === 'EACCES' ? `${program}: permission denied` : e.message;
      settle(cannotStart(message, code === 'ENOENT' ? 127 : 126));
    });
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      // A background child may still hold the pipes: read what comes soon, then stop reading.
      timers.push(setTimeout(() => {
        child.stdout?.destroy();
        child.stderr?.destroy();
      }, DRAIN_MS));
      maybeFinish();
    });

    if (Number.isFinite(hook.timeoutMs) && hook.timeoutMs > 0) timers.push(setTimeout(() => stop('timeout'), hook.timeoutMs));
    opts.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Whether no live process is left in process group `pgid`. Zombies do not
 * count: orphans wait for init to reap them, which some inits do lazily.
 */
export function processGroupGone(pgid: number): boolean {
  try { process.kill(-pgid, 0); } catch (e) { return sysCode(e) === 'ESRCH'; }
  let entries: string[];
  try { entries = fs.readdirSync('/proc'); } catch { return false; }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try { stat = fs.readFileSync(`/proc/${entry}/stat`, 'latin1'); } catch { continue; }
    // 'pid (comm) state ppid pgrp ...'; comm may contain spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return false;
  }
  return true;
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
