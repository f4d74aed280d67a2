// Tests for the command device adapter: the shared conformance suite against
// the appliance simulator run as a program (test/helpers/appliance-cli.ts),
// plus what only a program has: the argv it gets, exit codes, stderr in
// messages with secrets redacted, a missing program, and killing the whole
// process group on a timeout or an abandoned backup.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createCommandAdapter } from './command-adapter.ts';
import { deviceAdapterConformanceSuite } from '../../../test/helpers/device-conformance.ts';
import { isSafeholdError } from '../../core/errors.ts';
import { startApplianceCli } from '../../../test/helpers/appliance-cli.ts';
import { alive } from '../../../test/helpers/processes.ts';

deviceAdapterConformanceSuite(
  'command',
  async (opts, conn = {}) => {
    const sim = startApplianceCli(opts);
    const env = { ...sim.env };
    if (conn.token !== undefined) {
      if (conn.token === null) delete env.SAFEHOLD_APPLIANCE_TOKEN;
      else env.SAFEHOLD_APPLIANCE_TOKEN = conn.token;
    }
    const command = conn.down ? [path.join(os.tmpdir(), 'safehold-no-such-appliance-program')] : sim.command;
    const adapter = createCommandAdapter({
      name: opts.name ?? 'DEVICE',
      command,
      env,
      timeoutMs: conn.timeoutMs ?? 20_000,
    });
    return {
      adapter,
      token: sim.token,
      read: async () => sim.read(),
      update: async (fn) => sim.update(fn),
      close: () => sim.close(),
    };
  },
  { delayMs: 1500, timeoutMs: 1500 },
);

