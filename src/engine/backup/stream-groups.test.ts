// Group blobs on a real repository in a temp directory: a stream stored with
// groupBytes keeps its new chunks in groups (one blob, many members); it
// restores byte for byte through the restorer and the stream reader, also
// from a fresh handle; a second version deduplicates chunk by chunk; check
// --read-data verifies every member and finds a damaged one; forget + prune
// keep exactly the groups a snapshot needs; a copy to another repository
// regroups the members there and verifies them.

import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { Repository } from '../../repo/repository.ts';
import { LocalBackend } from '../../repo/backend/local-backend.ts';
import { RepoLock } from '../../repo/lock.ts';
import { findSnapshot, listSnapshots } from '../../repo/snapshot.ts';
import { loadTree } from '../../repo/tree.ts';
import { backupStream } from './stream-archiver.ts';
import { openStreamSnapshot } from '../restore/stream-reader.ts';
import { restore } from '../restore/restorer.ts';
import { check } from '../check/checker.ts';
import { forget } from '../maintenance/forget.ts';
import { prune } from '../maintenance/prune.ts';
import { copySnapshots } from '../copy/copy.ts';

const KDF = { N: 1024, r: 8, p: 1 };
const CHUNKER = { minSize: 2 * 1024, avgSize: 8 * 1024, maxSize: 32 * 1024 };
const GROUP = 64 * 1024;
const PASSWORD = 'groups test';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-groups-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** pgbench-like rows with some content (a hash of the row number); `changed` rows (by number) get another balance. */
function dump(rows: number, changed: (i: number) => boolean = () => false): Buffer {
  const lines: string[] = [];
  for (let i = 1; i <= rows; i++) {
    const filler = crypto.createHash('md5').update(String(i)).digest('hex');
    lines.push(`${i}\t${1 + (i >> 14)}\t${changed(i) ? (i * 7919) % 100_000 : 0}\t${filler}${' '.repeat(20)}\n`);
  }
  return Buffer.from(lines.join(''));
}

async function newRepo(name: string): Promise<{ dir: string; repo: Repository }> {
  const dir = path.join(root, name);
  return {
    dir,
    repo: await Repository.init(new LocalBackend(dir), PASSWORD, { kdf: KDF, chunker: CHUNKER, packSize: 256 * 1024 }),
  };
}

async function store(repo: Repository, data: Buffer, groupBytes = GROUP) {
  const before = repo.added.bytes;
  const r = await backupStream(repo, Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), {
    filename: 'db.dump',
    chunker: CHUNKER,
    compression: 'dump',
    groupBytes,
  });
  return { ...r, added: repo.added.bytes - before };
}

async function readBack(repoDir: string, id: string): Promise<Buffer> {
  const repo = await Repository.open(new LocalBackend(repoDir), PASSWORD);
  const snap = await findSnapshot(repo, id);
  return buffer((await openStreamSnapshot(repo, snap)).stream);
}

async function restored(repo: Repository, tree: string, name: string): Promise<Buffer> {
  const target = path.join(root, `restore-${name}`);
  await restore(repo, tree, { target });
  return fs.readFileSync(path.join(target, 'db.dump'));
}

async function checkErrors(repoDir: string): Promise<string[]> {
  const res = await check(await Repository.open(new LocalBackend(repoDir), PASSWORD), { readData: true });
  return res.errors.map((e) => `${e.object}: ${e.message}`);
}

const v1 = dump(40_000);
// Clustered change: 2 runs of 300 rows.
const v2 = dump(40_000, (i) => (i > 10_000 && i <= 10_300) || (i > 30_000 && i <= 30_300));

