// Tests of hook commands with real child processes: environment (an
// allow-list, no secrets), captured output, exit codes, timeouts that kill a
// whole process tree, commands that cannot start, cancellation, the
// kept-lines cap and time from the injected clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Hook } from '../../config/types.ts';
import { ManualClock } from '../../core/clock.ts';
import {
  describeHookResult,
  hookEnv,
  hookFailed,
  runHook,
  type HookContext,
  type HookLogLine,
  type HookResult,
} from './hooks.ts';
import { alive } from '../../../test/helpers/processes.ts';

const ctx: HookContext = { plan: 'nightly', run: 'run-42', phase: 'pre-plan' };
const taskCtx: HookContext = {
  plan: 'nightly',
  run: 'run-42',
  task: 'task-3',
  target: 'TEST8',
  unit: 'DOMAIN1',
  phase: 'post-task',
  snapshot: 'ab12cd34',
};

function hook(script: string, timeoutMs = 10_000, name = 'notify'): Hook {
  return { name, command: ['sh', '-c', script], timeoutMs, failOnError: true, always: false };
}

function pidsFrom(lines: readonly HookLogLine[]): number[] {
  return lines.filter((l) => /^pid \d+$/.test(l.line)).map((l) => Number(l.line.slice(4)));
}

function cleanup(pids: number[]) {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

const stdout = (r: HookResult) => r.lines.filter((l) => l.stream === 'stdout').map((l) => l.line);
const stderr = (r: HookResult) => r.lines.filter((l) => l.stream === 'stderr').map((l) => l.line);

test('the context arrives as SAFEHOLD_* variables on top of the allow-listed environment only', async () => {
  const script =
    'for v in PLAN RUN TASK TARGET UNIT PHASE SNAPSHOT; do eval "echo $v=\\${SAFEHOLD_$v-unset}"; done; echo "OTHER=${HOOK_TEST_OTHER-unset} TZ=${TZ-unset} LC=${LC_TIME-unset}"';
  const saved = { TZ: process.env.TZ, LC_TIME: process.env.LC_TIME };
  process.env.HOOK_TEST_OTHER = 'not-passed';
  process.env.SAFEHOLD_SNAPSHOT = 'leaked-from-parent';
  process.env.TZ = 'Europe/Berlin';
  process.env.LC_TIME = 'C';
  try {
    const full = await runHook(hook(script), taskCtx);
    assert.deepEqual(stdout(full), [
      'PLAN=nightly',
      'RUN=run-42',
      'TASK=task-3',
      'TARGET=TEST8',
      'UNIT=DOMAIN1',
      'PHASE=post-task',
      'SNAPSHOT=ab12cd34',
      'OTHER=unset TZ=Europe/Berlin LC=C',
    ]);
    const bare = await runHook(hook(script), ctx);
    assert.deepEqual(stdout(bare), [
      'PLAN=nightly',
      'RUN=run-42',
      'TASK=unset',
      'TARGET=unset',
      'UNIT=unset',
      'PHASE=pre-plan',
      'SNAPSHOT=unset',
      'OTHER=unset TZ=Europe/Berlin LC=C',
    ]);
  } finally {
    delete process.env.HOOK_TEST_OTHER;
    delete process.env.SAFEHOLD_SNAPSHOT;
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});

test('argv is passed without a shell', async () => {
  const r = await runHook(
    {
      name: 'args',
      command: ['printf', '%s\\n', 'a b', '$HOME', '*'],
      timeoutMs: 5000,
      failOnError: true,
      always: false,
    },
    ctx,
  );
  assert.deepEqual(stdout(r), ['a b', '$HOME', '*']);
});

test('stdout and stderr are captured line by line, in order per stream, to log and result', async () => {
  const seen: HookLogLine[] = [];
  const r = await runHook(
    hook('for i in 1 2 3 4 5 6 7 8 9 10; do echo "out $i"; echo "err $i" >&2; done; printf "crlf\\r\\nno newline"'),
    ctx,
    { log: (l) => seen.push(l) },
  );
  assert.equal(r.exitCode, 0);
  assert.deepEqual(stdout(r), [...Array.from({ length: 10 }, (_, i) => `out ${i + 1}`), 'crlf', 'no newline']);
  assert.deepEqual(
    stderr(r),
    Array.from({ length: 10 }, (_, i) => `err ${i + 1}`),
  );
  assert.deepEqual(seen, r.lines, 'log saw exactly the kept lines');
  assert.equal(r.droppedLines, 0);
  assert.equal(hookFailed(r), false);
  assert.equal(describeHookResult('notify', r), 'pre-plan hook notify succeeded');
});

test('times come from the injected clock', async () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 25, 22, 0));
  const t0 = clock.now();
  // Each line read moves the clock a minute: lines are stamped and the duration measured on it.
  const r = await runHook(hook('echo a; echo b; echo c'), ctx, { clock, log: () => clock.set(clock.now() + 60_000) });
  assert.deepEqual(
    r.lines.map((l) => l.at - t0),
    [0, 60_000, 120_000],
  );
  assert.equal(r.durationMs, 180_000);
});

