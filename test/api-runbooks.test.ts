// Runbooks over the REST API, on loopback with a real catalog, repository and
// configuration file holding a destructive runbook of command, safehold
// (a real plan run) and approval steps: list and show (credentials in
// variables hidden), a dry run that changes nothing, a start refused to a
// viewer and without the typed name, the run's step progress while it waits
// for an approval, the approval refused to a viewer and given by an
// operator, the run finishing, abort and resume, the audit entries of every
// state-changing call with the caller's identity, the OpenAPI document, and
// a reloaded configuration seen at once.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { buildApiApp } from '../src/api/http/app.ts';
import type { ApiApp, AuditEntry } from '../src/api/http/app.ts';
import type { Role } from '../src/api/auth/types.ts';
import { Catalog } from '../src/catalog/catalog.ts';
import type { Config } from '../src/config/types.ts';
import { loadConfig } from '../src/config/load.ts';
import { systemClock } from '../src/core/clock.ts';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { listSnapshots } from '../src/repo/snapshot.ts';
import { FixedAuthenticator, TOKENS } from './helpers/api-rig.ts';
import { until } from './helpers/wait.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PASSWORD = 'runbook api test pw';

function configText(dir: string, extra = ''): string {
  return `settings: { dataDir: ${dir}/data }
targets:
  app: { kind: files, units: { docs: { paths: [${dir}/src] } } }
destinations:
  local: { type: repository, path: ${dir}/repo, password: "${PASSWORD}" }
plans:
  nightly: { destination: local, activities: [{ kind: backup, targets: app }] }
runbooks:
  failover:
    description: Fail over (test)
    destructive: true
    vars:
      marker: { default: ${dir}/marker }
      db: { default: "postgres://app:s3cret@127.0.0.1:5432/app", description: the database }
      who: { description: who asks }
    steps:
      - name: before
        kind: command
        with: { argv: [sh, -c, "echo before-\${vars.who} > \${vars.marker}"] }
      - name: backup
        kind: safehold
        description: a backup first
        with: { plan: nightly }
      - name: go-ahead
        kind: approval
        with: { role: operator, message: Go ahead? }
      - name: after
        kind: command
        with: { argv: [sh, -c, "echo after >> \${vars.marker}"] }
  waiter:
    steps:
      - name: hold
        kind: approval
        with: { role: admin }
${extra}`;
}

