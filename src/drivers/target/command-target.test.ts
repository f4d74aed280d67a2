// Tests of a command target's programs with real child processes: the
// backup stream and a short capture stopped on timeout together with what
// they started, the stream failing after its bytes on a non-zero exit, the
// target's own environment, and a program that is not there.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CommandTarget } from '../../config/types.ts';
import { isSafeholdError } from '../../core/errors.ts';
import { commandStream, runCapture } from './command-target.ts';
import { alive } from '../../../test/helpers/processes.ts';

function target(over: Partial<CommandTarget> = {}): CommandTarget {
  return {
    kind: 'command',
    name: 'DB',
    site: null,
    listUnits: null,
    backup: ['sh', '-c', 'printf "dump of $SAFEHOLD_UNIT"'],
    restore: null,
    probe: null,
    timeoutMs: 10_000,
    env: {},
    ...over,
  };
}

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-cmd-target-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A script that starts a background sleep (holding stdout), records its pid, and waits. */
const holdsOutput = (pidFile: string, before = '') => ['sh', '-c', `${before}sleep 30 & echo $! > '${pidFile}'; wait`];

test('a backup program that runs too long is stopped with what it started; the bytes before arrive', {
  timeout: 15_000,
}, async (t) => {
  const pidFile = path.join(tempDir(t), 'pid');
  const t0 = Date.now();
  const stream = commandStream(target({ backup: holdsOutput(pidFile, 'printf partial; '), timeoutMs: 300 }), 'u1');
  let text = '';
  await assert.rejects(
    async () => {
      for await (const c of stream) text += c;
    },
    (e: unknown) => {
      assert.ok(isSafeholdError(e, 'IO'));
      assert.equal(e.message, 'DB: backup of u1 exited with a signal');
      return true;
    },
  );
  assert.equal(text, 'partial');
  assert.ok(Date.now() - t0 < 5000, 'the background sleep did not keep the stream open');
  assert.equal(alive(Number(fs.readFileSync(pidFile, 'utf8'))), false, 'the background sleep was stopped too');
});

test('a probe that runs too long is stopped with what it started', { timeout: 15_000 }, async (t) => {
  const pidFile = path.join(tempDir(t), 'pid');
  const t0 = Date.now();
  const r = await runCapture(target({ timeoutMs: 300 }), holdsOutput(pidFile), {});
  assert.equal(r.code, null);
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(alive(Number(fs.readFileSync(pidFile, 'utf8'))), false);
});

test("a failing backup fails after its bytes with stderr's last line; the target's env reaches it", async () => {
  const t = target({
    backup: [
      'sh',
      '-c',
      'printf "half of $SAFEHOLD_UNIT with $APP_TOKEN"; ' + 'echo "warming up" >&2; echo "disk on fire" >&2; exit 5',
    ],
    env: { APP_TOKEN: { source: 'inline', value: 'tok-1' } },
  });
  let text = '';
  await assert.rejects(async () => {
    for await (const c of commandStream(t, 'u2')) text += c;
  }, /^SafeholdError: DB: backup of u2 exited with 5: disk on fire$/);
  assert.equal(text, 'half of u2 with tok-1');
  const listed = await runCapture(t, ['sh', '-c', 'printf "a\\nb\\n"; exit 0'], { EXTRA: '1' });
  assert.deepEqual(listed, { code: 0, stdout: 'a\nb\n', stderr: '' });
});

test('a program that is not there is named', async () => {
  await assert.rejects(
    runCapture(target(), ['safehold-no-such-program-xyz'], {}),
    /^SafeholdError: DB: cannot run safehold-no-such-program-xyz: command not found$/,
  );
  const stream = commandStream(target({ backup: ['/nonexistent/dump'] }), 'u3');
  await assert.rejects(async () => {
    for await (const c of stream) void c;
  }, /DB: cannot run \/nonexistent\/dump: no such file/);
});
