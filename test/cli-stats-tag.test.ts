// safehold stats and tag through the real CLI. stats: restore size summed
// over snapshots, raw data counted once (two backups of the same data: a
// deduplication ratio of 2), per snapshot, the repository's totals only for
// the whole repository. tag: add, remove, set and clear rewrite the snapshot
// (new id, old file gone, first id kept in `original`, catalog following),
// an unchanged snapshot keeps its id, dry runs change nothing, filters,
// bad flag combinations (exit 2) and the exclusive lock (exit 11).

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { makeSandbox, show } from './helpers/cli.ts';
import type { Sandbox } from './helpers/cli.ts';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { RepoLock } from '../src/repo/lock.ts';
import { loadSnapshot } from '../src/repo/snapshot.ts';
import { Catalog } from '../src/catalog/catalog.ts';

const SIZES = [100_000, 250_000, 7];
const TOTAL = SIZES.reduce((a, b) => a + b, 0);

describe('safehold stats and tag', () => {
  let sb: Sandbox;
  let src: string;
  const ids: string[] = [];

  before(async () => {
    sb = makeSandbox('safehold-stats-tag-');
    await sb.init();
    src = path.join(sb.dir, 'src');
    fs.mkdirSync(path.join(src, 'd'), { recursive: true });
    SIZES.forEach((n, i) => fs.writeFileSync(path.join(src, i === 0 ? `f${i}` : `d/f${i}`), crypto.randomBytes(n)));
    for (const tag of ['one', 'two']) {
      const r = await sb.run(['backup', src, '--tag', tag, '--force', '--json']);
      assert.equal(r.code, 0, show(r));
      ids.push(r.json().snapshot);
    }
  });
  after(() => sb.cleanup());

  const snapshots = async () => {
    const r = await sb.run(['snapshots', '--json']);
    assert.equal(r.code, 0, show(r));
    return r.json<{ id: string; tags: string[]; original?: string }[]>();
  };

  it('stats of the whole repository: restore size summed, raw data once, dedup 2x, repository totals', async () => {
    const r = await sb.run(['stats', '--json', '--per-snapshot']);
    assert.equal(r.code, 0, show(r));
    const s = r.json();
    assert.equal(s.snapshots, 2);
    assert.equal(s.restore.files, 6);
    assert.equal(s.restore.bytes, 2 * TOTAL);
    assert.equal(s.raw.dataBytes, TOTAL);
    assert.equal(s.dedupRatio, 2);
    assert.ok(s.raw.bytes > s.raw.dataBytes, 'trees count in raw data');
    assert.ok(s.raw.storedBytes > 0 && s.compressionRatio > 0);
    assert.ok(s.repository.packs > 0 && s.repository.packBytes >= s.raw.storedBytes);
    assert.deepEqual(
      s.perSnapshot.map((p: { id: string; restore: { bytes: number }; raw: { dataBytes: number } }) => [
        p.id,
        p.restore.bytes,
        p.raw.dataBytes,
      ]),
      ids.map((id) => [id, TOTAL, TOTAL]),
    );
  });

  it('stats of one snapshot (by filter or id) has no repository totals; human output', async () => {
    const r = await sb.run(['stats', '--tag', 'one', '--json']);
    assert.equal(r.code, 0, show(r));
    const s = r.json();
    assert.equal(s.snapshots, 1);
    assert.equal(s.restore.bytes, TOTAL);
    assert.equal(s.dedupRatio, 1);
    assert.equal(s.repository, undefined);
    const h = await sb.run(['stats', ids[1]!.slice(0, 8)]);
    assert.equal(h.code, 0, show(h));
    assert.match(h.stdout, /Restore size: +\d/);
    assert.match(h.stdout, /Deduplication: +1\.00x/);
  });

  it('tag --add rewrites the snapshot: new id, old file gone, original kept, catalog follows', async () => {
    const r = await sb.run(['tag', ids[0]!.slice(0, 8), '--add', 'keep,audit', '--json']);
    assert.equal(r.code, 0, show(r));
    const [c] = r.json().snapshots;
    assert.equal(c.old, ids[0]);
    assert.notEqual(c.id, ids[0]);
    assert.deepEqual(c.tags, ['one', 'keep', 'audit']);
    assert.equal(fs.existsSync(path.join(sb.repo, 'snapshots', ids[0]!)), false);
    const after1 = await snapshots();
    assert.deepEqual(
      after1.map((s) => s.id),
      [c.id, ids[1]],
    );
    const repo = await Repository.open(new LocalBackend(sb.repo), sb.password);
    const snap = await loadSnapshot(repo, c.id);
    assert.equal(snap.original, ids[0]);
    const catalog = Catalog.open(sb.data);
    try {
      const recs = catalog.listSnapshots().map((s) => [s.id, s.tags]);
      assert.deepEqual(recs.find(([id]) => id === c.id)?.[1], ['one', 'keep', 'audit']);
      assert.equal(
        recs.some(([id]) => id === ids[0]),
        false,
      );
    } finally {
      catalog.close();
    }
    // A second change keeps the first id in `original`.
    const again = await sb.run(['tag', c.id, '--remove', 'audit', '--json']);
    assert.equal(again.code, 0, show(again));
    const next = again.json().snapshots[0];
    assert.deepEqual(next.tags, ['one', 'keep']);
    assert.equal((await loadSnapshot(repo, next.id)).original, ids[0]);
    ids[0] = next.id;
  });

  it('an unchanged snapshot keeps its id; --dry-run changes nothing; --set and --set clear', async () => {
    const same = await sb.run(['tag', ids[1]!, '--add', 'two', '--json']);
    assert.equal(same.code, 0, show(same));
    assert.deepEqual(same.json().snapshots[0], {
      old: ids[1],
      id: ids[1],
      before: ['two'],
      tags: ['two'],
      changed: false,
    });
    const dry = await sb.run(['tag', '--all', '--set', 'x', '--dry-run', '--json']);
    assert.equal(dry.code, 0, show(dry));
    assert.equal(dry.json().snapshots.filter((s: { changed: boolean }) => s.changed).length, 2);
    assert.deepEqual(
      (await snapshots()).map((s) => s.id),
      ids,
    );
    const set = await sb.run(['tag', '--tag', 'two', '--set', 'weekly', '--json']);
    assert.equal(set.code, 0, show(set));
    assert.deepEqual(set.json().snapshots[0].tags, ['weekly']);
    const clear = await sb.run(['tag', '--all', '--set', '']);
    assert.equal(clear.code, 0, show(clear));
    assert.match(clear.stdout, /changed 2 of 2 snapshots/);
    assert.deepEqual(
      (await snapshots()).map((s) => s.tags),
      [[], []],
    );
  });

  it('refuses bad combinations (exit 2) and a held exclusive lock (exit 11)', async () => {
    for (const args of [
      ['tag', 'latest'],
      ['tag', '--add', 'x'],
      ['tag', 'latest', '--set', 'a', '--add', 'b'],
      ['tag', 'latest', '--all', '--add', 'x'],
      ['tag', 'latest', '--add', ''],
    ]) {
      const r = await sb.run([...args, '--json']);
      assert.equal(r.code, 2, `${args.join(' ')}: ${show(r)}`);
      assert.equal(r.json().error.code, 'USAGE');
    }
    const repo = await Repository.open(new LocalBackend(sb.repo), sb.password);
    const lock = await RepoLock.acquire(repo, false);
    try {
      const r = await sb.run(['tag', 'latest', '--add', 'x']);
      assert.equal(r.code, 11, show(r));
    } finally {
      await lock.release();
    }
  });
});
