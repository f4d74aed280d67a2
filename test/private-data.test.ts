// `safehold server` started by hand (not by systemd) under umask 022 keeps
// its data private: the data directory it creates is 0700, the catalog and
// its WAL files 0600, so other local users cannot read password hashes,
// tokens or run logs.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { SAFEHOLD, baseEnv } from './helpers/cli.ts';
import { until } from './helpers/wait.ts';

const mode = (p: string) => (fs.statSync(p).mode & 0o7777).toString(8);

it('safehold server under umask 022 creates its data directory 0700 and the catalog files 0600', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-private-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const data = path.join(dir, 'state', 'safehold');
  const file = path.join(dir, 'safehold.yaml');
  fs.writeFileSync(file, `settings: { dataDir: ${data} }\n`);
  const child = spawn('sh', ['-c', 'umask 022; exec "$0" "$@"', SAFEHOLD, 'server', '--config', file], {
    env: baseEnv(),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  await until(() => /listening on /.test(stderr) || child.exitCode !== null, 'the server to listen', 60_000);
  assert.match(stderr, /listening on /);

  const db = path.join(data, 'catalog.db');
  assert.deepEqual(
    {
      data: mode(data),
      parent: mode(path.dirname(data)),
      db: mode(db),
      wal: mode(`${db}-wal`),
      shm: mode(`${db}-shm`),
      sock: mode(path.join(data, 'server.sock')),
    },
    { data: '700', parent: '700', db: '600', wal: '600', shm: '600', sock: '600' },
  );
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
  assert.equal(mode(db), '600');
});
