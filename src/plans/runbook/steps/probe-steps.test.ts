// The sql, http and wait-until steps and sql/http/command conditions against
// real things: this machine's PostgreSQL and MariaDB servers, a local HTTP
// server, files that appear while a wait-until polls.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { systemClock } from '../../../core/clock.ts';
import type { Config } from '../../../config/types.ts';
import { runSql } from '../../../drivers/sql/sql-exec.ts';
import { evaluateCondition } from '../conditions.ts';
import type { ResolveScope } from '../placeholders.ts';
import type { StepContext } from '../step-kind.ts';
import { httpStep } from './http.ts';
import { sqlStep } from './sql.ts';
import { waitUntilStep } from './wait-until.ts';

const DB = `safehold_rb_${randomBytes(4).toString('hex')}`;
const PG = 'postgres://postgres@127.0.0.1:5432';
const MARIA = 'mariadb://root@127.0.0.1:3306';
const T = { timeoutMs: 10_000 };
const NOCFG = { targets: {} };
const dbTarget = (kind: 'postgres' | 'mariadb', port: number, user: string, password: string | null) => ({
  kind,
  name: kind,
  site: null,
  host: '127.0.0.1',
  port,
  user,
  password: password === null ? null : { source: 'inline', value: password },
  databases: '*',
  exclude: [],
  timeoutMs: 10_000,
});
/** The machine's servers as configured targets (PostgreSQL trusts loopback, so the password is sent and ignored). */
const TARGETS = {
  targets: {
    pg: dbTarget('postgres', 5432, 'postgres', 'not-shown-42'),
    maria: dbTarget('mariadb', 3306, 'root', null),
  },
} as unknown as Config;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-probes-'));
let server: http.Server;
let base: string;

function ctx(timeoutMs = 10_000): StepContext {
  return {
    runId: 'r1',
    runbook: 'rb',
    step: 's',
    attempt: 1,
    signal: AbortSignal.timeout(timeoutMs),
    clock: systemClock,
    config: { file: path.join(root, 'safehold.yaml') } as Config,
    catalog: null as never,
    log: () => {},
    alert: async () => {},
  };
}

const scope: ResolveScope = { vars: { dir: root }, steps: {}, run: { id: 'r1', startedAt: 0, runbook: 'rb' } };

before(async () => {
  await runSql(`${PG}/postgres`, `CREATE DATABASE ${DB}`, T);
  await runSql(`${PG}/${DB}`, "CREATE TABLE t (id INT, role TEXT); INSERT INTO t VALUES (1, 'standby')", T);
  await runSql(`${MARIA}/`, `CREATE DATABASE ${DB}`, T);
  server = http.createServer((req, res) => {
    if (req.url === '/health') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ role: 'primary', lag: 0, nested: { a: 1 } }));
    } else if (req.url === '/echo' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => res.end(JSON.stringify({ got: JSON.parse(body).x, auth: req.headers.authorization })));
    } else {
      res.statusCode = 503;
      res.end('down');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.close();
  await runSql(`${PG}/postgres`, `DROP DATABASE IF EXISTS ${DB}`, T);
  await runSql(`${MARIA}/`, `DROP DATABASE IF EXISTS ${DB}`, T);
  fs.rmSync(root, { recursive: true, force: true });
});

