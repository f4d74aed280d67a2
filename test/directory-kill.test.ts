// Rotation under kill -9 (S2): a `plan run` writing a directory generation
// is killed at several points while the dump streams; after every kill each
// final name holds a complete earlier generation (or nothing yet), never a
// partial file. The next complete run removes the temporaries it left.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { makeSandbox, show } from './helpers/cli.ts';
import { startCli, describeExit } from './helpers/spawn.ts';

const sha = (f: string) => createHash('sha256').update(fs.readFileSync(f)).digest('hex');

describe('directory destination under kill -9', () => {
  it('never leaves a partial file under a final name; the next run cleans up and rotates', async (t) => {
    const sb = makeSandbox('safehold-dirkill-');
    t.after(() => sb.cleanup());
    const dest = path.join(sb.dir, 'dumps');
    fs.mkdirSync(dest);
    const counter = path.join(sb.dir, 'n');
    fs.writeFileSync(counter, '0');
    // A dump of 64 chunks of 64 KiB, about 10 ms apart: long enough to be killed inside.
    const script = `n=$(($(cat ${counter})+1)); echo $n > ${counter}; i=0; while [ $i -lt 64 ]; do head -c 65536 /dev/urandom; sleep 0.01; i=$((i+1)); done`;
    const file = path.join(sb.dir, 'safehold.yaml');
    fs.writeFileSync(
      file,
      `
targets:
  DB: { kind: command, backup: [sh, -c, '${script}'] }
destinations:
  dumps: { type: directory, path: ${dest}, generations: { keep: 3, naming: numbered } }
plans:
  nightly:
    destination: dumps
    activities: [{ kind: backup, targets: DB }]
`,
    );
    const complete = new Set<string>();
    const finals = () => fs.readdirSync(dest).filter((f) => !f.includes('.tmp-'));
    const runOnce = async () => {
      const r = await sb.run(['plan', 'run', 'nightly', '--config', file]);
      assert.equal(r.code, 0, show(r));
      for (const f of finals()) complete.add(sha(path.join(dest, f)));
    };
    await runOnce();
    for (const delay of [150, 400, 700, 250, 550]) {
      const r = startCli(['plan', 'run', 'nightly', '--config', file], sb.env);
      await new Promise((res) => setTimeout(res, delay));
      r.child.kill('SIGKILL');
      const exit = await r.done;
      assert.equal(exit.signal, 'SIGKILL', describeExit(exit));
      for (const f of finals()) {
        assert.ok(complete.has(sha(path.join(dest, f))), `${f} after a kill at ${delay} ms is a complete generation`);
      }
    }
    await runOnce();
    assert.deepEqual(
      fs.readdirSync(dest).filter((f) => f.includes('.tmp-')),
      [],
      'temporaries were cleaned',
    );
    const names = finals().sort();
    assert.deepEqual(
      names.slice(0, 2),
      ['DB-default.bak', 'DB-default.bak.1'],
      'the last run rotated the first one to .1',
    );
    for (const f of names) assert.ok(complete.has(sha(path.join(dest, f))));
    assert.equal(fs.statSync(path.join(dest, 'DB-default.bak')).size, 64 * 65536);
  });
});
