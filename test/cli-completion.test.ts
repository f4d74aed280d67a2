// safehold completion: the bash script loads and registers itself, and
// completes every command of `safehold --help`, a command's options (its own
// and the global ones) and subcommands; the zsh and fish scripts name every
// command too; --json wraps the script; an unknown shell is a usage error.

import { after, before, describe, it } from 'node:test';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { SAFEHOLD, baseEnv, runCli, show } from './helpers/cli.ts';

/** The bash script, generated once (before) into a temporary file. */
let bashScript = '';

/** Runs `_safehold` in bash on the given words (the last one is completed) and returns COMPREPLY. */
function bashComplete(words: string[]): string[] {
  const arr = words.map((w) => `'${w}'`).join(' ');
  const script = `source "${bashScript}" || exit 9
COMP_WORDS=(${arr}); COMP_CWORD=${words.length - 1}; _safehold
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script], { env: baseEnv(), encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean);
}

describe('safehold completion', () => {
  let commands: string[];
  after(() => fs.rmSync(path.dirname(bashScript), { recursive: true, force: true }));

  before(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-completion-'));
    bashScript = path.join(dir, 'safehold.bash');
    const gen = await runCli(['completion', 'bash']);
    assert.equal(gen.code, 0, show(gen));
    fs.writeFileSync(bashScript, gen.stdout);
    const help = await runCli(['--help']);
    const section = help.stdout.split('Commands:\n')[1]!.split('\n\n')[0]!;
    commands = section.split('\n').map((l) => l.trim().split(/\s+/)[0]!);
    assert.ok(commands.includes('find') && commands.includes('completion'), section);
  });

  it('bash: registers the function and completes every command name', () => {
    const r = spawnSync('bash', ['-c', `source <("${SAFEHOLD}" completion bash); complete -p safehold`], {
      env: baseEnv(),
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /-F _safehold safehold/);
    const all = bashComplete(['safehold', '']);
    for (const c of commands) assert.ok(all.includes(c), `${c} not completed: ${all.join(' ')}`);
    assert.deepEqual(bashComplete(['safehold', 'sta']), ['stats']);
  });

  it('bash: options (own and global) and subcommands', () => {
    const opts = bashComplete(['safehold', 'backup', '--exclude']);
    assert.deepEqual(opts.sort(), ['--exclude', '--exclude-caches', '--exclude-file', '--exclude-if-present']);
    assert.ok(bashComplete(['safehold', 'find', '--']).includes('--json'));
    assert.deepEqual(bashComplete(['safehold', 'key', '']).sort(), ['add', 'list', 'passwd', 'remove']);
    assert.deepEqual(bashComplete(['safehold', 'completion', '']).sort(), ['bash', 'fish', 'zsh']);
    // After an option that takes a value: nothing of ours (bash falls back to file names).
    assert.deepEqual(bashComplete(['safehold', 'backup', '--exclude-file', '']), []);
  });

  it('zsh and fish scripts name every command', async () => {
    const zsh = await runCli(['completion', 'zsh']);
    assert.equal(zsh.code, 0, show(zsh));
    assert.match(zsh.stdout, /^#compdef safehold/);
    const fish = await runCli(['completion', 'fish']);
    assert.equal(fish.code, 0, show(fish));
    for (const c of commands) {
      assert.ok(zsh.stdout.includes(`'${c}:`), `zsh lacks ${c}`);
      assert.ok(fish.stdout.includes(`-a ${c} -d `), `fish lacks ${c}`);
    }
    assert.match(fish.stdout, /__fish_seen_subcommand_from key' -l new-password-file -r/);
  });

  it('--json wraps the script; an unknown shell is a usage error', async () => {
    const j = await runCli(['completion', 'bash', '--json']);
    assert.equal(j.code, 0, show(j));
    assert.equal(j.json().shell, 'bash');
    assert.match(j.json().script, /complete -o default/);
    const bad = await runCli(['completion', 'tcsh', '--json']);
    assert.equal(bad.code, 2, show(bad));
    assert.equal((await runCli(['completion'])).code, 2);
  });
});
