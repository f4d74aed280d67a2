// Tests of the dump and restore program runner of the database drivers with
// stand-in programs (sh): a dump that runs too long is stopped with the
// processes it started, cancelling gives CANCELLED, a failure names the last
// error line with secrets scrubbed, a missing binary is named, and a restore
// reports its input's failure rather than the broken pipe.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { childEnv } from '../../core/child-env.ts';
import { SafeholdError } from '../../core/errors.ts';
import { childStream, pipeToChild } from './child-stream.ts';
import { alive } from '../../../test/helpers/processes.ts';

const env = childEnv();

async function drain(s: Readable): Promise<string> {
  let text = '';
  for await (const c of s) text += c;
  return text;
}

const isError = (code: string, message: RegExp) => (e: unknown) => {
  assert.ok(e instanceof SafeholdError, String(e));
  assert.equal(e.code, code);
  assert.match(e.message, message);
  return true;
};

test('a dump that runs too long is stopped together with the workers it started', { timeout: 15_000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-dump-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const pidFile = path.join(dir, 'pid');
  // Like pg_dump -j: a worker of its own that holds stdout.
  const argv = ['sh', '-c', `printf 'header;'; sleep 30 & echo $! > '${pidFile}'; wait`];
  const t0 = Date.now();
  const s = childStream(argv, env, { what: 'fake_dump of shop', timeoutMs: 300 });
  await assert.rejects(drain(s), isError('IO', /^fake_dump of shop did not finish within 300 ms$/));
  assert.ok(Date.now() - t0 < 5000);
  assert.equal(alive(Number(fs.readFileSync(pidFile, 'utf8'))), false, 'the worker was stopped too');
});

test('cancelling gives CANCELLED; a failure names the last error line, scrubbed, with the hint', async () => {
  const ac = new AbortController();
  const slow = childStream(['sleep', '30'], env, { what: 'fake_dump of shop', signal: ac.signal });
  setTimeout(() => ac.abort(), 100);
  await assert.rejects(drain(slow), isError('CANCELLED', /^fake_dump of shop was cancelled$/));
  const script =
    'printf "some data"; echo "connecting as admin:hunter2" >&2; ' +
    'echo "ERROR: role hunter2 is missing" >&2; echo "bye" >&2; exit 1';
  let text = '';
  const failing = childStream(['sh', '-c', script], env, {
    what: 'fake_dump of shop',
    redact: ['hunter2'],
    retryable: (s) => s.includes('connecting'),
    hint: () => 'create the role first',
  });
  await assert.rejects(
    async () => {
      for await (const c of failing) text += c;
    },
    (e: unknown) => {
      isError(
        'IO',
        /^fake_dump of shop failed \(exit 1\): ERROR: role \*\*\* is missing \(create the role first\)$/,
      )(e);
      assert.equal((e as SafeholdError).retryable, true);
      return true;
    },
  );
  assert.equal(text, 'some data');
});

test('a missing binary is named; a restore reports its input failing, not the broken pipe', async () => {
  await assert.rejects(
    drain(childStream(['/nonexistent/bin/fake_dump'], env, { what: 'dump of shop' })),
    isError('IO', /^dump of shop: fake_dump is not installed \(or not on PATH\)$/),
  );
  const lines: string[] = [];
  const onStderrLine = (l: string) => {
    lines.push(l);
  };
  await pipeToChild(Readable.from(['a\n', 'b\n']), ['sh', '-c', 'cat >&2'], env, { what: 'restore', onStderrLine });
  assert.deepEqual(lines, ['a', 'b']);
  const broken = new Readable({
    read() {
      this.push('partial');
      this.destroy(new Error('pack 3f2a is damaged'));
    },
  });
  await assert.rejects(
    pipeToChild(broken, ['cat'], env, { what: 'restore into shop' }),
    isError('IO', /^restore into shop: reading the backup failed: pack 3f2a is damaged$/),
  );
  const failing = ['sh', '-c', 'echo "FATAL: no space" >&2; exit 2'];
  await assert.rejects(
    pipeToChild(Readable.from(['x']), failing, env, { what: 'restore into shop' }),
    isError('IO', /^restore into shop failed \(exit 2\): FATAL: no space$/),
  );
});
