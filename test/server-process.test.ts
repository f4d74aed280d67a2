// `safehold server` as a real process: on-demand runs handed over the
// control socket, one server per data directory, a clean SIGTERM (exit 0),
// the read-only --listen endpoint, two processes on one catalog obeying the
// same locks, and kill -9 mid-run: on restart the run is failed and retried
// per policy, the quiesce undone, the locks reclaimed, the repository intact.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeSandbox, show } from './helpers/cli.ts';
import type { Sandbox } from './helpers/cli.ts';
import { startCli, describeExit } from './helpers/spawn.ts';
import type { Running } from './helpers/spawn.ts';
import { startAppliance } from './helpers/appliance-server.ts';
import type { Appliance } from './helpers/appliance-server.ts';
import { Catalog } from '../src/catalog/catalog.ts';
import { until } from './helpers/wait.ts';

interface World {
  sb: Sandbox;
  qa1: Appliance;
  qa2: Appliance;
  file: string;
  data: string;
  env: NodeJS.ProcessEnv;
  server(extra?: string[]): Running & { stderr(): string };
}

async function world(t: { after(fn: () => Promise<void> | void): void }, planExtra = ''): Promise<World> {
  const sb = makeSandbox('safehold-server-');
  const qa1 = await startAppliance({ token: 'tok' });
  const qa2 = await startAppliance({ token: 'tok' });
  const running: Running[] = [];
  t.after(async () => {
    for (const r of running) if (r.child.exitCode === null) r.child.kill('SIGKILL');
    await Promise.all([qa1.close(), qa2.close()]);
    sb.cleanup();
  });
  await sb.init();
  const data = path.join(sb.dir, 'data');
  const file = path.join(sb.dir, 'safehold.yaml');
  fs.writeFileSync(
    file,
    `
settings: { dataDir: ${data}, shutdownGrace: 2s }
targets:
  QA1: { kind: device, adapter: { http: { url: '${qa1.url}', token: tok } } }
  QA2: { kind: device, adapter: { http: { url: '${qa2.url}', token: tok } } }
destinations:
  local: { type: repository, path: ${sb.repo}, password: { env: SAFEHOLD_PASSWORD } }
plans:
  nightly:
    destination: local
    activities: [{ name: secure, kind: backup, targets: QA1, quiesce: true, quiesceTimeout: 5s }]
${planExtra}
  other:
    destination: local
    activities: [{ kind: backup, targets: QA2 }]
`,
  );
  const env = { ...sb.env, SAFEHOLD_DATA_DIR: data };
  return {
    sb,
    qa1,
    qa2,
    file,
    data,
    env,
    server(extra = []) {
      const r = startCli(['server', '--config', file, ...extra], env);
      running.push(r);
      let err = '';
      r.child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
      });
      return Object.assign(r, { stderr: () => err });
    },
  };
}

function catalogOf(w: World) {
  return Catalog.open(w.data);
}

