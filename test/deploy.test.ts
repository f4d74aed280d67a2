// The files in deploy/ name real commands and options: the systemd unit's
// ExecStart/ExecStartPre and the container's CMD are run with --help (the
// CLI's strict option parsing rejects an unknown option with exit 2).

import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { runCli, show } from './helpers/cli.ts';

const DEPLOY = path.resolve(import.meta.dirname, '..', 'deploy');

function argsOf(line: string): string[] {
  return line.trim().split(/\s+/).slice(1); // drop the program path
}

it('the systemd unit and the container file call commands and options that exist', async () => {
  const unit = fs.readFileSync(path.join(DEPLOY, 'safehold.service'), 'utf8');
  const lines = [...unit.matchAll(/^ExecStart(?:Pre)?=(.*)$/gm)].map((m) => argsOf(m[1]!));
  assert.equal(lines.length, 2);
  const cmd = /^CMD \[(.*)\]$/m.exec(fs.readFileSync(path.join(DEPLOY, 'Containerfile'), 'utf8'))!;
  lines.push(JSON.parse(`[${cmd[1]}]`) as string[]);
  for (const args of lines) {
    assert.ok(['server', 'config'].includes(args[0]!), args.join(' '));
    const r = await runCli([...args, '--help']);
    assert.equal(r.code, 0, `${args.join(' ')}: ${show(r)}`);
  }
  assert.match(unit, /^TimeoutStopSec=(\d+)$/m);
  assert.ok(Number(/^TimeoutStopSec=(\d+)$/m.exec(unit)![1]) > 60, 'longer than the default shutdown grace of 1m');
});
