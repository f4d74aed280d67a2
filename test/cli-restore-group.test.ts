// `safehold restore-plan run` and `safehold restore --group` through the real
// CLI: steps on stderr, the result on stdout (or JSON), exit codes for done,
// refused and bad usage, the rollback command printed after a failing step.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeSandbox, show } from './helpers/cli.ts';

function setup(t: { after(fn: () => void): void }) {
  const sb = makeSandbox('safehold-rgroup-');
  t.after(() => sb.cleanup());
  const conf = path.join(sb.dir, 'app', 'conf');
  fs.mkdirSync(conf, { recursive: true });
  fs.writeFileSync(path.join(conf, 'app.ini'), 'v1\n');
  const running = path.join(sb.dir, 'running');
  const file = path.join(sb.dir, 'safehold.yaml');
  fs.writeFileSync(
    file,
    `
targets:
  app: { kind: files, units: { conf: { paths: [${conf}] } } }
destinations:
  local: { type: repository, path: ${sb.repo}, password: { env: SAFEHOLD_PASSWORD } }
hooks:
  stop: { command: [sh, -c, 'echo stopping'] }
  start: { command: [sh, -c, 'echo starting'], always: true }
  check: { command: [sh, -c, 'test ! -e ${running}'] }
groups:
  app: { members: [{ target: app }], stop: stop, start: start, check: check }
plans:
  nightly: { destination: local, activities: [{ kind: backup, group: app }] }
restorePlans:
  app-back: { group: app, from: local }
`,
  );
  return { sb, conf, running, file };
}

describe('restore-plan run and restore --group on the command line', () => {
  it('restores the group: steps on stderr, a summary on stdout, exit 0; JSON has the safety backup', async (t) => {
    const { sb, conf, file } = setup(t);
    await sb.init();
    const b = await sb.run(['plan', 'run', 'nightly', '--config', file]);
    assert.equal(b.code, 0, show(b));
    fs.writeFileSync(path.join(conf, 'app.ini'), 'v2\n');
    const r = await sb.run(['restore-plan', 'run', 'app-back', '--config', file]);
    assert.equal(r.code, 0, show(r));
    assert.match(
      r.stdout,
      /^restored group app from app\/[0-9a-f]{16}: 1 item\(s\); safety backup app\/safety-[0-9a-f]{12}\n$/,
    );
    const steps = r.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(':')[0]);
    assert.deepEqual([...new Set(steps)], ['select', 'stop', 'check', 'safety-backup', 'files', 'start']);
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'v1\n');
    const j = await sb.run(['restore', '--group', 'app', '--from', 'local', '--config', file, '--json']);
    assert.equal(j.code, 0, show(j));
    const doc = j.json();
    assert.equal(doc.ok, true);
    assert.match(doc.safety.groupRun, /^app\/safety-/);
    assert.deepEqual(
      doc.restored.map((x: { target: string; unit: string }) => [x.target, x.unit]),
      [['app', 'conf']],
    );
  });

  it('refused while the application runs: exit 1, the step and reason; --force restores', async (t) => {
    const { sb, conf, running, file } = setup(t);
    await sb.init();
    assert.equal((await sb.run(['plan', 'run', 'nightly', '--config', file])).code, 0);
    fs.writeFileSync(path.join(conf, 'app.ini'), 'v2\n');
    fs.writeFileSync(running, '');
    const r = await sb.run(['restore-plan', 'run', 'app-back', '--config', file]);
    assert.equal(r.code, 1, show(r));
    assert.match(
      r.stdout,
      /restore of group app stopped at step 'check': the application is still running \(restore-check hook check exited with 1\); stop it, or restore anyway with --force/,
    );
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'v2\n');
    const forced = await sb.run(['restore-plan', 'run', 'app-back', '--config', file, '--force']);
    assert.equal(forced.code, 0, show(forced));
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'v1\n');
  });

  it('bad input: unknown restore plan, --group without --from, a group never backed up', async (t) => {
    const { sb, file } = setup(t);
    await sb.init();
    const unknown = await sb.run(['restore-plan', 'run', 'nope', '--config', file]);
    assert.equal(unknown.code, 1, show(unknown));
    assert.match(unknown.stderr, /no restore plan 'nope' in .* \(restore plans: app-back\)/);
    const noFrom = await sb.run(['restore', '--group', 'app', '--config', file]);
    assert.equal(noFrom.code, 2, show(noFrom));
    assert.match(noFrom.stderr, /restore --group needs --from DESTINATION/);
    const never = await sb.run(['restore-plan', 'run', 'app-back', '--config', file]);
    assert.equal(never.code, 1, show(never));
    assert.match(never.stderr, /no backup of group app in this repository/);
  });
});