async function waitGone(pid: number, withinMs = 3000): Promise<void> {
  const end = performance.now() + withinMs;
  while (alive(pid)) {
    assert.ok(performance.now() < end, `process ${pid} still running`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Writes a small Node program into a temp dir; returns its argv and the dir. */
function program(source: string): { command: string[]; dir: string; done(): void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-devprog-'));
  const file = path.join(dir, 'prog.mjs');
  fs.writeFileSync(file, source);
  return { command: [process.execPath, file], dir, done: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

async function rejectsIO(p: Promise<unknown>, check: (e: Error & { retryable: boolean }) => void): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isSafeholdError(e, 'IO'), `expected an IO SafeholdError, got ${String(e)}`);
    check(e);
    return true;
  });
}

describe('command adapter: program contract', () => {
  it('appends the subcommand and --name=value options to the configured argv, with the configured env', async () => {
    const p = program(`
      import fs from 'node:fs';
      const args = process.argv.slice(2);
      fs.appendFileSync(new URL('./log', import.meta.url), JSON.stringify({ args, env: process.env.DEV_PASSWORD, path: !!process.env.PATH }) + '\\n');
      const sub = args.find((a) => !a.startsWith('--'));
      const answers = { health: { available: true }, 'list-units': { units: ['D1'] }, state: { state: 'quiesced' }, quiesced: { units: ['D1'] },
        quiesce: {}, unquiesce: {}, unsaved: { unsaved: true }, space: { free: 7, backupSize: 3 } };
      if (sub === 'backup') process.stdout.write('STREAM:' + args.join(' '));
      else console.log(JSON.stringify(answers[sub]));
    `);
    try {
      const a = createCommandAdapter({
        name: 'QA1',
        command: [...p.command, '--host=dp1'],
        env: { DEV_PASSWORD: 'pw-98765' },
      });
      assert.equal(a.address, 'program node');
      assert.equal((await a.available()).ok, true);
      assert.deepEqual(await a.listUnits(), ['D1']);
      assert.equal(await a.quiesceState('-odd unit'), 'quiesced');
      assert.equal(await a.quiesceState(null), 'quiesced');
      assert.deepEqual(await a.quiescedUnits(), ['D1']);
      await a.quiesce('D1', 90);
      await a.unquiesce(null, 0);
      assert.equal(await a.unsavedChanges('D1'), true);
      assert.equal(await a.freeSpace(), 7);
      assert.equal(await a.backupSize(), 3);
      let text = '';
      for await (const c of await a.backup({ unit: 'D1', kind: 'export', state: 'running' })) text += c;
      assert.equal(text, 'STREAM:--host=dp1 backup --unit=D1 --kind=export --state=running');
      const log = fs
        .readFileSync(path.join(p.dir, 'log'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.deepEqual(
        log.map((l) => l.args.join(' ')),
        [
          '--host=dp1 health',
          '--host=dp1 list-units',
          '--host=dp1 state --unit=-odd unit',
          '--host=dp1 state',
          '--host=dp1 quiesced',
          '--host=dp1 quiesce --unit=D1 --timeout=90',
          '--host=dp1 unquiesce --timeout=0',
          '--host=dp1 unsaved --unit=D1',
          '--host=dp1 space',
          '--host=dp1 space',
          '--host=dp1 backup --unit=D1 --kind=export --state=running',
        ],
      );
      for (const l of log) {
        assert.equal(l.env, 'pw-98765');
        assert.equal(l.path, true, 'inherits the environment');
      }
    } finally {
      p.done();
    }
  });

  it("exit 2 is a refused request (not retryable), other exits are retryable; stderr's last line is shown, secrets redacted", async () => {
    const p = program(`
      const code = Number(process.env.EXIT_CODE);
      process.stderr.write('some progress\\nconnecting with password ' + process.env.DEV_PASSWORD + ' failed\\n\\n');
      process.exit(code);
    `);
    try {
      for (const [code, retry] of [
        [1, true],
        [2, false],
        [3, true],
        [255, true],
      ] as const) {
        const a = createCommandAdapter({
          name: 'QA2',
          command: p.command,
          env: { DEV_PASSWORD: 'hunter2-secret', EXIT_CODE: String(code) },
        });
        await rejectsIO(a.listUnits(), (e) => {
          assert.equal(
            e.message,
            `device QA2 (program node): list units failed: exit code ${code}: connecting with password *** failed`,
          );
          assert.equal(e.retryable, retry, `exit ${code}`);
        });
      }
    } finally {
      p.done();
    }
  });

  it('a program killed by a signal, a malformed answer and an oversized answer are IO errors', async () => {
    const p = program(`
      const mode = process.env.MODE;
      if (mode === 'signal') process.kill(process.pid, 'SIGTERM');
      else if (mode === 'text') console.log('units: D1 D2');
      else if (mode === 'shape') console.log(JSON.stringify({ units: [1, 2] }));
      else if (mode === 'huge') process.stdout.write('x'.repeat(3 * 1024 * 1024));
      else if (mode === 'empty-backup') {}
    `);
    try {
      const a = (mode: string) => createCommandAdapter({ name: 'QA3', command: p.command, env: { MODE: mode } });
      await rejectsIO(a('signal').listUnits(), (e) => {
        assert.match(e.message, /list units failed: killed by SIGTERM$/);
        assert.equal(e.retryable, true);
      });
      await rejectsIO(a('text').listUnits(), (e) => {
        assert.match(e.message, /invalid answer: not JSON: "units: D1 D2"/);
        assert.equal(e.retryable, false);
      });
      await rejectsIO(a('shape').listUnits(), (e) =>
        assert.match(e.message, /invalid answer: expected \{"units": \[string, \.\.\.\]\}/),
      );
      await rejectsIO(a('huge').listUnits(), (e) => assert.match(e.message, /invalid answer: more than 1048576 bytes/));
      const empty = await a('empty-backup').backup({ unit: 'D1', kind: 'export', state: 'persisted' });
      let n = 0;
      for await (const c of empty) n += c.length;
      assert.equal(n, 0, 'exit 0 without output is an empty stream');
    } finally {
      p.done();
    }
  });

  it('a missing program: available() is false, calls fail with a non-retryable IO error', async () => {
    const a = createCommandAdapter({ name: 'QA4', command: ['/nonexistent/dp-adapter', 'x'] });
    assert.equal(a.address, 'program dp-adapter');
    assert.equal((await a.available()).ok, false);
    await rejectsIO(a.listUnits(), (e) => {
      assert.equal(
        e.message,
        'device QA4 (program dp-adapter): list units failed: cannot run /nonexistent/dp-adapter: no such program',
      );
      assert.equal(e.retryable, false);
    });
    await rejectsIO(a.backup({ unit: null, kind: 'backup', state: 'persisted' }), (e) =>
      assert.match(e.message, /no such program/),
    );
  });

  it('a timeout kills the program and everything it started', { timeout: 30_000 }, async () => {
    const p = program(`
      import { spawn } from 'node:child_process';
      import fs from 'node:fs';
      const child = spawn('sleep', ['60'], { stdio: 'ignore' });
      fs.writeFileSync(new URL('./pids', import.meta.url), JSON.stringify([process.pid, child.pid]));
      if (process.argv.includes('backup')) process.stdout.write('partial');
      setTimeout(() => {}, 60_000);
    `);
    try {
      const a = createCommandAdapter({ name: 'QA5', command: p.command, timeoutMs: 500 });
      for (const run of [
        () => a.quiescedUnits(),
        async () => {
          for await (const c of await a.backup({ unit: null, kind: 'backup', state: 'persisted' })) void c;
        },
      ]) {
        const t0 = performance.now();
        await rejectsIO(run(), (e) => {
          assert.match(e.message, /(no answer within|no data for) 500 ms \(program killed\)/);
          assert.equal(e.retryable, true);
        });
        const ms = performance.now() - t0;
        assert.ok(ms >= 495 && ms < 3000, `failed after ${ms} ms`);
        const pids = JSON.parse(fs.readFileSync(path.join(p.dir, 'pids'), 'utf8')) as number[];
        for (const pid of pids) await waitGone(pid);
      }
    } finally {
      p.done();
    }
  });

  it('the simulator program is killed when a call times out', { timeout: 30_000 }, async () => {
    const sim = startApplianceCli({ name: 'QA6', latencyMs: { units: 60_000 } });
    try {
      const a = createCommandAdapter({ name: 'QA6', command: sim.command, env: sim.env, timeoutMs: 3000 });
      await rejectsIO(a.listUnits(), (e) => assert.match(e.message, /no answer within 3000 ms/));
      const [call] = sim.read().calls;
      assert.equal(call!.op, 'units');
      await waitGone(call!.pid!);
    } finally {
      await sim.close();
    }
  });

  it('a backup abandoned by the reader kills the program', { timeout: 30_000 }, async () => {
    const sim = startApplianceCli({ name: 'QA7', backupBytes: 32 * 1024 * 1024 });
    try {
      const a = createCommandAdapter({ name: 'QA7', command: sim.command, env: sim.env });
      const s = await a.backup({ unit: null, kind: 'backup', state: 'persisted' });
      for await (const c of s) {
        assert.ok(c.length > 0);
        break;
      }
      const [call] = sim.read().calls;
      await waitGone(call!.pid!);
    } finally {
      await sim.close();
    }
  });
});
