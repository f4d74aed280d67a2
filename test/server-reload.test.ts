// `safehold server` reloading its configuration, as a real process (one for
// the file): a plan added to the file is runnable and listed by the API after
// SIGHUP; before that, `plan run` says the server runs an older configuration;
// an invalid file sent with `safehold server reload` changes nothing (the
// command exits 1 with the problem, the server logs why and still runs the
// configuration it had); a valid one brought by `server reload` says what
// changed. In process (ServerCore): a run in progress finishes with the
// configuration it started with, and the schedules follow the new one.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { makeSandbox, show } from './helpers/cli.ts';
import type { Sandbox } from './helpers/cli.ts';
import { startCli, describeExit } from './helpers/spawn.ts';
import type { Running } from './helpers/spawn.ts';
import { until } from './helpers/wait.ts';
import { activity, planWorld } from './helpers/plan-fixtures.ts';
import { systemClock } from '../src/core/clock.ts';
import { SafeholdError } from '../src/core/errors.ts';
import type { Config } from '../src/config/types.ts';
import { ServerCore } from '../src/scheduler/server-core.ts';
import { nextDue } from '../src/scheduler/schedule.ts';

let sb: Sandbox;
let file: string;
let srv: Running;
let log = '';
let api = '';
let viewer = '';
let operator = '';

/** The configuration with these plans (YAML lines under `plans:`), each backing up the sandbox's one files unit. */
function writeConfig(plans: string[]): void {
  fs.writeFileSync(
    file,
    `settings: { dataDir: ${sb.data}, shutdownGrace: 2s }
targets:
  app: { kind: files, units: { conf: { paths: [${path.join(sb.dir, 'src')}] } } }
destinations:
  local: { type: repository, path: ${sb.repo}, password: { env: SAFEHOLD_PASSWORD } }
plans:
${plans.map((p) => `  ${p}`).join('\n')}
`,
  );
}

const plan = (name: string, extra = '') =>
  `${name}: { destination: local, activities: [{ kind: backup, targets: app }]${extra} }`;

const run = (args: string[]) => sb.run([...args, '--config', file]);

async function getApi(p: string, token = viewer): Promise<{ status: number; body: any }> {
  const r = await fetch(`http://${api}${p}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, body: await r.json() };
}

before(async () => {
  sb = makeSandbox('safehold-reload-');
  fs.mkdirSync(path.join(sb.dir, 'src'));
  fs.writeFileSync(path.join(sb.dir, 'src', 'a.conf'), 'x = 1\n');
  file = path.join(sb.dir, 'safehold.yaml');
  await sb.init();
  writeConfig([plan('old')]);
  srv = startCli(['server', '--config', file, '--listen', '127.0.0.1:0'], sb.env);
  srv.child.stderr!.on('data', (d: Buffer) => {
    log += d.toString();
  });
  await until(() => /listening on .* and http:\/\/127\.0\.0\.1:\d+/.test(log), 'the server to listen', 60_000);
  api = /http:\/\/(127\.0\.0\.1:\d+)/.exec(log)![1]!;
  viewer = (await run(['token', 'create', '--role', 'viewer'])).stdout.trim();
  operator = (await run(['token', 'create', '--role', 'operator'])).stdout.trim();
});

after(async () => {
  if (srv?.child.exitCode === null) {
    srv.child.kill('SIGTERM');
    const exit = await srv.done;
    assert.equal(exit.code, 0, describeExit(exit));
  }
  sb?.cleanup();
});

describe('safehold server reloads its configuration', () => {
  it('plan run warns while the server runs an older configuration; after SIGHUP the new plan runs and the API lists it', async () => {
    const started = await getApi('/api/status');
    assert.equal(started.status, 200);
    assert.equal(started.body.config.number, 1);
    assert.equal(started.body.config.file, file);

    writeConfig([plan('old'), plan('fresh')]);
    const stale = await run(['plan', 'run', 'old', '--json']);
    assert.equal(stale.code, 0, show(stale));
    assert.equal(stale.json().server, srv.child.pid, 'the server ran it');
    assert.match(
      stale.stderr,
      /warning: the server runs an older configuration of .*safehold\.yaml \(loaded \d{4}-\d\d-\d\d [\d:]+Z\); run 'safehold server reload' to apply your changes/,
    );
    assert.equal(stale.json().serverConfig.stale, true);
    assert.equal(stale.json().serverConfig.number, 1);
    const missing = await run(['plan', 'run', 'fresh']);
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stderr, /no plan 'fresh' in the server's configuration .*older configuration/s);

    srv.child.kill('SIGHUP');
    await until(
      () => log.includes(`configuration reloaded from ${file}: 2 plans (1 added, 0 changed, 0 removed)`),
      'the reload log line',
    );
    const fresh = await run(['plan', 'run', 'fresh', '--json']);
    assert.equal(fresh.code, 0, show(fresh));
    assert.equal(fresh.json().run.pid, srv.child.pid, 'the server ran the new plan');
    assert.equal(fresh.json().run.status, 'succeeded');
    assert.equal(fresh.json().serverConfig.stale, false);
    assert.doesNotMatch(fresh.stderr, /older configuration/);

    const plans = await getApi('/api/plans');
    assert.equal(plans.status, 200, JSON.stringify(plans.body));
    assert.deepEqual(plans.body.items.map((p: { name: string }) => p.name).sort(), ['fresh', 'old']);
    const status = await getApi('/api/status');
    assert.equal(status.body.config.number, 2);
    assert.equal(
      status.body.config.hash,
      crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'),
      "the hash of the file's content",
    );
    assert.ok(status.body.config.loadedAt > started.body.config.loadedAt);
  });

  it('an invalid file: server reload exits 1 naming the problem, the server logs why and still runs its configuration', async () => {
    const good = fs.readFileSync(file, 'utf8');
    writeConfig([
      plan('old'),
      plan('fresh'),
      `third: { destination: nowhere, activities: [{ kind: backup, targets: app }] }`,
    ]);
    const bad = await sb.run(['server', 'reload', '--config', file]);
    assert.equal(bad.code, 1, show(bad));
    assert.match(bad.stderr, /the server kept the configuration it loaded at /);
    assert.match(bad.stderr, /safehold\.yaml:\d+:\d+: .*nowhere/);
    await until(
      () => log.includes(`configuration not reloaded from ${file}; still running the one loaded at`),
      'the server to log the refused reload',
    );
    assert.match(log, /configuration not reloaded from .*\n?.*nowhere/);

    const status = await getApi('/api/status');
    assert.equal(status.body.config.number, 2, 'the configuration in force is unchanged');
    assert.equal(status.body.config.hash, crypto.createHash('sha256').update(good).digest('hex'));
    // The old plans still run (through the API: the CLI cannot load the invalid file).
    const r = await fetch(`http://${api}/api/plans/fresh/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}` },
    });
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { run: { status: string } }).run.status, 'succeeded');
    const third = await getApi('/api/plans/third');
    assert.equal(third.status, 404);
  });

  it('server reload with a valid file applies it and says what changed (--json too)', async () => {
    writeConfig([plan('old', ', retry: { onDemand: { every: 1m, for: 5m } }'), plan('third')]);
    const ok = await sb.run(['server', 'reload', '--config', file]);
    assert.equal(ok.code, 0, show(ok));
    assert.equal(
      ok.stdout.trim(),
      `server pid ${srv.child.pid}: configuration reloaded from ${file}: 2 plans (1 added, 1 changed, 1 removed)`,
    );
    const again = await sb.run(['server', 'reload', '--config', file, '--json']);
    assert.equal(again.code, 0, show(again));
    assert.equal(again.json().generation.number, 4);
    assert.deepEqual(again.json().diff.plans, { total: 2, added: [], changed: [], removed: [] });
    const gone = await run(['plan', 'run', 'third', '--json']);
    assert.equal(gone.code, 0, show(gone));
    assert.equal(gone.json().serverConfig.stale, false);

    const none = await sb.run(['server', 'reload'], { env: { SAFEHOLD_DATA_DIR: path.join(sb.dir, 'elsewhere') } });
    assert.equal(none.code, 1, show(none));
    assert.match(none.stderr, /no server runs on the data directory .*elsewhere/);
  });
});