test('exit codes and signals', async () => {
  const three = await runHook(hook('echo failing >&2; exit 3', 5000, 'notify'), ctx);
  assert.equal(three.exitCode, 3);
  assert.equal(three.signal, null);
  assert.equal(hookFailed(three), true);
  assert.equal(describeHookResult('notify', three), 'pre-plan hook notify exited with 3');
  const killed = await runHook(hook('kill -9 $$', 5000, 'check'), { ...taskCtx, phase: 'pre-task' });
  assert.equal(killed.exitCode, null);
  assert.equal(killed.signal, 'SIGKILL');
  assert.equal(killed.timedOut, false);
  assert.equal(hookFailed(killed), true);
  assert.equal(describeHookResult('check', killed), 'pre-task hook check was killed by SIGKILL');
});

test('a timeout terminates the whole process tree', async () => {
  const started = Date.now();
  const r = await runHook(hook('sleep 100 & echo "pid $!"; wait', 300), ctx, { graceMs: 5000 });
  const pids = pidsFrom(r.lines);
  try {
    assert.equal(pids.length, 1);
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGTERM');
    assert.equal(hookFailed(r), true);
    assert.equal(alive(pids[0]!), false, 'the background sleep was killed too');
    assert.ok(Date.now() - started < 3000, 'SIGTERM was enough, no grace wait');
    assert.equal(describeHookResult('notify', r), 'pre-plan hook notify timed out after 300ms');
  } finally {
    cleanup(pids);
  }
});

test('processes that ignore SIGTERM get SIGKILL after the grace period', async () => {
  const started = Date.now();
  const r = await runHook(hook('trap "" TERM; sleep 100 & echo "pid $!"; wait', 300), ctx, { graceMs: 400 });
  const pids = pidsFrom(r.lines);
  try {
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGKILL');
    assert.equal(alive(pids[0]!), false);
    assert.ok(Date.now() - started >= 700, 'waited for the grace period');
  } finally {
    cleanup(pids);
  }
});

test('a grandchild that ignores SIGTERM and outlives the hook is killed after the grace period', async () => {
  // The shell dies on SIGTERM; the detached sleep ignores it and does not hold the output pipes.
  const r = await runHook(hook('(trap "" TERM; exec sleep 100) >/dev/null 2>&1 & echo "pid $!"; wait', 300), ctx, {
    graceMs: 400,
  });
  const pids = pidsFrom(r.lines);
  try {
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGTERM', 'the shell itself ended on SIGTERM');
    assert.equal(pids.length, 1);
    assert.equal(alive(pids[0]!), false, 'the grandchild did not survive the run');
  } finally {
    cleanup(pids);
  }
});

