// A group restore in place (the most dangerous restore there is) against
// forged snapshots: a group run whose snapshot claims paths outside the
// group ('/', a sentinel directory) and whose tree holds files there, and a
// snapshot of a target that is not a member. Only the paths the
// configuration names for the group's units are removed and restored; the
// sentinel is byte-for-byte the same; a non-member is refused.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { systemClock } from '../../src/core/clock.ts';
import { isSafeholdError } from '../../src/core/errors.ts';
import type { FilesTarget, Group } from '../../src/config/types.ts';
import { restoreGroup } from '../../src/plans/restore/restore-flow.ts';
import { buildTargets } from '../../src/drivers/target/targets.ts';
import { activity, openRepo, planWorld } from '../helpers/plan-fixtures.ts';
import type { PlanWorld } from '../helpers/plan-fixtures.ts';
import { dirNode, fileNode, forger, sentinel, statListing } from '../helpers/repo-forger.ts';

async function world(t: { after(fn: () => Promise<void> | void): void }) {
  const w = await planWorld({}, { activities: [activity('app', 'backup', '', null, { group: 'app' })] });
  t.after(() => w.close());
  const data = path.join(w.dir, 'app', 'data');
  fs.mkdirSync(data, { recursive: true });
  fs.writeFileSync(path.join(data, 'work.db'), 'live\n');
  const host: FilesTarget = {
    kind: 'files',
    name: 'HOST',
    site: null,
    units: { data: { paths: [data], exclude: [] } },
  };
  const other: FilesTarget = {
    kind: 'files',
    name: 'OTHER',
    site: null,
    units: { x: { paths: [path.join(w.dir, 'other')], exclude: [] } },
  };
  const group: Group = {
    name: 'app',
    mode: 'quiesced',
    members: [{ target: 'HOST', units: ['data'] }],
    stop: null,
    start: null,
    check: null,
    cleanup: null,
  };
  Object.assign(w.config.targets, { HOST: host, OTHER: other });
  Object.assign(w.config, { groups: { app: group } });
  return { w, data, guard: sentinel(w.dir) };
}

/** A tree holding `files` (absolute path → content) as a snapshot would. */
async function treeOf(f: Awaited<ReturnType<typeof forger>>, files: Record<string, string>): Promise<string> {
  const build = async (entries: [string[], string][]): Promise<string> => {
    const here = new Map<string, [string[], string][]>();
    const nodes = [];
    for (const [parts, content] of entries) {
      if (parts.length === 1) nodes.push(fileNode(parts[0]!, [await f.data(content)], Buffer.byteLength(content)));
      else here.set(parts[0]!, [...(here.get(parts[0]!) ?? []), [parts.slice(1), content]]);
    }
    for (const [name, sub] of here) nodes.push(dirNode(name, await build(sub)));
    return f.tree(nodes);
  };
  return build(Object.entries(files).map(([p, c]) => [p.split('/').filter(Boolean), c]));
}

const restore = (w: PlanWorld) =>
  restoreGroup({
    config: w.config,
    group: 'app',
    from: 'local',
    snapshot: 'latest',
    safetyBackup: true,
    intoSuffix: null,
    filesTo: null,
    force: false,
    allowLive: true,
    targets: buildTargets(w.config),
    clock: systemClock,
    log: () => {},
  });

describe('group restore in place against forged snapshots', () => {
  it("deletes and writes only the group's configured paths, whatever the snapshot claims", async (t) => {
    const { w, data, guard } = await world(t);
    const repo = await openRepo(w);
    t.after(() => repo.close());
    const f = await forger(repo, w.repoPath);
    const tree = await treeOf(f, {
      [path.join(data, 'work.db')]: 'restored\n',
      [path.join(guard.root, 'secret')]: 'overwritten by the attacker\n',
      [path.join(guard.root, 'planted')]: 'planted\n',
    });
    // ('/' among the claimed paths is tested under filesTo below: a regression there must not reach the real '/'.)
    await f.snapshot(tree, {
      paths: [guard.root, data],
      tags: ['target:HOST', 'unit:data'],
      meta: { group: 'app/forged0000000000', consistent: true, online: false },
    });
    const before = guard.listing();
    const r = await restore(w);
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(fs.readFileSync(path.join(data, 'work.db'), 'utf8'), 'restored\n');
    assert.deepEqual(guard.listing(), before, 'the sentinel was neither removed nor written');
    assert.deepEqual(
      r.overLiveData.map((h) => h.split(' (')[0]),
      [data],
    );
    assert.equal(statListing(w.dir)['sentinel/planted'], undefined);
  });

  it("a snapshot claiming '/' restored under filesTo: only the configured paths there are replaced", async (t) => {
    const { w, data } = await world(t);
    const repo = await openRepo(w);
    t.after(() => repo.close());
    const f = await forger(repo, w.repoPath);
    const to = path.join(w.dir, 'restore-here');
    fs.mkdirSync(path.join(to, 'keep'), { recursive: true });
    fs.writeFileSync(path.join(to, 'keep', 'mine'), 'mine\n');
    const tree = await treeOf(f, { [path.join(data, 'work.db')]: 'restored\n', '/keep/mine': 'overwritten\n' });
    await f.snapshot(tree, {
      paths: ['/'],
      tags: ['target:HOST', 'unit:data'],
      meta: { group: 'app/forged0000000002', consistent: true, online: false },
    });
    const r = await restoreGroup({
      config: w.config,
      group: 'app',
      from: 'local',
      snapshot: 'latest',
      safetyBackup: true,
      intoSuffix: null,
      filesTo: to,
      force: false,
      allowLive: true,
      targets: buildTargets(w.config),
      clock: systemClock,
      log: () => {},
    });
    assert.equal(r.ok, true, JSON.stringify(r));
    assert.equal(fs.readFileSync(path.join(to, data, 'work.db'), 'utf8'), 'restored\n');
    assert.equal(
      fs.readFileSync(path.join(to, 'keep', 'mine'), 'utf8'),
      'mine\n',
      'nothing outside the configured path was cleaned or written',
    );
  });

  it('a snapshot of a target that is not a member of the group is refused before anything runs', async (t) => {
    const { w, guard } = await world(t);
    const repo = await openRepo(w);
    t.after(() => repo.close());
    const f = await forger(repo, w.repoPath);
    const tree = await treeOf(f, { [path.join(guard.root, 'secret')]: 'x' });
    await f.snapshot(tree, {
      paths: [guard.root],
      tags: ['target:OTHER', 'unit:x'],
      meta: { group: 'app/forged0000000001', consistent: true, online: false },
    });
    const before = guard.listing();
    await assert.rejects(
      restore(w),
      (e) => isSafeholdError(e, 'CONFIG') && /not a member of group app/.test(e.message),
    );
    assert.deepEqual(guard.listing(), before);
  });
});