describe('ServerCore.reload (in process)', () => {
  it('a run in progress finishes with the configuration it started with; schedules and on-demand runs follow the new one; a bad file changes nothing', async (t) => {
    const w = await planWorld(
      { QA1: { latencyMs: { backup: 600 } } },
      { activities: [activity('secure', 'backup', 'QA1', null)], schedule: { cron: '0 2 * * *', timezone: 'UTC' } },
    );
    const nightly = w.config.plans.nightly!;
    const other = { ...nightly, name: 'other', schedule: { cron: '0 3 * * *', timezone: 'UTC' } };
    let next: Config | Error = { ...w.config, hash: 'b'.repeat(64), plans: { other } };
    const logs: string[] = [];
    const core = new ServerCore({
      config: { ...w.config, hash: 'a'.repeat(64) },
      catalog: w.catalog,
      clock: systemClock,
      alert: () => {},
      log: (_l, m) => logs.push(m),
      pollMs: 5,
      sweepMs: 3_600_000,
      loadConfig: () => {
        if (next instanceof Error) throw next;
        return next;
      },
    });
    t.after(async () => {
      await core.stop(0);
      await w.close();
    });
    await core.start();
    const now = Date.now();
    assert.deepEqual(core.status().next, { nightly: nextDue(nightly.schedule!, now) });

    const running = core.runNow('nightly');
    await until(() => w.appliances.QA1!.state.calls.some((c) => c.op === 'backup'), 'the backup to start');
    const r = await core.reload();
    assert.equal(r.summary, `configuration reloaded from ${w.config.file}: 1 plan (1 added, 0 changed, 1 removed)`);
    assert.equal(core.generation.number, 2);
    assert.equal(core.generation.hash, 'b'.repeat(64));
    assert.deepEqual(Object.keys(core.status().next), ['other'], 'the schedules of the new plans');
    assert.ok(core.status().next.other! > now);
    assert.equal((await running).status, 'succeeded', 'the run finished with the plan it started with');
    await assert.rejects(core.runNow('nightly'), /no plan 'nightly' in the server's configuration/);

    next = new SafeholdError('CONFIG', `${w.config.file}:3:5: plans.x.destination: no destination 'nowhere'`);
    await assert.rejects(core.reload(), /no destination 'nowhere'/);
    assert.equal(core.generation.number, 2, 'nothing changed');
    assert.deepEqual(Object.keys(core.config.plans), ['other']);
    assert.match(
      logs.at(-1)!,
      /^configuration not reloaded from .*safehold\.yaml; still running the one loaded at .*no destination 'nowhere'/,
    );
  });
});
