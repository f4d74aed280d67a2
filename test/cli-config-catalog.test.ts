// One catalog, one way to name things: every command given the configuration
// (--config or SAFEHOLD_CONFIG) uses the catalog in its settings.dataDir, so a
// user added on the command line can log in to the server started with the
// same file; a repository destination of the configuration is named with
// --destination instead of a path and a password; and a plan run on a
// destination not yet initialised says the exact command that creates it.
// One server for the whole file.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { baseEnv, runCli, show } from './helpers/cli.ts';
import type { CliResult } from './helpers/cli.ts';
import { startCli } from './helpers/spawn.ts';
import type { Running } from './helpers/spawn.ts';
import { until } from './helpers/wait.ts';
import { Catalog } from '../src/catalog/catalog.ts';

describe('one catalog: --config and settings.dataDir for every command, --destination for repositories', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-cfgcat-'));
  const data = path.join(dir, 'data');
  const repo = path.join(dir, 'repo');
  const fresh = path.join(dir, 'fresh');
  const gens = path.join(dir, 'gens');
  const src = path.join(dir, 'src');
  const file = path.join(dir, 'safehold.yaml');
  const xdg = path.join(dir, 'xdg');
  // No SAFEHOLD_DATA_DIR, SAFEHOLD_REPOSITORY or SAFEHOLD_PASSWORD: only the configuration names things.
  const env: NodeJS.ProcessEnv = { ...baseEnv(), XDG_DATA_HOME: xdg, CFGCAT_REPO_PW: 'repo password 1' };
  const cli = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
    runCli(args, { env: { ...env, ...extra } });
  let server: Running;
  let serverErr = '';
  let url = '';

  before(async () => {
    fs.mkdirSync(src);
    fs.mkdirSync(fresh);
    fs.mkdirSync(gens);
    fs.writeFileSync(path.join(src, 'a.txt'), 'hello\n');
    fs.writeFileSync(
      file,
      `
settings: { dataDir: ${data} }
targets:
  app: { kind: files, units: { conf: { paths: [${src}] } } }
destinations:
  main: { type: repository, path: ${repo}, password: { env: CFGCAT_REPO_PW } }
  fresh: { type: repository, path: ${fresh}, password: { env: CFGCAT_REPO_PW } }
  off: { type: repository, path: ${path.join(dir, 'off')}, password: { env: CFGCAT_REPO_PW } }
  gens: { type: directory, path: ${gens}, generations: { keep: 2 } }
plans:
  first: { destination: fresh, activities: [{ kind: backup, targets: app }] }
`,
    );
    const init = await cli(['init', '--config', file, '--destination', 'main', '--json']);
    assert.equal(init.code, 0, show(init));
    assert.equal(init.json().location, repo);
    const b = await cli(['backup', '--config', file, '--destination', 'main', src, '--json']);
    assert.equal(b.code, 0, show(b));
    server = startCli(['server', '--config', file, '--listen', '127.0.0.1:0'], env);
    server.child.stderr!.on('data', (d: Buffer) => {
      serverErr += d.toString();
    });
    await until(() => /no users yet: .*\n/.test(serverErr), 'the server to start', 60_000);
    url = `http://${/http:\/\/(127\.0\.0\.1:\d+)/.exec(serverErr)![1]}`;
  });

  after(async () => {
    if (server && server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.done;
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const login = (name: string, password: string) =>
    fetch(`${url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, password }),
    });

  it('the server logs its data directory and user count, and with no user answers logins 503 saying how to add one', async () => {
    assert.match(serverErr, new RegExp(`data directory ${data} \\(catalog ${data}/catalog\\.db\\), 0 users`));
    assert.ok(
      serverErr.includes(
        `no users yet: the API answers 503 to logins until you add one with 'safehold user add NAME --role admin --config ${file}'`,
      ),
      serverErr,
    );
    const res = await login('alice', 'alice password 1');
    assert.equal(res.status, 503);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'UNAVAILABLE');
    assert.match(body.error.message, /no console users yet: add one with 'safehold user add NAME/);
  });

  it('a user added with --config lands in the catalog the server reads: the login succeeds', async () => {
    const add = await cli(['user', 'add', 'alice', '--role', 'admin', '--config', file], {
      SAFEHOLD_USER_PASSWORD: 'alice password 1',
    });
    assert.equal(add.code, 0, show(add));
    const res = await login('alice', 'alice password 1');
    const body = await res.text();
    assert.equal(res.status, 200, body);
    assert.equal((JSON.parse(body) as { user: string }).user, 'alice');
    assert.ok(!fs.existsSync(path.join(xdg, 'safehold')), 'the default data directory was never used');
  });

  it('runs, alerts and audit read the catalog in settings.dataDir, with --config or SAFEHOLD_CONFIG; a config that does not load is an error', async () => {
    const catalog = Catalog.open(data);
    const alertId = catalog.alerts().record({
      event: 'low-space',
      severity: 'warning',
      summary: 'marker alert of the config-catalog test',
      details: {},
    });
    catalog.close();
    const commands = (r: CliResult) =>
      r
        .json<{ command: string }[]>()
        .map((x) => x.command)
        .sort();
    const runs = await cli(['runs', '--config', file, '--json']);
    assert.equal(runs.code, 0, show(runs));
    assert.deepEqual(commands(runs), ['backup', 'init']);
    const byEnv = await cli(['runs', '--json'], { SAFEHOLD_CONFIG: file });
    assert.equal(byEnv.code, 0, show(byEnv));
    assert.deepEqual(commands(byEnv), ['backup', 'init'], 'SAFEHOLD_CONFIG works as --config');
    const alerts = await cli(['alerts', '--config', file, '--json']);
    assert.equal(alerts.code, 0, show(alerts));
    assert.deepEqual(
      alerts.json<{ id: string }[]>().map((a) => a.id),
      [alertId],
    );
    const audit = await cli(['audit', '--json'], { SAFEHOLD_CONFIG: file });
    assert.equal(audit.code, 0, show(audit));
    assert.deepEqual(
      audit.json<{ path: string; status: number }[]>().map((e) => `${e.path} ${e.status}`),
      ['/api/login 200', '/api/login 503'],
    );
    const missing = await cli(['runs', '--config', path.join(dir, 'missing.yaml')]);
    assert.equal(missing.code, 1, show(missing));
    assert.match(missing.stderr, /cannot read configuration file .*missing\.yaml/);
  });

  it('snapshots and copy name repositories with --destination, without --repo or a password; misuse is named', async () => {
    const r = await cli(['snapshots', '--config', file, '--destination', 'main', '--json']);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(
      r.json<{ paths: string[] }[]>().map((s) => s.paths),
      [[src]],
    );
    const both = await cli(['snapshots', '--config', file, '--destination', 'main', '--repo', repo]);
    assert.equal(both.code, 2, show(both));
    assert.match(both.stderr, /--repo and --destination both name the repository/);
    const unknown = await cli(['snapshots', '--config', file, '--destination', 'offsite']);
    assert.equal(unknown.code, 1, show(unknown));
    assert.match(unknown.stderr, /no destination 'offsite' in .* \(destinations: main, fresh, off, gens\)/);
    const dirDest = await cli(['ls', 'latest', '--config', file, '--destination', 'gens']);
    assert.equal(dirDest.code, 2, show(dirDest));
    assert.match(dirDest.stderr, /destination 'gens' is a directory destination .*not a repository/);
    const init = await cli(['init', '--config', file, '--destination', 'off']);
    assert.equal(init.code, 0, show(init));
    const copy = await cli(['copy', '--config', file, '--destination', 'main', '--to-destination', 'off', '--json']);
    assert.equal(copy.code, 0, show(copy));
    assert.equal(copy.json().copied, 1);
    const noConfig = await cli(['snapshots', '--destination', 'main']);
    assert.equal(noConfig.code, 2, show(noConfig));
    assert.match(noConfig.stderr, /--destination main names a destination of the configuration: give it with --config/);
  });

  it('a plan run on a destination not initialised says the command that creates it; that command works', async () => {
    const r = await cli(['plan', 'run', 'first', '--config', file, '--local', '--json']);
    assert.equal(r.code, 4, show(r));
    assert.equal(
      r.json().run.reason,
      `destination fresh (${fresh}) is not initialised: run 'safehold init --config ${file} --destination fresh'`,
    );
    const init = await cli(['init', '--config', file, '--destination', 'fresh']);
    assert.equal(init.code, 0, show(init));
    const again = await cli(['plan', 'run', 'first', '--config', file, '--local', '--json']);
    assert.equal(again.code, 0, show(again));
  });
});