test('a command that cannot start yields exit code 127 and a clear line, not a throw', async () => {
  const missing = await runHook(
    {
      name: 'notify',
      command: ['safehold-no-such-program-xyz', '--now'],
      timeoutMs: 1000,
      failOnError: true,
      always: false,
    },
    ctx,
  );
  assert.equal(missing.exitCode, 127);
  assert.equal(hookFailed(missing), true);
  assert.deepEqual(
    missing.lines.map((l) => [l.stream, l.line]),
    [['stderr', 'safehold: cannot run hook notify: safehold-no-such-program-xyz: command not found']],
  );
  assert.equal(
    describeHookResult('notify', missing),
    'pre-plan hook notify could not start: safehold-no-such-program-xyz: command not found',
  );
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-hook-'));
  try {
    const notExecutable = path.join(dir, 'script.sh');
    fs.writeFileSync(notExecutable, '#!/bin/sh\necho hi\n', { mode: 0o644 });
    const r = await runHook(
      { name: 'x', command: [notExecutable], timeoutMs: 1000, failOnError: true, always: false },
      ctx,
    );
    assert.equal(r.exitCode, 126);
    assert.match(r.startError ?? '', /permission denied/);
    const empty = await runHook({ name: 'x', command: [], timeoutMs: 1000, failOnError: true, always: false }, ctx);
    assert.equal(empty.exitCode, 127);
    assert.equal(empty.startError, 'empty command');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('an abort signal cancels like a timeout', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 200);
  const started = Date.now();
  const r = await runHook(hook('sleep 100 & echo "pid $!"; wait', 30_000), ctx, { signal: ac.signal });
  const pids = pidsFrom(r.lines);
  try {
    assert.equal(r.cancelled, true);
    assert.equal(r.timedOut, false);
    assert.equal(r.signal, 'SIGTERM');
    assert.equal(alive(pids[0]!), false);
    assert.ok(Date.now() - started < 3000);
    assert.equal(describeHookResult('notify', r), 'pre-plan hook notify was cancelled');
  } finally {
    cleanup(pids);
  }
});

test('an already aborted signal does not start the hook', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-hook-'));
  try {
    const marker = path.join(dir, 'ran');
    const r = await runHook(hook(`touch '${marker}'`), ctx, { signal: AbortSignal.abort() });
    assert.equal(r.cancelled, true);
    assert.equal(hookFailed(r), true);
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(fs.existsSync(marker), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('only the last lines are kept; all of them go to the log', async () => {
  let logged = 0;
  const r = await runHook(
    { name: 'seq', command: ['seq', '1', '2500'], timeoutMs: 5000, failOnError: true, always: false },
    ctx,
    { maxLines: 1000, log: () => logged++ },
  );
  assert.equal(logged, 2500);
  assert.equal(r.lines.length, 1000);
  assert.equal(r.droppedLines, 1500);
  assert.equal(r.lines[0]!.line, '1501');
  assert.equal(r.lines.at(-1)!.line, '2500');
  const small = await runHook(
    { name: 'seq', command: ['seq', '1', '10'], timeoutMs: 5000, failOnError: true, always: false },
    ctx,
    { maxLines: 3 },
  );
  assert.deepEqual(stdout(small), ['8', '9', '10']);
  assert.equal(small.droppedLines, 7);
  const byDefault = await runHook(
    { name: 'seq', command: ['seq', '1', '1200'], timeoutMs: 5000, failOnError: true, always: false },
    ctx,
  );
  assert.equal(byDefault.lines.length, 1000);
  assert.equal(byDefault.lines[0]!.line, '201');
});

test('a hook that leaves a background process holding its output still finishes', async () => {
  const started = Date.now();
  const r = await runHook(hook('sleep 30 & echo "pid $!"; exit 0', 20_000), ctx);
  const pids = pidsFrom(r.lines);
  try {
    assert.equal(r.exitCode, 0);
    assert.equal(r.timedOut, false);
    assert.ok(Date.now() - started < 3000, 'did not wait for the background process');
    assert.equal(alive(pids[0]!), true, 'a background process after a normal exit is left alone');
  } finally {
    cleanup(pids);
  }
});

test('describeHookResult spells out timeouts', () => {
  const base: HookResult = {
    phase: 'post-plan',
    exitCode: null,
    signal: 'SIGTERM',
    timedOut: true,
    cancelled: false,
    startError: null,
    timeoutMs: 300_000,
    durationMs: 300_010,
    lines: [],
    droppedLines: 0,
  };
  assert.equal(describeHookResult('report', base), 'post-plan hook report timed out after 5m');
  assert.equal(
    describeHookResult('report', { ...base, timeoutMs: 5400_000 }),
    'post-plan hook report timed out after 1h30m',
  );
  assert.equal(
    describeHookResult('report', { ...base, timeoutMs: 1500 }),
    'post-plan hook report timed out after 1.5s',
  );
});

test("Safehold's own secrets and other variables are not handed to hooks", () => {
  const env = hookEnv(
    { plan: 'p', run: 'r', phase: 'pre-plan' },
    {
      PATH: '/bin',
      HOME: '/root',
      SAFEHOLD_PASSWORD: 'hunter2',
      SAFEHOLD_NEW_PASSWORD: 'x',
      SAFEHOLD_PASSWORD_FILE: '/pw',
      OTHER: 'dropped',
    },
  );
  assert.deepEqual(env, {
    PATH: '/bin',
    HOME: '/root',
    SAFEHOLD_PLAN: 'p',
    SAFEHOLD_RUN: 'r',
    SAFEHOLD_PHASE: 'pre-plan',
  });
});