describe('group blobs (streams stored with groupBytes)', () => {
  it('stores new chunks in groups, restores byte for byte (restorer, stream reader, fresh handle) and passes check --read-data', async () => {
    const { dir, repo } = await newRepo('basic');
    const r = await store(repo, v1);
    const content = (await loadTree(repo, r.snapshot.tree)).nodes[0]!.content!;
    assert.ok(content.length > 100, `${content.length} chunks`);
    assert.ok(repo.added.blobs < content.length / 4, `${repo.added.blobs} blobs stored for ${content.length} chunks`);
    const members = [...repo.index.members()];
    assert.ok(members.length >= content.length - repo.added.blobs, `${members.length} members indexed`);
    assert.deepEqual(await restored(repo, r.snapshot.tree, 'basic'), v1);
    assert.deepEqual(await readBack(dir, r.id), v1);
    assert.deepEqual(await checkErrors(dir), []);
  });

  it('groups store less than chunks compressed one by one, and a second version deduplicates chunk by chunk', async () => {
    const alone = await newRepo('alone');
    const a1 = await store(alone.repo, v1, 0);
    const { dir, repo } = await newRepo('versions');
    const g1 = await store(repo, v1);
    assert.ok(g1.added < a1.added * 0.9, `grouped ${g1.added} vs alone ${a1.added}`);
    const g2 = await store(repo, v2);
    assert.ok(g2.added < g1.added * 0.1, `second version added ${g2.added} of ${g1.added}`);
    assert.deepEqual(await restored(repo, g2.snapshot.tree, 'v2'), v2);
    assert.deepEqual(await readBack(dir, g1.id), v1);
    assert.deepEqual(await checkErrors(dir), []);
  });

  it('check finds a member outside its group, and with --read-data a member whose bytes do not match its id', async () => {
    const { dir, repo } = await newRepo('damaged');
    await store(repo, v1);
    const [id, m] = [...repo.index.members()][0]!;
    const groupLength = repo.index.get('data', m.group)!.rawLength;
    // Extra index files: a member placed past the end of its group, and a made-up id on real bytes.
    const fakeId = 'ab'.repeat(32);
    await repo.saveFile('index', {
      version: 1,
      packs: [],
      members: [
        { id: 'cd'.repeat(32), group: m.group, start: groupLength - 10, length: 20 },
        { id: fakeId, group: m.group, start: m.start, length: m.length },
      ],
    });
    const errs = await checkErrors(dir);
    assert.ok(
      errs.some((e) => e.includes(`blob ${'cd'.repeat(6)}`) && e.includes('outside its group')),
      errs.join('\n'),
    );
    assert.ok(
      errs.some((e) => e.includes(`blob ${fakeId.slice(0, 12)}`) && e.includes('does not match its id')),
      errs.join('\n'),
    );
    assert.ok(!errs.some((e) => e.includes(id.slice(0, 12))), 'the real member is fine');
  });

  it('forget + prune keeps exactly the groups the remaining snapshot needs', async () => {
    const { dir, repo } = await newRepo('prune');
    const g1 = await store(repo, v1);
    const g2 = await store(repo, v2);
    // A third, unrelated stream whose groups become unused.
    const other = await store(
      repo,
      dump(20_000, (i) => i % 3 === 0),
    );
    const lock = await RepoLock.acquire(repo, true);
    try {
      await forget(repo, [g1.id, other.id]);
      const stats = await prune(repo, { maxUnusedFraction: 0 });
      assert.ok(stats.packs.deleted + stats.packs.repacked > 0, JSON.stringify(stats.packs));
    } finally {
      await lock.release();
    }
    assert.deepEqual(
      (await listSnapshots(repo)).map((s) => s.id),
      [g2.id],
    );
    assert.deepEqual(await checkErrors(dir), []);
    assert.deepEqual(await readBack(dir, g2.id), v2);
    const fresh = await Repository.open(new LocalBackend(dir), PASSWORD);
    await fresh.loadIndex();
    assert.ok([...fresh.index.members()].length > 0, 'the new index lists the kept groups\u2019 members');
  });

  it('copy regroups the members in the destination (under its own ids), verifies them, and stores about as much', async () => {
    const src = await newRepo('copy-src');
    const g1 = await store(src.repo, v1);
    const dst = await newRepo('copy-dst');
    const res = await copySnapshots(src.repo, dst.repo, { snapshots: await listSnapshots(src.repo) });
    assert.equal(res.snapshots.length, 1);
    assert.equal(res.snapshots[0]!.verified, true, 'read back from the destination, members included');
    const copied = (await listSnapshots(dst.repo))[0]!;
    assert.notEqual(copied.id, g1.id);
    const content = (await loadTree(dst.repo, copied.tree)).nodes[0]!.content!;
    const fresh = await Repository.open(new LocalBackend(dst.dir), PASSWORD);
    await fresh.loadIndex();
    assert.ok(
      [...fresh.index.members()].length >= content.length / 2,
      'most chunks are members of groups in the destination',
    );
    assert.ok(
      dst.repo.added.bytes < g1.added * 1.1,
      `copy stored ${dst.repo.added.bytes} bytes, the source ${g1.added}`,
    );
    assert.deepEqual(await readBack(dst.dir, copied.id), v1);
    assert.deepEqual(await checkErrors(dst.dir), []);
  });
});
