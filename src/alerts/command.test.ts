// The command alert channel with real child processes: the alert JSON on
// stdin, the event in the environment, exit status, and the timeout.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lowSpace, toPayload } from './events.ts';
import { runAlertCommand } from './command.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-alert-cmd-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const payload = toPayload(
  'a1b2',
  Date.UTC(2026, 0, 2),
  lowSpace({ path: '/srv/backups', freeBytes: 1024, thresholdBytes: 4096 }),
);

test('command: receives the alert JSON on stdin and the event in its environment', async (t) => {
  const dir = tempDir(t);
  const out = path.join(dir, 'alert.json');
  const env = path.join(dir, 'env.txt');
  const r = await runAlertCommand(payload, {
    argv: [
      'sh',
      '-c',
      'cat > "$1"; printf "%s %s %s %s" "$SAFEHOLD_ALERT_EVENT" "$SAFEHOLD_ALERT_SEVERITY" "$SAFEHOLD_ALERT_ID" "$EXTRA" > "$2"',
      'sh',
      out,
      env,
    ],
    env: { EXTRA: 'x1' },
  });
  assert.deepEqual(r, { ok: true, detail: 'sh exited 0', attempts: 1 });
  assert.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')), payload);
  assert.equal(fs.readFileSync(env, 'utf8'), 'low-space warning a1b2 x1');
});

test('command: a non-zero exit is a failed delivery with its stderr', async () => {
  const r = await runAlertCommand(payload, { argv: ['sh', '-c', 'echo "relay refused" >&2; exit 7'] });
  assert.deepEqual(r, { ok: false, detail: 'sh exited 7: relay refused', attempts: 1 });
});

test('command: a command that does not exist is a failed delivery, not an exception', async () => {
  const r = await runAlertCommand(payload, { argv: ['/nonexistent/safehold-notify'] });
  assert.equal(r.ok, false);
  assert.match(r.detail, /cannot run \/nonexistent\/safehold-notify: ENOENT/);
  assert.deepEqual(await runAlertCommand(payload, { argv: [] }), {
    ok: false,
    detail: 'alert command is empty',
    attempts: 0,
  });
});

test('command: killed with its children after the timeout', async (t) => {
  const dir = tempDir(t);
  const pidFile = path.join(dir, 'child.pid');
  const t0 = Date.now();
  // The shell starts a background sleep that would hold stderr open; the whole group must go.
  const r = await runAlertCommand(payload, {
    argv: ['sh', '-c', `sleep 30 & echo $! > ${pidFile}; wait`],
    timeoutMs: 300,
  });
  const took = Date.now() - t0;
  assert.deepEqual(r, { ok: false, detail: 'sh timed out after 300 ms', attempts: 1 });
  assert.ok(took < 5000, `took ${took} ms`);
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  assert.ok(await gone(pid), `the background sleep ${pid} was killed too`);
});

/** Whether `pid` is gone or a zombie (killed, not yet reaped by whoever inherited it), within 2 s. */
async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      return true;
    }
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return false;
}
