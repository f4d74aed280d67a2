// The files in deploy/ name real commands and options: the systemd unit's
// ExecStart/ExecStartPre and the container's CMD are run with --help (the
// CLI's strict option parsing rejects an unknown option with exit 2); the
// unit serves the API on loopback and reloads on SIGHUP.

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

it('the systemd unit serves the API and console on loopback only, and reloads the configuration on systemctl reload', () => {
  const unit = fs.readFileSync(path.join(DEPLOY, 'safehold.service'), 'utf8');
  const start = argsOf(/^ExecStart=(.*)$/m.exec(unit)![1]!);
  const listen = start[start.indexOf('--listen') + 1];
  assert.ok(start.includes('--listen'), start.join(' '));
  assert.match(listen!, /^127\.0\.0\.1:\d{1,5}$/, 'loopback: the console is reached through a proxy or a tunnel');
  assert.match(
    unit,
    /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m,
    'SIGHUP makes the server load its configuration again',
  );
});
