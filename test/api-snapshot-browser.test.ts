// The snapshot file browser over real HTTP against a real plan run's
// snapshot: browse a directory, search by name, download one file (audited,
// Content-Disposition attachment, no traversal), restore a selection only
// into a new or empty directory outside live data (refused: traversal,
// non-empty target, live-data target even for an admin, a viewer). Also the
// plans API's view of a refused run (not the plan's state, a notice), and
// "drill now" (only the plan's drill activities, operator, audited).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { Plan } from '../src/config/types.ts';
import { apiRig } from './helpers/api-rig.ts';
import type { ApiRig } from './helpers/api-rig.ts';
import { activity } from './helpers/plan-fixtures.ts';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

async function json(res: Response, status: number): Promise<Json> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text) as Json;
}

describe('snapshot file browser API', () => {
  let r: ApiRig;
  let snap = '';
  let docs = '';
  const q = (p: Record<string, string>) => `?${new URLSearchParams({ destination: 'local', ...p })}`;
  before(async () => {
    r = await apiRig({
      setup: (w) => {
        const plan: Plan = {
          ...w.config.plans.nightly!,
          activities: [activity('files', 'backup', 'HOST', '*'), activity('drill', 'drill', 'HOST', '*')],
        };
        Object.assign(w.config.plans, { nightly: plan });
      },
    });
    docs = path.join(r.srcDir, 'docs');
    fs.mkdirSync(path.join(docs, 'sub'));
    fs.writeFileSync(path.join(docs, 'sub', 'Notes Über.TXT'), 'notes\n');
    const run = await json(await r.send('POST', '/api/plans/nightly/run', 'operator'), 200);
    assert.equal(run.run.status, 'succeeded', JSON.stringify(run));
    const snaps = await json(await r.get('/api/snapshots?plan=nightly'), 200);
    snap = snaps.items[0].snapshot;
  });
  after(() => r.close());

  it('lists one directory: directories first, then files by name', async () => {
    const body = await json(await r.get(`/api/snapshots/${snap.slice(0, 10)}/files${q({ path: docs })}`), 200);
    assert.equal(body.snapshot, snap);
    assert.equal(body.path, docs);
    assert.deepEqual(
      body.items.map((e: Json) => [e.name, e.type, e.path]),
      [
        ['sub', 'dir', `${docs}/sub`],
        ['a.txt', 'file', `${docs}/a.txt`],
      ],
    );
    assert.equal(body.items[1].size, 10);
    const root = await json(await r.get(`/api/snapshots/${snap}/files${q({})}`), 200);
    assert.equal(root.path, '/');
    assert.deepEqual(
      root.items.map((e: Json) => e.path),
      [`/${docs.split('/')[1]}`],
    );
  });

  it('searches by a part of the name, any case', async () => {
    const body = await json(await r.get(`/api/snapshots/${snap}/search${q({ q: 'notes über' })}`), 200);
    assert.deepEqual(
      body.items.map((e: Json) => e.path),
      [`${docs}/sub/Notes Über.TXT`],
    );
    assert.equal(body.truncated, false);
    const some = await json(await r.get(`/api/snapshots/${snap}/search${q({ q: 't', limit: '1' })}`), 200);
    assert.deepEqual([some.items.length, some.truncated], [1, true]);
  });

  it('downloads one file as an attachment; audited', async () => {
    const res = await r.get(`/api/snapshots/${snap}/download${q({ path: `${docs}/sub/Notes Über.TXT` })}`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'notes\n');
    assert.equal(res.headers.get('content-type'), 'application/octet-stream');
    assert.equal(
      res.headers.get('content-disposition'),
      `attachment; filename="Notes _ber.TXT"; filename*=UTF-8''Notes%20%C3%9Cber.TXT`,
    );
    const a = r.audits.at(-1)!;
    assert.deepEqual(
      [a.principal, a.method, a.path, a.status],
      ['token-viewer', 'GET', `/api/snapshots/${snap}/download`, 200],
    );
    assert.match(a.detail!, /download of .*Notes Über\.TXT from snapshot .*: 6 bytes/);
  });

  it('refuses traversal, directories and unknown paths', async () => {
    for (const p of [`${docs}/../docs/a.txt`, '/../../etc/passwd', 'etc/passwd']) {
      const body = await json(await r.get(`/api/snapshots/${snap}/download${q({ path: p })}`), 400);
      assert.equal(body.error.code, 'USAGE', p);
    }
    const dir = await json(await r.get(`/api/snapshots/${snap}/download${q({ path: docs })}`), 400);
    assert.match(dir.error.message, /only a regular file/);
    await json(await r.get(`/api/snapshots/${snap}/download${q({ path: `${docs}/nope` })}`), 404);
    assert.equal(r.audits.at(-1)!.status, 404);
    assert.match(r.audits.at(-1)!.detail!, /refused or failed \(NOT_FOUND/);
    await json(await r.get(`/api/snapshots/${snap}/files${q({ path: '/a/../..' })}`), 400);
    await json(await r.get(`/api/snapshots/${snap}/files`), 400);
  });

  it('restores a selection into a new directory; audited', async () => {
    const to = path.join(r.w.dir, 'picked');
    const body = await json(
      await r.send('POST', `/api/snapshots/${snap}/restore-selection`, 'operator', {
        destination: 'local',
        paths: [`${docs}/sub/Notes Über.TXT`],
        target: to,
      }),
      200,
    );
    assert.deepEqual([body.into, body.files, body.bytes], [to, 1, 6]);
    assert.equal(fs.readFileSync(path.join(to, docs, 'sub', 'Notes Über.TXT'), 'utf8'), 'notes\n');
    assert.equal(fs.existsSync(path.join(to, docs, 'a.txt')), false);
    const a = r.audits.at(-1)!;
    assert.deepEqual([a.principal, a.status], ['token-operator', 200]);
    assert.match(a.detail!, /restore of 1 path\(s\) .* into .*picked: 1 file\(s\), 6 bytes/);
  });

  it('restores into an empty directory, refuses a non-empty one and touches nothing', async () => {
    const empty = path.join(r.w.dir, 'empty');
    fs.mkdirSync(empty);
    const ok = await json(
      await r.send('POST', `/api/snapshots/${snap}/restore-selection`, 'operator', {
        destination: 'local',
        paths: [`${docs}/a.txt`],
        target: empty,
      }),
      200,
    );
    assert.equal(ok.files, 1);
    const before = fs.readdirSync(empty);
    const body = await json(
      await r.send('POST', `/api/snapshots/${snap}/restore-selection`, 'admin', {
        destination: 'local',
        paths: [`${docs}/sub`],
        target: empty,
      }),
      400,
    );
    assert.equal(body.error.code, 'RESTORE_TARGET');
    assert.match(body.error.message, /not empty/);
    assert.deepEqual(fs.readdirSync(empty), before);
    assert.equal(fs.existsSync(path.join(empty, docs, 'sub')), false);
    assert.match(r.audits.at(-1)!.detail!, /refused or failed \(RESTORE_TARGET/);
  });

  it('refuses live data for everyone, even an empty place inside it, and a missing parent', async () => {
    for (const target of [path.join(docs, 'new'), r.srcDir, '/']) {
      const body = await json(
        await r.send('POST', `/api/snapshots/${snap}/restore-selection`, 'admin', {
          destination: 'local',
          paths: [`${docs}/a.txt`],
          target,
        }),
        403,
      );
      assert.equal(body.error.code, 'FORBIDDEN', target);
      assert.match(body.error.message, /live data \(files of HOST\/docs/);
    }
    assert.equal(fs.existsSync(path.join(docs, 'new')), false);
    const missing = await json(
      await r.send('POST', `/api/snapshots/${snap}/restore-selection`, 'operator', {
        destination: 'local',
        paths: [`${docs}/a.txt`],
        target: path.join(r.w.dir, 'no', 'such', 'place'),
      }),
      400,
    );
    assert.match(missing.error.message, /does not exist: choose a new directory inside an existing one/);
    assert.equal(fs.existsSync(path.join(r.w.dir, 'no')), false);
  });

  it('refuses traversal in the selection, relative targets and a viewer', async () => {
    const to = path.join(r.w.dir, 'never');
    for (const [paths, target] of [
      [[`${docs}/../../x`], to],
      [[`${docs}/a.txt`], 'relative/dir'],
      [[], to],
    ] as const) {
      const res = await r.send('POST', `/api/snapshots/${snap}/restore-selection`, 'operator', {
        destination: 'local',
        paths,
        target,
      });
      assert.equal(res.status, 400, await res.text());
    }
    const v = await json(
      await r.send('POST', `/api/snapshots/${snap}/restore-selection`, 'viewer', {
        destination: 'local',
        paths: [`${docs}/a.txt`],
        target: to,
      }),
      403,
    );
    assert.equal(v.error.code, 'FORBIDDEN');
    assert.equal(fs.existsSync(to), false);
  });

  it('drill now runs only the drill activities; operator; audited', async () => {
    const body = await json(await r.send('POST', '/api/plans/nightly/drill', 'operator'), 200);
    assert.equal(body.run.status, 'succeeded', JSON.stringify(body));
    assert.deepEqual(
      body.tasks.map((t: Json) => t.kind),
      ['drill'],
    );
    assert.match(r.audits.at(-1)!.detail!, new RegExp(`^drill run ${body.run.id} succeeded$`));
    const drills = await json(await r.get('/api/drills'), 200);
    assert.equal(drills.items[0].runId, body.run.id);
    assert.equal(drills.items[0].status, 'passed');
    await json(await r.send('POST', '/api/plans/nightly/drill', 'viewer'), 403);
  });

  it('a refused run is a notice, not the plan state; partial is not a success', async () => {
    const before = await json(await r.get('/api/plans/nightly'), 200);
    const good = before.lastRun;
    assert.equal(good.status, 'succeeded');
    const plan = r.w.config.plans.nightly!;
    Object.assign(r.w.config.plans, {
      nightly: { ...plan, window: { type: 'ranges', timezone: 'UTC', ranges: [] } },
    });
    try {
      const refused = await json(await r.send('POST', '/api/plans/nightly/run', 'operator'), 200);
      assert.equal(refused.run.status, 'refused');
      const after = await json(await r.get('/api/plans/nightly'), 200);
      assert.equal(after.lastRun.id, good.id);
      assert.equal(after.lastRun.status, 'succeeded');
      assert.equal(after.lastRefusal.id, refused.run.id);
      assert.match(after.lastRefusal.reason, /maintenance window/);
      assert.deepEqual(after.window, { text: 'never (UTC)', open: false });
      assert.equal(after.lastSuccessAt, before.lastSuccessAt);
      assert.equal(after.lastPartialAt, null);
      assert.equal(after.offsite, null);
    } finally {
      Object.assign(r.w.config.plans, { nightly: plan });
    }
    const list = await json(await r.get('/api/plans'), 200);
    assert.equal(list.items[0].window.text, 'always');
    assert.equal(list.items[0].window.open, true);
  });
});
