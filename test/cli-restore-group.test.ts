// `safehold restore-plan run` and `safehold restore --group` through the real
// CLI: steps on stderr, the result on stdout (or JSON), exit codes for done,
// refused and bad usage, the rollback command printed after a failing step;
// over live data the confirmation (--yes, refused without a terminal, the
// group's name typed on one); --dry-run over real PostgreSQL and files
// changing nothing; the hooks left alone for a restore into new places.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { runSql } from '../src/drivers/sql/sql-exec.ts';
import { makeSandbox, show } from './helpers/cli.ts';
import type { Sandbox } from './helpers/cli.ts';
import { onTty } from './helpers/tty.ts';

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
    const refused = await sb.run(['restore-plan', 'run', 'app-back', '--config', file]);
    assert.equal(refused.code, 2, show(refused));
    assert.match(
      refused.stderr,
      /the restore of group app overwrites live data \(.*files of app\/conf.*\): there is no terminal to confirm on; pass --yes to go ahead/,
    );
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'v2\n', 'refused: nothing changed');
    assert.doesNotMatch(refused.stderr, /stop: stdout: stopping/);
    const r = await sb.run(['restore-plan', 'run', 'app-back', '--config', file, '--yes']);
    assert.equal(r.code, 0, show(r));
    assert.match(
      r.stdout,
      /^restored group app from app\/[0-9a-f]{16}: 1 item\(s\); safety backup app\/safety-[0-9a-f]{12} \(1 snapshot\(s\)\)\n$/,
    );
    const steps = r.stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(':')[0]);
    assert.deepEqual([...new Set(steps)], ['select', 'stop', 'check', 'safety-backup', 'files', 'start']);
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'v1\n');
    const j = await sb.run(['restore', '--group', 'app', '--from', 'local', '--config', file, '--json', '--yes']);
    assert.equal(j.code, 0, show(j));
    const doc = j.json();
    assert.equal(doc.ok, true);
    assert.match(doc.safety.groupRun, /^app\/safety-/);
    assert.equal(doc.safetyState, 'taken');
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
    const r = await sb.run(['restore-plan', 'run', 'app-back', '--config', file, '--yes']);
    assert.equal(r.code, 1, show(r));
    assert.match(
      r.stdout,
      /restore of group app stopped at step 'check': the application is still running \(restore-check hook check exited with 1\); stop it, or restore anyway with --force/,
    );
    assert.match(r.stdout, /no safety backup taken \(the restore stopped before that step\)/);
    assert.equal(fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'), 'v2\n');
    const forced = await sb.run(['restore-plan', 'run', 'app-back', '--config', file, '--force', '--yes']);
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

const PG = 'postgres://postgres@127.0.0.1:5432';
const T = { timeoutMs: 20_000 };

async function query(db: string, sql: string): Promise<unknown[][]> {
  const c = new pg.Client({ connectionString: `${PG}/${db}` });
  await c.connect();
  try {
    return (await c.query({ text: sql, rowMode: 'array' })).rows;
  } finally {
    await c.end();
  }
}

/** A group of one PostgreSQL database and one files unit, backed up once (value v1), then changed to v2. */
async function pgWorld(t: { after(fn: () => Promise<void> | void): void }) {
  const tag = randomBytes(4).toString('hex');
  const db = `shrg_${tag}`;
  await runSql(`${PG}/postgres`, `CREATE DATABASE ${db}`, T);
  await runSql(`${PG}/${db}`, "CREATE TABLE t (v text); INSERT INTO t VALUES ('v1')", T);
  const sb = makeSandbox('safehold-rgroup-pg-');
  t.after(async () => {
    sb.cleanup();
    for (const d of await query('postgres', `SELECT datname FROM pg_database WHERE datname LIKE 'shrg_${tag}%'`))
      await runSql(`${PG}/postgres`, `DROP DATABASE IF EXISTS ${d[0]} WITH (FORCE)`, T);
  });
  const conf = path.join(sb.dir, 'app', 'conf');
  fs.mkdirSync(conf, { recursive: true });
  fs.writeFileSync(path.join(conf, 'app.ini'), 'v1\n');
  const hooksLog = path.join(sb.dir, 'hooks.log');
  const file = path.join(sb.dir, 'safehold.yaml');
  fs.writeFileSync(
    file,
    `
targets:
  pg: { kind: postgres, host: 127.0.0.1, port: 5432, user: postgres, databases: '${db}' }
  app: { kind: files, units: { conf: { paths: [${conf}] } } }
destinations:
  local: { type: repository, path: ${sb.repo}, password: { env: SAFEHOLD_PASSWORD } }
hooks:
  stop: { command: [sh, -c, 'echo stop >> ${hooksLog}'] }
  start: { command: [sh, -c, 'echo start >> ${hooksLog}'], always: true }
  check: { command: [sh, -c, 'echo check >> ${hooksLog}'] }
groups:
  app: { members: [{ target: pg, units: ['${db}'] }, { target: app }], stop: stop, start: start, check: check }
plans:
  nightly: { destination: local, activities: [{ kind: backup, group: app }] }
`,
  );
  await sb.init();
  const b = await sb.run(['plan', 'run', 'nightly', '--config', file]);
  assert.equal(b.code, 0, show(b));
  fs.rmSync(hooksLog, { force: true });
  await runSql(`${PG}/${db}`, "UPDATE t SET v = 'v2'", T);
  fs.writeFileSync(path.join(conf, 'app.ini'), 'v2\n');
  fs.writeFileSync(path.join(conf, 'stray.tmp'), 'new in v2\n');
  const hooks = () => (fs.existsSync(hooksLog) ? fs.readFileSync(hooksLog, 'utf8').trim().split('\n') : []);
  /** The live state: the database's rows, the files, the hooks run, the snapshots. */
  const state = async (s: Sandbox = sb) => ({
    rows: await query(db, 'SELECT v FROM t'),
    ini: fs.readFileSync(path.join(conf, 'app.ini'), 'utf8'),
    stray: fs.existsSync(path.join(conf, 'stray.tmp')),
    hooks: hooks(),
    snapshots: (await s.run(['snapshots', '--json'])).json().length as number,
  });
  return { sb, db, conf, file, hooks, state };
}

describe('restore --group over PostgreSQL and files: dry run, confirmation, hooks, safety backup line', () => {
  it('--dry-run changes nothing and lists what would be stopped, saved, replaced and removed (text and JSON)', async (t) => {
    const { sb, db, conf, file, state } = await pgWorld(t);
    const before = await state();
    assert.deepEqual([before.rows, before.ini, before.stray, before.hooks], [[['v2']], 'v2\n', true, []]);
    const args = ['restore', '--group', 'app', '--from', 'local', '--config', file, '--dry-run'];
    const r = await sb.run(args);
    assert.equal(r.code, 0, show(r));
    const text = r.stdout;
    assert.match(text, /^dry run, nothing changed: the restore of group app would\n/);
    assert.match(text, /live data: YES, this restore overwrites: .*database [^ ]+ of pg \(exists already\)/);
    assert.match(text, /\n {4}stop \(stop\): runs, stops the application/);
    assert.match(text, /\n {4}check \(check\): runs, must succeed/);
    assert.match(text, /\n {4}cleanup: no cleanup hook configured/);
    assert.match(text, /\n {4}start \(start\): runs/);
    assert.match(text, new RegExp(`safety backup: saves .*: database ${db} of pg; ${conf}`));
    assert.match(text, new RegExp(`pg/${db} into database ${db}: REPLACED \\(it exists now\\)`));
    assert.match(
      text,
      new RegExp(`app/conf: ${conf} emptied, then restored .*: 2 entries written, 2 of them replacing`),
    );
    assert.match(text, new RegExp(`removed \\(exist now, not in the snapshot\\): 1 entry\\n {8}${conf}/stray.tmp\\n`));
    const j = await sb.run([...args, '--json']);
    assert.equal(j.code, 0, show(j));
    const doc = j.json();
    assert.deepEqual(
      [doc.ok, doc.dryRun, doc.safety, doc.safetyState, doc.restored],
      [true, true, null, 'not-reached', []],
    );
    assert.equal(doc.plan.touchesLive, true);
    assert.deepEqual(
      doc.plan.databases.map((d: { into: string; replaces: boolean }) => [d.into, d.replaces]),
      [[db, true]],
    );
    assert.deepEqual(doc.plan.files[0].deletes, [path.join(conf, 'stray.tmp')]);
    assert.deepEqual(await state(), before, 'the database, the files, the hooks and the repository are as they were');
    // A dry run needs no --yes and no terminal: even with the application "running" nothing is asked or run.
  });

  it('into new names and places no hook runs and no --yes is needed; in place needs --yes and restores both; the safety line is right', async (t) => {
    const { sb, db, conf, file, hooks, state } = await pgWorld(t);
    const to = path.join(sb.dir, 'elsewhere');
    const copy = await sb.run([
      'restore',
      '--group',
      'app',
      '--from',
      'local',
      '--config',
      file,
      '--into-suffix',
      '_r',
      '--files-to',
      to,
    ]);
    assert.equal(copy.code, 0, show(copy));
    assert.deepEqual(hooks(), [], 'stop, check and start did not run');
    assert.match(copy.stderr, /stop: not run: the restore touches no live data/);
    assert.match(copy.stdout, /; safety backup not needed \(nothing that existed was overwritten\)\n$/);
    assert.deepEqual(await query(`${db}_r`, 'SELECT v FROM t'), [['v1']]);
    assert.equal(fs.readFileSync(path.join(to, conf, 'app.ini'), 'utf8'), 'v1\n');
    const live = await state();
    assert.deepEqual([live.rows, live.ini, live.stray], [[['v2']], 'v2\n', true], 'the live data is untouched');
    const args = ['restore', '--group', 'app', '--from', 'local', '--config', file];
    const refused = await sb.run(args);
    assert.equal(refused.code, 2, show(refused));
    assert.match(refused.stderr, /pass --yes to go ahead/);
    assert.deepEqual(await state(), live, 'refused without --yes: nothing changed');
    const r = await sb.run([...args, '--yes']);
    assert.equal(r.code, 0, show(r));
    assert.match(
      r.stdout,
      /^restored group app from app\/[0-9a-f]{16}: 2 item\(s\); safety backup app\/safety-[0-9a-f]{12} \(2 snapshot\(s\)\)\n$/,
    );
    assert.deepEqual(hooks(), ['stop', 'check', 'start']);
    const after = await state();
    assert.deepEqual([after.rows, after.ini, after.stray], [[['v1']], 'v1\n', false]);
  });

  it('on a terminal the group name typed goes ahead; anything else stops with nothing changed', async (t) => {
    const { sb, file, state } = await pgWorld(t);
    const args = ['restore', '--group', 'app', '--from', 'local', '--config', file];
    const prompt = /type app to go on[^\n]*: /;
    const before = await state();
    const no = await onTty(args, prompt, ['ap'], sb.env);
    assert.equal(no.code, 130, no.screen);
    assert.match(no.screen, /The restore will:/);
    assert.match(no.screen, /live data: YES/);
    assert.match(no.screen, /not confirmed: nothing was changed/);
    assert.deepEqual(await state(), before);
    const yes = await onTty(args, prompt, ['app'], sb.env);
    assert.equal(yes.code, 0, yes.screen);
    const after = await state();
    assert.deepEqual([after.rows, after.ini, after.hooks], [[['v1']], 'v1\n', ['stop', 'check', 'start']]);
  });
});