describe('safehold server (a real process)', () => {
  it('takes on-demand runs over its socket, refuses a second server, serves the API on --listen, exits 0 on SIGTERM', async (t) => {
    const w = await world(t);
    const srv = w.server(['--listen', '127.0.0.1:0']);
    await until(
      () => /listening on .*server\.sock and http:\/\/127\.0\.0\.1:\d+/.test(srv.stderr()),
      'the server to listen',
      60_000,
    );
    const url = /http:\/\/(127\.0\.0\.1:\d+)/.exec(srv.stderr())![1];
    const r = await w.sb.run(['plan', 'run', 'other', '--config', w.file, '--json'], {
      env: { SAFEHOLD_DATA_DIR: w.data },
    });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.json().server, srv.child.pid);
    assert.equal(r.json().run.pid, srv.child.pid, 'the server ran it');
    assert.equal(r.json().run.status, 'succeeded');
    const human = await w.sb.run(['plan', 'run', 'other', '--config', w.file], { env: { SAFEHOLD_DATA_DIR: w.data } });
    assert.match(
      human.stdout,
      new RegExp(`^plan other, run [0-9a-f]{8} \\(by the server, pid ${srv.child.pid}\\): succeeded`),
    );
    const second = await w.sb.run(['server', '--config', w.file], { env: { SAFEHOLD_DATA_DIR: w.data } });
    assert.equal(second.code, 11, show(second));
    assert.match(
      second.stderr,
      new RegExp(`a server is already running on this data directory \\(pid ${srv.child.pid}\\)`),
    );
    const health = await fetch(`http://${url}/api/health`);
    assert.equal(health.status, 200);
    assert.equal((await fetch(`http://${url}/api/status`)).status, 401, 'the API needs credentials');
    const token = (
      await w.sb.run(['token', 'create', '--role', 'viewer'], { env: { SAFEHOLD_DATA_DIR: w.data } })
    ).stdout.trim();
    assert.match(token, /^shk_/);
    const status = (await (
      await fetch(`http://${url}/api/status`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { pid: number; running: unknown[] };
    assert.equal(status.pid, srv.child.pid);
    const post = await fetch(`http://${url}/v1/plans/other/run`, { method: 'POST' });
    assert.equal(post.status, 404, 'runs are not accepted on the TCP listener');
    srv.child.kill('SIGTERM');
    const exit = await srv.done;
    assert.equal(exit.code, 0, describeExit(exit));
    assert.ok(!fs.existsSync(path.join(w.data, 'server.sock')), 'the socket is removed');
    // With no server, plan run runs in-process.
    const local = await w.sb.run(['plan', 'run', 'other', '--config', w.file, '--json'], {
      env: { SAFEHOLD_DATA_DIR: w.data },
    });
    assert.equal(local.code, 0, show(local));
    assert.equal(local.json().server, undefined);
  });

  it('--ignore-window goes with a run handed to the server: it runs past the closed window, audited with the user', async (t) => {
    const w = await world(
      t,
      `  closed:
    destination: local
    window: { cron: '0 0 1 1 *', timezone: UTC }
    activities: [{ kind: backup, targets: QA2 }]`,
    );
    const srv = w.server();
    await until(() => /listening on .*server\.sock/.test(srv.stderr()), 'the server to listen', 60_000);
    const env = { env: { SAFEHOLD_DATA_DIR: w.data } };
    const refused = await w.sb.run(['plan', 'run', 'closed', '--config', w.file, '--json'], env);
    assert.equal(refused.code, 4, show(refused));
    assert.equal(refused.json().server, srv.child.pid);
    const r = await w.sb.run(['plan', 'run', 'closed', '--ignore-window', '--config', w.file, '--json'], env);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.json().run.pid, srv.child.pid, 'the server ran it');
    assert.equal(r.json().run.status, 'succeeded');
    const audit = (await w.sb.run(['audit', '--json'], env)).json();
    assert.deepEqual(
      audit.map((e: { principal: string; path: string; requestId: string }) => [e.principal, e.path, e.requestId]),
      [[os.userInfo().username, 'plan closed --ignore-window', r.json().run.id]],
    );
    srv.child.kill('SIGTERM');
    assert.equal((await srv.done).code, 0);
  });

  it('two processes on one catalog obey the same locks: the second on-demand run is refused with the holder', async (t) => {
    const w = await world(t);
    w.qa1.state.latencyMs.backup = 8000; // long enough for a second CLI process to start on a loaded machine
    const a = startCli(['plan', 'run', 'nightly', '--config', w.file, '--local'], w.env);
    const cat = catalogOf(w);
    t.after(() => cat.close());
    await until(() => cat.leases().list().length === 1, 'the first run to hold QA1');
    const b = await w.sb.run(['plan', 'run', 'nightly', '--config', w.file, '--local'], {
      env: { SAFEHOLD_DATA_DIR: w.data },
    });
    assert.equal(b.code, 4, show(b));
    assert.match(
      b.stdout,
      new RegExp(
        `refused \\(target:QA1 is held by run [0-9a-f]{8} \\(plan nightly: backup of QA1, pid ${a.child.pid} on .+\\) since .+; on-demand runs are not retried\\)`,
      ),
    );
    const ra = await a.done;
    assert.equal(ra.code, 0, describeExit(ra));
    assert.deepEqual(cat.leases().list(), []);
  });

  it('kill -9 mid-run: on restart the run is failed and retried, the quiesce undone, locks reclaimed, the repository intact', async (t) => {
    const w = await world(t, '    retry: { onDemand: { every: 1m, for: 1h } }');
    w.qa1.state.latencyMs.backup = 60_000;
    const srv = w.server();
    await until(() => srv.stderr().includes('listening on'), 'the server', 60_000);
    const client = startCli(['plan', 'run', 'nightly', '--config', w.file], w.env);
    await until(() => w.qa1.state.calls.some((c) => c.op === 'backup'), 'the backup to start');
    assert.equal(w.qa1.state.device.quiesce, 'quiesced');
    srv.child.kill('SIGKILL');
    await srv.done;
    const lost = await client.done;
    assert.notEqual(lost.code, 0, 'the client learns the server is gone');
    assert.match(lost.stderr, /cannot reach the server|socket hang up|ECONNRESET/);
    const cat = catalogOf(w);
    t.after(() => cat.close());
    const [dead] = cat.planRuns().listRuns({ plan: 'nightly' });
    assert.equal(dead!.status, 'running');
    assert.equal(cat.leases().list().length, 1, 'its lease is still there');
    assert.equal(fs.readdirSync(path.join(w.sb.repo, 'locks')).length, 1, 'and its repository lock');

    w.qa1.state.latencyMs.backup = 0;
    const again = w.server();
    await until(
      () =>
        cat
          .planRuns()
          .listRuns({ plan: 'nightly' })
          .some((r) => r.trigger === 'retry' && r.status !== 'running'),
      'the retry to finish',
      60_000,
    );
    const runs = cat.planRuns().listRuns({ plan: 'nightly' });
    const retry = runs.find((r) => r.trigger === 'retry')!;
    const old = cat.planRuns().getRun(dead!.id)!;
    assert.equal(old.status, 'failed');
    assert.match(old.reason!, /^process \d+ died while running$/);
    assert.equal(retry.retryOf, dead!.id);
    assert.equal(
      retry.status,
      'succeeded',
      JSON.stringify(
        cat
          .planRuns()
          .logLines(retry.id)
          .map((l) => l.message),
      ),
    );
    const ops = w.qa1.state.calls.map((c) => c.op);
    const firstUnquiesce = ops.indexOf('unquiesce');
    assert.ok(firstUnquiesce > ops.indexOf('backup'), 'the left-behind quiesce was undone at start');
    assert.equal(w.qa1.state.device.quiesce, 'active');
    assert.deepEqual(
      cat
        .alerts()
        .list()
        .map((a) => a.event)
        .sort(),
      ['quiesce-repaired'],
    );
    again.child.kill('SIGTERM');
    assert.equal((await again.done).code, 0);
    assert.deepEqual(cat.leases().list(), []);
    assert.deepEqual(fs.readdirSync(path.join(w.sb.repo, 'locks')), []);
    const check = await w.sb.run(['check', '--read-data']);
    assert.equal(check.code, 0, show(check));
    const snaps = await w.sb.run(['snapshots', '--json']);
    assert.equal(snaps.json().length, 1, "one snapshot: the retry's");
  });
});
