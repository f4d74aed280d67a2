// The password prompt on a terminal: init asks twice without echo, other
// commands ask once, a wrong answer gives exit 12. Runs the CLI under a real
// pseudo-terminal made by script(1).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SAFEHOLD = path.resolve(import.meta.dirname, '..', 'safehold');

/** Runs `safehold ARGS` on a pty, answering each prompt with the next of `answers`. */
function onTty(args: string[], answers: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; screen: string }> {
  return new Promise((resolve, reject) => {
    const cmd = `${SAFEHOLD} ${args.join(' ')}; echo "EXIT=$?"`;
    const child = spawn('script', ['-qfec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let answered = 0;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out; screen so far:\n${screen}`));
    }, 30_000);
    child.stdout.on('data', (d: Buffer) => {
      screen += d.toString();
      const prompts = screen.match(/password[^\n]*: /g)?.length ?? 0;
      while (answered < prompts && answered < answers.length) child.stdin.write(`${answers[answered++]}\r`);
    });
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      const m = /EXIT=(\d+)/.exec(screen);
      resolve({ code: m ? Number(m[1]) : -1, screen });
    });
  });
}

describe('password prompt on a terminal', () => {
  it('asks twice on init, once later, hides the input, and refuses a wrong password', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-tty-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: dir,
      SAFEHOLD_DATA_DIR: path.join(dir, 'data'),
      SAFEHOLD_REPOSITORY: path.join(dir, 'repo'),
    };
    const secret = 'tty-Secret-42';

    const init = await onTty(['init'], [secret, secret], env);
    assert.equal(init.code, 0, init.screen);
    assert.equal(init.screen.match(/enter new password[^:]*: /g)?.length, 2, 'asked twice');
    assert.ok(!init.screen.includes(secret), 'the password is not echoed');

    const ok = await onTty(['snapshots'], [secret], env);
    assert.equal(ok.code, 0, ok.screen);
    assert.match(ok.screen, /0 snapshots/);

    const bad = await onTty(['snapshots'], ['not-it'], env);
    assert.equal(bad.code, 12, bad.screen);
    assert.match(bad.screen, /wrong password/);

    const mismatch = await onTty(['init', '--repo', path.join(dir, 'repo2')], ['one', 'two'], env);
    assert.equal(mismatch.code, 2, mismatch.screen);
    assert.match(mismatch.screen, /do not match/);
    assert.ok(!fs.existsSync(path.join(dir, 'repo2', 'config')), 'no repository was created');
  });
});
