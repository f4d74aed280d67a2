// CLI flags not covered elsewhere: backup --parent and --force, unlock
// --remove-all, and the progress line a backup draws on a terminal.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeSandbox, show, SAFEHOLD } from './helpers/cli.ts';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { RepoLock } from '../src/repo/lock.ts';

describe('CLI flags', () => {
  it('backup --parent uses the given snapshot, --force reads everything', async (t) => {
    const sb = makeSandbox();
    t.after(() => sb.cleanup());
    await sb.init();
    const src = path.join(sb.dir, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'a'), 'alpha');
    const first = (await sb.run(['backup', src, '--json'])).json();
    const second = (await sb.run(['backup', src, '--json'])).json();
    assert.equal(second.parent, first.snapshot, 'the latest snapshot of the same paths by default');
    const explicit = await sb.run(['backup', src, '--parent', first.snapshot.slice(0, 8), '--json']);
    assert.equal(explicit.json().parent, first.snapshot);
    assert.equal(explicit.json().summary.filesUnchanged, 1);
    const forced = (await sb.run(['backup', src, '--force', '--json'])).json();
    assert.deepEqual([forced.parent, forced.summary.filesNew, forced.summary.bytesRead], [null, 1, 5]);
    const missing = await sb.run(['backup', src, '--parent', 'ffffffff', '--json']);
    assert.equal(missing.code, 1, show(missing));
    assert.equal(missing.json().error.code, 'NOT_FOUND');
  });

  it('unlock removes only stale locks, --remove-all every lock', async (t) => {
    const sb = makeSandbox();
    t.after(() => sb.cleanup());
    await sb.init();
    const repo = await Repository.open(new LocalBackend(sb.repo), sb.password);
    const live = await RepoLock.acquire(repo, false);
    t.after(() => live.release().catch(() => {}));
    assert.deepEqual((await sb.run(['unlock', '--json'])).json(), { removed: 0 }, "a live process's lock is not stale");
    assert.deepEqual((await sb.run(['unlock', '--remove-all', '--json'])).json(), { removed: 1 });
    assert.deepEqual(fs.readdirSync(path.join(sb.repo, 'locks')), []);
  });

  it('backup draws a progress line on a terminal, and none when piped', async (t) => {
    const sb = makeSandbox();
    t.after(() => sb.cleanup());
    await sb.init();
    const src = path.join(sb.dir, 'big');
    fs.mkdirSync(src);
    for (let i = 0; i < 6; i++) fs.writeFileSync(path.join(src, `f${i}`), crypto.randomBytes(16 * 1024 * 1024));
    const env = {
      ...process.env,
      SAFEHOLD_REPOSITORY: sb.repo,
      SAFEHOLD_PASSWORD: sb.password,
      SAFEHOLD_DATA_DIR: path.join(sb.dir, 'data'),
      SAFEHOLD_WORKERS: '1',
    };
    const tty = spawnSync('script', ['-qfec', `${SAFEHOLD} backup ${src}`, '/dev/null'], {
      env,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(tty.status, 0, tty.stdout);
    assert.match(
      tty.stdout,
      // biome-ignore lint/suspicious/noControlCharactersInRegex: the terminal's escape sequence is what is checked
      /\r\x1b\[2K\[[0-9.]+m?s\] \d+ files, \d+ dirs, [0-9.]+ [KMG]i?B read/,
      'a progress line is drawn and redrawn in place',
    );
    fs.appendFileSync(path.join(src, 'f0'), 'x');
    const piped = await sb.run(['backup', src, '--force']);
    assert.equal(piped.code, 0, show(piped));
    assert.ok(!piped.stderr.includes('\x1b[2K'), 'no progress when stderr is not a terminal');
  });
});
