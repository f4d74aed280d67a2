// Tests of the one way Safehold runs programs, with real child processes:
// SIGTERM then SIGKILL to the whole process group, grandchildren included;
// UTF-8 lines across read boundaries and over-long lines; the abort signal;
// start errors; captures, stdin; and stdout as a stream that keeps
// backpressure and fails only after its last byte.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { childEnv } from './child-env.ts';
import { runChild, streamChild, type ChildOutcome, type OutputName } from './child-process.ts';
import { alive } from '../../test/helpers/processes.ts';

const env = childEnv();

function collector() {
  const lines: [OutputName, string][] = [];
  return {
    lines,
    onLine: (stream: OutputName, line: string) => {
      lines.push([stream, line]);
    },
  };
}

const pidsIn = (lines: [OutputName, string][]) =>
  lines.filter(([, l]) => /^pid \d+$/.test(l)).map(([, l]) => Number(l.slice(4)));

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-child-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a program that ignores SIGTERM is killed with SIGKILL after the grace period', async () => {
  const t0 = Date.now();
  const o = await runChild({
    argv: ['sh', '-c', 'trap "" TERM; while :; do sleep 0.05; done'],
    env,
    timeoutMs: 200,
    graceMs: 400,
  });
  const took = Date.now() - t0;
  assert.equal(o.stopped, 'timeout');
  assert.equal(o.signal, 'SIGKILL');
  assert.equal(o.exitCode, null);
  assert.ok(took >= 600 && took < 3000, `took ${took} ms`);
});

