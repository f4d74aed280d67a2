// The password prompt on a terminal: init asks twice without echo, other
// commands ask once, a wrong answer gives exit 12. Runs the CLI under a real
// pseudo-terminal made by script(1) (helpers/tty.ts).

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { onTty } from './helpers/tty.ts';

const PASSWORD = /password[^\n]*: /;

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

    const init = await onTty(['init'], PASSWORD, [secret, secret], env);
    assert.equal(init.code, 0, init.screen);
    assert.equal(init.screen.match(/enter new password[^:]*: /g)?.length, 2, 'asked twice');
    assert.ok(!init.screen.includes(secret), 'the password is not echoed');

    const ok = await onTty(['snapshots'], PASSWORD, [secret], env);
    assert.equal(ok.code, 0, ok.screen);
    assert.match(ok.screen, /0 snapshots/);

    const bad = await onTty(['snapshots'], PASSWORD, ['not-it'], env);
    assert.equal(bad.code, 12, bad.screen);
    assert.match(bad.screen, /wrong password/);

    const mismatch = await onTty(['init', '--repo', path.join(dir, 'repo2')], PASSWORD, ['one', 'two'], env);
    assert.equal(mismatch.code, 2, mismatch.screen);
    assert.match(mismatch.screen, /do not match/);
    assert.ok(!fs.existsSync(path.join(dir, 'repo2', 'config')), 'no repository was created');
  });
});