describe('sql, http and wait-until steps', () => {
  it('sql: outputs rowCount and the first row on PostgreSQL and MariaDB', async () => {
    assert.deepEqual(await sqlStep.run({ url: `${PG}/${DB}`, sql: 'SELECT id, role FROM t' }, ctx()), {
      id: 1,
      role: 'standby',
      rowCount: 1,
    });
    assert.deepEqual(await sqlStep.run({ url: `${PG}/${DB}`, sql: "INSERT INTO t VALUES (2, 'x'), (3, 'y')" }, ctx()), {
      rowCount: 2,
    });
    assert.deepEqual(await sqlStep.run({ url: `${MARIA}/${DB}`, sql: 'SELECT 41 + 1 AS answer' }, ctx()), {
      answer: 42,
      rowCount: 1,
    });
    await assert.rejects(
      sqlStep.run({ url: 'postgres://postgres@127.0.0.1:1/x', sql: 'SELECT 1' }, ctx()),
      /ECONNREFUSED|connect/,
    );
  });

  it('sql step and sql condition through a configured target (host, port, user, password), never showing the password', async () => {
    const c = { ...ctx(), config: TARGETS };
    assert.deepEqual(await sqlStep.run({ target: 'pg', database: DB, sql: 'SELECT role FROM t WHERE id = 1' }, c), {
      role: 'standby',
      rowCount: 1,
    });
    // Without a database: postgres on PostgreSQL, none on MariaDB.
    assert.deepEqual(await sqlStep.run({ target: 'pg', sql: 'SELECT current_database() AS db' }, c), {
      db: 'postgres',
      rowCount: 1,
    });
    assert.deepEqual(await sqlStep.run({ target: 'maria', sql: 'SELECT DATABASE() AS db' }, c), {
      db: null,
      rowCount: 1,
    });
    assert.deepEqual(await sqlStep.run({ target: 'maria', database: DB, sql: 'SELECT DATABASE() AS db' }, c), {
      db: DB,
      rowCount: 1,
    });
    const plan = await sqlStep.plan({ target: 'pg', database: DB, sql: 'SELECT 1' }, c);
    assert.deepEqual(plan, [`run SQL on target pg (database ${DB}): SELECT 1`]);
    await assert.rejects(
      sqlStep.run({ target: 'nope', sql: 'SELECT 1' }, c),
      /'nope' is not a postgres or mariadb target/,
    );
    const cond = {
      type: 'sql' as const,
      sql: 'SELECT 1',
      url: '',
      target: 'maria',
      database: DB,
      that: '${value} == 1',
    };
    const r = await evaluateCondition(cond, scope, { mode: 'run', signal: c.signal, config: TARGETS });
    assert.equal(r.holds, true, r.why);
    const pgCond = { ...cond, target: 'pg', sql: 'SELECT role FROM t WHERE id = 1', that: '${value} == standby' };
    const r2 = await evaluateCondition(pgCond, scope, { mode: 'run', signal: c.signal, config: TARGETS });
    assert.equal(r2.holds, true, r2.why);
    assert.ok(!JSON.stringify([plan, r, r2]).includes('not-shown-42'));
  });

  it('http: status and JSON fields; an unexpected status fails', async () => {
    assert.deepEqual(await httpStep.run({ url: `${base}/health` }, ctx()), {
      role: 'primary',
      lag: 0,
      nested: '{"a":1}',
      status: 200,
    });
    const posted = await httpStep.run(
      { method: 'POST', url: `${base}/echo`, body: { x: 'y' }, headers: { authorization: 'Bearer t' } },
      ctx(),
    );
    assert.deepEqual(posted, { got: 'y', auth: 'Bearer t', status: 200 });
    await assert.rejects(httpStep.run({ url: `${base}/nope` }, ctx()), /answered 503, expected a 2xx status/);
    assert.deepEqual(await httpStep.run({ url: `${base}/nope`, expectStatus: 503 }, ctx()), { status: 503 });
  });

  it('conditions: sql with ${value}, http with ${status} and ${body.X}, command by exit status', async () => {
    const sqlC = {
      type: 'sql' as const,
      sql: 'SELECT role FROM t WHERE id = 1',
      url: `${PG}/${DB}`,
      target: null,
      database: null,
      that: '${value} == standby',
    };
    assert.equal(
      (await evaluateCondition(sqlC, scope, { mode: 'run', signal: ctx().signal, config: NOCFG })).holds,
      true,
    );
    const httpC = {
      type: 'http' as const,
      url: `${base}/health`,
      that: '${status} == 200 and ${body.role} == primary',
    };
    assert.equal(
      (await evaluateCondition(httpC, scope, { mode: 'run', signal: ctx().signal, config: NOCFG })).holds,
      true,
    );
    const down = await evaluateCondition({ type: 'http', url: `${base}/x`, that: null }, scope, {
      mode: 'run',
      signal: ctx().signal,
      config: NOCFG,
    });
    assert.deepEqual(down, { holds: false, why: 'HTTP status 503' });
    const cmd = { type: 'command' as const, argv: ['test', '-d', '${vars.dir}'], that: null };
    assert.equal(
      (await evaluateCondition(cmd, scope, { mode: 'run', signal: ctx().signal, config: NOCFG })).holds,
      true,
    );
    const unreachable = await evaluateCondition(
      {
        type: 'sql',
        sql: 'SELECT 1',
        url: 'postgres://postgres@127.0.0.1:1/x',
        target: null,
        database: null,
        that: '${value} == 1',
      },
      scope,
      { mode: 'run', signal: ctx().signal, config: NOCFG },
    );
    assert.equal(unreachable.holds, false);
    assert.match(unreachable.why, /the check failed/);
  });

  it('wait-until polls until the condition holds, and gives up at the step timeout', async () => {
    const flag = path.join(root, 'ready');
    setTimeout(() => fs.writeFileSync(flag, 'ok\n'), 300);
    const out = await waitUntilStep.run({ command: ['cat', flag], that: '${stdout} == ok', interval: '50ms' }, ctx());
    assert.ok((out.checks as number) > 1, `checked ${out.checks} times`);
    assert.ok((out.waitedMs as number) >= 200);
    await assert.rejects(
      waitUntilStep.run(
        { sql: 'SELECT count(*) FROM t', url: `${PG}/${DB}`, that: '${value} > 100', interval: '50ms' },
        ctx(400),
      ),
      (e: Error) => e.name === 'TimeoutError' || /abort|timed out|cancel/i.test(e.message),
    );
  });
});