test('the whole process group goes: children, and a grandchild that ignores SIGTERM and left the pipes', async () => {
  const out = collector();
  const t0 = Date.now();
  const script = 'sleep 30 & echo "pid $!"; (trap "" TERM; exec sleep 30) >/dev/null 2>&1 & echo "pid $!"; wait';
  const o = await runChild({
    argv: ['sh', '-c', script],
    env,
    timeoutMs: 200,
    graceMs: 300,
    stdout: 'lines',
    onLine: out.onLine,
  });
  const pids = pidsIn(out.lines);
  try {
    assert.equal(pids.length, 2);
    assert.equal(o.stopped, 'timeout');
    assert.equal(o.signal, 'SIGTERM', 'the shell itself ended on SIGTERM');
    for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} of the group was left running`);
    assert.ok(Date.now() - t0 >= 500, 'the run waited for the grandchild to be killed');
  } finally {
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
});

test('a UTF-8 character split across reads stays one character; CR LF ends a line', async () => {
  // 'a€b\r\n' and 'é\n', written in three pieces that cut both characters.
  const js = `const parts = [[0x61, 0xe2, 0x82], [0xac, 0x62, 0x0d, 0x0a, 0xc3], [0xa9, 0x0a]];
    const next = (i) => {
      if (i < parts.length) process.stdout.write(Buffer.from(parts[i]), () => setTimeout(() => next(i + 1), 60));
    };
    next(0);`;
  const out = collector();
  const o = await runChild({ argv: [process.execPath, '-e', js], env, stdout: 'lines', onLine: out.onLine });
  assert.equal(o.exitCode, 0);
  assert.deepEqual(out.lines, [
    ['stdout', 'a€b'],
    ['stdout', 'é'],
  ]);
});

test('a line longer than the maximum is cut; stderr lines arrive too; a last line without LF counts', async () => {
  const out = collector();
  const o = await runChild({
    argv: ['sh', '-c', 'echo 0123456789012345678901234; echo short; echo oops >&2; printf tail'],
    env,
    stdout: 'lines',
    maxLine: 10,
    onLine: out.onLine,
  });
  assert.equal(o.exitCode, 0);
  const stdout = out.lines.filter(([s]) => s === 'stdout').map(([, l]) => l);
  assert.deepEqual(stdout, ['0123456789', '0123456789', '01234', 'short', 'tail']);
  assert.deepEqual(
    out.lines.filter(([s]) => s === 'stderr'),
    [['stderr', 'oops']],
  );
  assert.equal(o.stderr, 'oops\n');
});

test('the abort signal stops the program; an aborted signal does not start it', async (t) => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 100);
  const t0 = Date.now();
  const o = await runChild({ argv: ['sleep', '30'], env, signal: ac.signal, timeoutMs: 20_000 });
  assert.equal(o.stopped, 'abort');
  assert.equal(o.signal, 'SIGTERM');
  assert.ok(Date.now() - t0 < 2000);
  const marker = path.join(tempDir(t), 'ran');
  const never = await runChild({ argv: ['touch', marker], env, signal: AbortSignal.abort() });
  assert.deepEqual([never.stopped, never.exitCode, never.startError], ['abort', null, null]);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(fs.existsSync(marker), false);
});

test('a program that cannot start is described: not found, no such file, permission denied, empty', async (t) => {
  const missing = await runChild({ argv: ['safehold-no-such-program-xyz', '-v'], env });
  assert.equal(missing.startError?.kind, 'missing');
  assert.equal(missing.startError?.code, 'ENOENT');
  assert.equal(missing.startError?.message, 'safehold-no-such-program-xyz: command not found');
  assert.equal(missing.exitCode, null);
  const noFile = await runChild({ argv: ['/nonexistent/safehold-x'], env });
  assert.equal(noFile.startError?.message, '/nonexistent/safehold-x: no such file');
  const script = path.join(tempDir(t), 'script.sh');
  fs.writeFileSync(script, '#!/bin/sh\necho hi\n', { mode: 0o644 });
  const denied = await runChild({ argv: [script], env });
  assert.deepEqual([denied.startError?.kind, denied.startError?.reason], ['denied', 'permission denied']);
  const empty = await runChild({ argv: [], env });
  assert.deepEqual([empty.startError?.kind, empty.startError?.message], ['missing', 'empty command']);
  const stream = streamChild({
    argv: ['safehold-no-such-program-xyz'],
    env,
    failure: (o) => (o.startError ? new Error(o.startError.reason) : null),
  });
  await assert.rejects(stream.started, /command not found/);
  await assert.rejects(async () => {
    for await (const c of stream.stdout) void c;
  }, /command not found/);
});

test('capture: stdin in, stdout out; more than the limit stops the program', async () => {
  const echo = await runChild({ argv: ['cat'], env, stdin: 'héllo\nwörld', stdout: 'capture' });
  assert.deepEqual([echo.exitCode, echo.stdout], [0, 'héllo\nwörld']);
  const flood = await runChild({ argv: ['yes'], env, stdout: 'capture', maxCapture: 100_000, timeoutMs: 10_000 });
  assert.equal(flood.stopped, 'limit');
  assert.ok(flood.stdout.length <= 100_000);
  const input = new Readable({
    read() {
      this.destroy(new Error('disk gone'));
    },
  });
  const failed = await runChild({ argv: ['cat'], env, stdin: input, timeoutMs: 10_000 });
  assert.equal(failed.stopped, 'input');
  assert.match(String(failed.inputError), /disk gone/);
});

test('stream: backpressure holds the program; every byte arrives before the failure of a non-zero exit', async () => {
  const size = 8 * 1024 * 1024;
  const s = streamChild({
    argv: ['sh', '-c', `head -c ${size} /dev/zero; echo "no space left" >&2; exit 3`],
    env,
    timeoutMs: 20_000,
    failure: (o) => (o.exitCode === 0 ? null : new Error(`exited ${o.exitCode}: ${o.stderr.trim()}`)),
  });
  let outcome: ChildOutcome | null = null;
  void s.outcome.then((o) => {
    outcome = o;
  });
  await s.started;
  let bytes = 0;
  const chunks = s.stdout[Symbol.asyncIterator]();
  bytes += ((await chunks.next()).value as Buffer).length;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(outcome, null, 'the program is still blocked writing: it was not read ahead unboundedly');
  // Read all but the last 128 KiB: the program then ends while its last bytes are still unread.
  while (bytes < size - 128 * 1024) bytes += ((await chunks.next()).value as Buffer).length;
  const ended = await Promise.race([s.outcome, new Promise<null>((r) => setTimeout(() => r(null), 5000))]);
  assert.equal(ended?.exitCode, 3);
  await assert.rejects(async () => {
    for (;;) {
      const { value, done } = await chunks.next();
      if (done) break;
      bytes += (value as Buffer).length;
    }
  }, /^Error: exited 3: no space left$/);
  assert.equal(bytes, size, 'all of stdout was delivered before the error');
});

test('stream: a clean end; a reader giving up stops the program; no data for the idle time stops it', async () => {
  const ok = streamChild({ argv: ['printf', 'hello'], env, failure: () => null });
  let text = '';
  for await (const c of ok.stdout) text += c;
  assert.equal(text, 'hello');
  assert.equal((await ok.outcome).exitCode, 0);

  const endless = streamChild({ argv: ['yes'], env, failure: () => null });
  for await (const c of endless.stdout) {
    assert.ok(c.length > 0);
    break;
  }
  const stopped = await endless.outcome;
  assert.equal(stopped.stopped, 'cancel');
  assert.notEqual(stopped.signal, null);

  const t0 = Date.now();
  const idle = streamChild({
    argv: ['sh', '-c', 'printf a; exec sleep 30'],
    env,
    idleTimeoutMs: 300,
    failure: (o) => (o.stopped === 'timeout' ? new Error(`no data for 300 ms after ${o.stdoutBytes} byte(s)`) : null),
  });
  await idle.started;
  await assert.rejects(async () => {
    for await (const c of idle.stdout) void c;
  }, /no data for 300 ms after 1 byte/);
  assert.ok(Date.now() - t0 < 3000);
});
