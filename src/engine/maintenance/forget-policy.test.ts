// Retention → forget → prune in one place: partitions are kept on their own,
// a dry run removes nothing and previews the prune, a real run forgets, tells
// the caller what it removed before pruning, and frees the data.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Repository } from '../../repo/repository.ts';
import { LocalBackend } from '../../repo/backend/local-backend.ts';
import { RepoLock } from '../../repo/lock.ts';
import { listSnapshots } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import { tagValue } from '../../repo/snapshot-tags.ts';
import { backup } from '../backup/archiver.ts';
import { chooseByPolicy, forgetAndPrune } from './forget-policy.ts';
import type { RetentionPolicy } from './retention.ts';
import { randomBytes } from '../../../test/helpers/data.ts';
import { snapshotRecord } from '../../../test/helpers/snapshot-record.ts';

const KEEP_LAST_1: RetentionPolicy = {
  keepLast: 1,
  keepHourly: null,
  keepDaily: null,
  keepWeekly: null,
  keepMonthly: null,
  keepYearly: null,
  keepWithinMs: null,
};

function snap(id: string, time: string, tags: string[]): SnapshotWithId {
  return { ...snapshotRecord({ time, tags }), id };
}

describe('retention, forget and prune wired once', () => {
  it('keeps each partition on its own; without a partition one group decides', () => {
    const snaps = [
      snap('a1', '2026-01-01T00:00:00Z', ['plan:a']),
      snap('a2', '2026-01-02T00:00:00Z', ['plan:a']),
      snap('b1', '2026-01-03T00:00:00Z', ['plan:b']),
      snap('b2', '2026-01-04T00:00:00Z', ['plan:b']),
    ];
    const byPlan = chooseByPolicy(snaps, KEEP_LAST_1, {
      groupBy: [],
      partition: (s) => tagValue(s.tags, 'plan') ?? '',
    });
    assert.deepEqual(byPlan.remove.sort(), ['a1', 'b1']);
    assert.equal(byPlan.groups.length, 2);
    const one = chooseByPolicy(snaps, KEEP_LAST_1, { groupBy: [] });
    assert.deepEqual(one.remove.sort(), ['a1', 'a2', 'b1']);
  });

  it('a dry run removes nothing; a real run forgets, reports, then prunes', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-forget-policy-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const src = path.join(dir, 'src');
    fs.mkdirSync(src);
    const repo = await Repository.init(new LocalBackend(path.join(dir, 'repo')), 'pw', {
      kdf: { N: 1024, r: 8, p: 1 },
    });
    t.after(() => repo.close());
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      fs.writeFileSync(path.join(src, 'f'), randomBytes(`f${i}`, 200_000));
      ids.push((await backup(repo, { paths: [src] })).id);
    }
    const lock = await RepoLock.acquire(repo, true);
    t.after(() => lock.release());
    const old = ids.slice(0, 2);

    const seen: string[][] = [];
    const dry = await forgetAndPrune(repo, old, { dryRun: true, prune: {}, forgotten: (r) => seen.push(r) });
    assert.deepEqual(dry.removed, []);
    assert.equal(dry.prune?.dryRun, true);
    assert.ok(dry.prune!.bytes.removed > 0, 'the preview counts the data of the snapshots it would forget');
    assert.equal((await listSnapshots(repo)).length, 3);

    const real = await forgetAndPrune(repo, old, { prune: { maxUnusedFraction: 0 }, forgotten: (r) => seen.push(r) });
    assert.deepEqual(real.removed.sort(), [...old].sort());
    assert.deepEqual(seen, [[], real.removed]);
    assert.ok(real.prune!.bytes.removed > 0);
    assert.deepEqual(
      (await listSnapshots(repo)).map((s) => s.id),
      [ids[2]],
    );

    const none = await forgetAndPrune(repo, [], { prune: {} });
    assert.deepEqual(none, { removed: [], prune: null }, 'nothing chosen: no prune');
  });
});