describe('runbooks over the API', () => {
  let dir: string;
  let app: ApiApp;
  let base: string;
  let catalog: Catalog;
  let config: Config;
  const audits: AuditEntry[] = [];
  const send = async (method: string, p: string, role: Role | null, body?: unknown) => {
    const res = await fetch(base + p, {
      method,
      headers: {
        ...(role ? { authorization: `Bearer ${TOKENS[role]}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : null) as Json };
  };
  const get = (p: string, role: Role = 'viewer') => send('GET', p, role);
  const repoSnapshots = async () =>
    (await listSnapshots(await Repository.open(new LocalBackend(path.join(dir, 'repo')), PASSWORD))).length;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-api-runbooks-'));
    fs.mkdirSync(path.join(dir, 'src'));
    fs.writeFileSync(path.join(dir, 'src', 'a.txt'), 'hello runbook\n');
    await Repository.init(new LocalBackend(path.join(dir, 'repo')), PASSWORD, { kdf: { N: 1024, r: 8, p: 1 } });
    fs.writeFileSync(path.join(dir, 'safehold.yaml'), configText(dir));
    config = loadConfig(path.join(dir, 'safehold.yaml'), {});
    catalog = Catalog.open(path.join(dir, 'data'));
    app = await buildApiApp({
      core: null,
      catalog,
      get config() {
        return config;
      },
      auth: new FixedAuthenticator(),
      audit: (e) => {
        audits.push(e);
      },
      metrics: { enabled: false, protect: false },
      log: () => {},
      clock: systemClock,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await app.close();
    catalog.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('lists and shows runbooks to a viewer, with credentials hidden; an unknown one is 404', async () => {
    assert.equal((await send('GET', '/api/runbooks', null)).status, 401);
    const list = await get('/api/runbooks');
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.deepEqual(
      list.body.items.map((r: Json) => [r.name, r.destructive, r.steps]),
      [
        ['failover', true, 4],
        ['waiter', false, 1],
      ],
    );
    assert.match(list.body.items[0].source, /safehold\.yaml:\d+/);
    const one = await get('/api/runbooks/failover');
    assert.equal(one.status, 200);
    assert.deepEqual(
      one.body.steps.map((s: Json) => [s.name, s.kind]),
      [
        ['before', 'command'],
        ['backup', 'safehold'],
        ['go-ahead', 'approval'],
        ['after', 'command'],
      ],
    );
    const db = one.body.vars.find((v: Json) => v.name === 'db');
    assert.equal(db.default, 'postgres://app:***@127.0.0.1:5432/app');
    assert.equal(one.body.vars.find((v: Json) => v.name === 'who').default, null);
    assert.doesNotMatch(JSON.stringify(one.body), /s3cret/);
    const none = await get('/api/runbooks/nope');
    assert.equal(none.status, 404);
    assert.equal(none.body.error.code, 'RUNBOOK_NOT_FOUND');
  });

  it('a dry run (operator) says what would change and changes nothing', async () => {
    assert.equal((await send('POST', '/api/runbooks/failover/dry-run', 'viewer', { vars: { who: 'x' } })).status, 403);
    const dry = await send('POST', '/api/runbooks/failover/dry-run', 'operator', { vars: { who: 'alice' } });
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.deepEqual(
      dry.body.steps.map((s: Json) => s.name),
      ['before', 'backup', 'go-ahead', 'after'],
    );
    const backup = dry.body.steps.find((s: Json) => s.name === 'backup');
    assert.match(backup.changes.join('\n'), /run plan nightly/);
    assert.doesNotMatch(JSON.stringify(dry.body), /s3cret/);
    assert.equal(fs.existsSync(path.join(dir, 'marker')), false, 'no command ran');
    assert.equal(await repoSnapshots(), 0, 'no backup ran');
    assert.equal(catalog.planRuns().listRuns({ limit: 5 }).length, 0);
    assert.match(audits.at(-1)!.detail ?? '', /^dry run of runbook failover: nothing changed$/);
  });

  let runId = '';
  it('a start is refused to a viewer, and without the typed name of a destructive runbook', async () => {
    const viewer = await send('POST', '/api/runbooks/failover/runs', 'viewer', { vars: { who: 'alice' } });
    assert.equal(viewer.status, 403);
    const unconfirmed = await send('POST', '/api/runbooks/failover/runs', 'operator', { vars: { who: 'alice' } });
    assert.equal(unconfirmed.status, 403, JSON.stringify(unconfirmed.body));
    assert.equal(unconfirmed.body.error.code, 'RUNBOOK_FORBIDDEN');
    assert.match(
      audits.at(-1)!.detail ?? '',
      /^start of runbook failover with who=alice: refused or failed \(RUNBOOK_FORBIDDEN/,
    );
    assert.equal(fs.existsSync(path.join(dir, 'marker')), false);
  });

  it('an operator starts it (202, runs in the background); the run shows its steps while it waits', async () => {
    const started = await send('POST', '/api/runbooks/failover/runs', 'operator', {
      vars: { who: 'alice' },
      confirm: 'failover',
    });
    assert.equal(started.status, 202, JSON.stringify(started.body));
    runId = started.body.runId;
    assert.equal(typeof runId, 'string');
    let run: Json = {};
    await until(
      async () => {
        run = (await get(`/api/runbook-runs/${runId}`)).body;
        return run.steps?.some((s: Json) => s.name === 'go-ahead' && s.status === 'waiting');
      },
      'the approval step waiting',
      60_000,
      50,
    );
    assert.equal(run.status, 'waiting');
    assert.equal(run.runbook, 'failover');
    assert.equal(run.startedBy, 'token-operator');
    assert.equal(run.vars.who, 'alice');
    assert.equal(run.vars.db, 'postgres://app:***@127.0.0.1:5432/app');
    const by = Object.fromEntries(run.steps.map((s: Json) => [s.name, s]));
    assert.equal(by.before.status, 'succeeded');
    assert.equal(by.backup.status, 'succeeded');
    assert.equal(by.backup.outputs.status, 'succeeded');
    assert.equal(by.backup.outputs.snapshots, 1);
    assert.equal(catalog.planRuns().getRun(by.backup.outputs.runId)?.status, 'succeeded');
    assert.deepEqual(by['go-ahead'].approval, { role: 'operator', needsConfirm: true });
    assert.ok(!by.after || by.after.status === 'pending', 'the step after the approval has not run');
    assert.equal(fs.readFileSync(path.join(dir, 'marker'), 'utf8'), 'before-alice\n');
    const list = await get('/api/runbook-runs?runbook=failover');
    const item = list.body.items.find((r: Json) => r.id === runId);
    assert.deepEqual([item.status, item.current, item.waiting], ['waiting', 'go-ahead', true]);
  });

  it('the approval is refused to a viewer and without the typed name, and given by an operator; the run finishes', async () => {
    const p = `/api/runbook-runs/${runId}/steps/go-ahead/approve`;
    const viewer = await send('POST', p, 'viewer', { confirm: 'failover' });
    assert.equal(viewer.status, 403, JSON.stringify(viewer.body));
    assert.equal(viewer.body.error.code, 'RUNBOOK_FORBIDDEN');
    const unconfirmed = await send('POST', p, 'operator', {});
    assert.equal(unconfirmed.status, 403);
    assert.equal((await get(`/api/runbook-runs/${runId}`)).body.status, 'waiting', 'still waiting');
    const ok = await send('POST', p, 'operator', { action: 'approve', confirm: 'failover' });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    let run: Json = {};
    await until(
      async () => {
        run = (await get(`/api/runbook-runs/${runId}`)).body;
        return run.status === 'succeeded' || run.status === 'failed';
      },
      'the run ending',
      30_000,
      50,
    );
    assert.equal(run.status, 'succeeded', JSON.stringify(run));
    assert.equal(run.finishedAt !== null, true);
    assert.equal(fs.readFileSync(path.join(dir, 'marker'), 'utf8'), 'before-alice\nafter\n');
    const again = await send('POST', p, 'operator', { confirm: 'failover' });
    assert.equal(again.status, 409, 'the step no longer waits');
    assert.equal(again.body.error.code, 'RUNBOOK_STATE');
    const resume = await send('POST', `/api/runbook-runs/${runId}/resume`, 'operator');
    assert.equal(resume.status, 409, 'a finished run is not resumed');
  });

  it('an operator aborts a waiting run; a viewer may not', async () => {
    const started = await send('POST', '/api/runbooks/waiter/runs', 'operator');
    assert.equal(started.status, 202, JSON.stringify(started.body));
    const id = started.body.runId as string;
    await until(async () => (await get(`/api/runbook-runs/${id}`)).body.status === 'waiting', 'waiting', 15_000, 50);
    assert.equal((await send('POST', `/api/runbook-runs/${id}/abort`, 'viewer')).status, 403);
    const admin = await send('POST', `/api/runbook-runs/${id}/steps/hold/approve`, 'operator');
    assert.equal(admin.status, 403, 'the step names admin');
    const aborted = await send('POST', `/api/runbook-runs/${id}/abort`, 'operator');
    assert.equal(aborted.status, 200, JSON.stringify(aborted.body));
    await until(async () => (await get(`/api/runbook-runs/${id}`)).body.status === 'aborted', 'aborted', 15_000, 50);
    assert.equal((await get('/api/runbook-runs/nope')).status, 404);
  });

  it('every state-changing call is in the audit log with the identity and what it did', () => {
    const rows = audits.filter((a) => a.path.startsWith('/api/runbook'));
    const find = (re: RegExp, status: number, who: string) =>
      rows.find((a) => re.test(`${a.method} ${a.path}`) && a.status === status && a.principal === who);
    const start = find(/^POST \/api\/runbooks\/failover\/runs$/, 202, 'token-operator');
    assert.match(
      start?.detail ?? '',
      new RegExp(`^start of runbook failover with .*who=alice.*: run ${runId} started$`),
    );
    assert.doesNotMatch(start?.detail ?? '', /s3cret/);
    assert.ok(find(/^POST \/api\/runbooks\/failover\/runs$/, 403, 'token-viewer'), 'the refused start');
    const viewerApproval = find(/approve$/, 403, 'token-viewer');
    assert.match(viewerApproval?.detail ?? '', /^approve of step go-ahead of runbook run .*: refused or failed/);
    const approval = find(/approve$/, 200, 'token-operator');
    assert.match(approval?.detail ?? '', /^approve of step go-ahead of runbook run .*: done/);
    assert.equal(approval?.role, 'operator');
    assert.ok(find(/abort$/, 200, 'token-operator'));
    assert.ok(
      rows.every((a) => a.method === 'POST'),
      'reads are not audited',
    );
  });

  it('the OpenAPI document lists the runbook operations with their roles', async () => {
    const doc = (await get('/api/openapi.json')).body;
    const role = (p: string, m: string) => doc.paths[p]?.[m]?.['x-safehold-role'];
    assert.deepEqual(
      [
        role('/api/runbooks', 'get'),
        role('/api/runbooks/{name}', 'get'),
        role('/api/runbooks/{name}/dry-run', 'post'),
        role('/api/runbooks/{name}/runs', 'post'),
        role('/api/runbook-runs', 'get'),
        role('/api/runbook-runs/{id}', 'get'),
        role('/api/runbook-runs/{id}/steps/{step}/approve', 'post'),
        role('/api/runbook-runs/{id}/abort', 'post'),
        role('/api/runbook-runs/{id}/resume', 'post'),
      ],
      ['viewer', 'viewer', 'operator', 'operator', 'viewer', 'viewer', 'viewer', 'operator', 'operator'],
    );
  });

  it('a reloaded configuration is in force at once', async () => {
    fs.writeFileSync(
      path.join(dir, 'safehold.yaml'),
      configText(dir, '  added:\n    steps:\n      - { name: one, kind: command, with: { argv: ["true"] } }\n'),
    );
    config = loadConfig(path.join(dir, 'safehold.yaml'), {});
    const list = await get('/api/runbooks');
    assert.deepEqual(
      list.body.items.map((r: Json) => r.name),
      ['failover', 'waiter', 'added'],
    );
    assert.equal((await get(`/api/runbook-runs/${runId}`)).body.status, 'succeeded', 'runs are still there');
  });
});
