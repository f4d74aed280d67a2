// zstd bombs in a hostile repository: 512 MiB of zeros compress to ~16 KiB.
// Sealed as a data blob declaring a 16 KiB rawLength (with and without the
// content size in the frame header), as an index file, as snapshot files and
// as the config, each is refused as CORRUPT by the readers (loadBlob, check
// --read-data in its worker threads, loadIndex, check, listing snapshots,
// opening) within a fraction of a second, and the process's peak memory does
// not grow by anything like the bomb's size. Writers refuse a small file
// larger than readers accept.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { isSafeholdError } from '../../src/core/errors.ts';
import type { ErrorCode, SafeholdError } from '../../src/core/errors.ts';
import { LocalBackend } from '../../src/repo/backend/local-backend.ts';
import { Repository } from '../../src/repo/repository.ts';
import { fileId, seal } from '../../src/repo/crypto.ts';
import { sealBlob } from '../../src/repo/pack.ts';
import { frameContentSize } from '../../src/repo/encoding.ts';
import { listSnapshots } from '../../src/repo/snapshot.ts';
import { check } from '../../src/engine/check/checker.ts';

const PW = 'pw';
const KDF = { N: 1024, r: 8, p: 1 };
const MiB = 1024 * 1024;
const BOMB = 512 * MiB;
const DECLARED = 16 * 1024;
/** Far below the bomb: what decoding may cost at most, with room for the test's own noise. */
const MEMORY_BUDGET = 96 * MiB;
/**
 * CPU time (all threads) decoding may take: inflating a bomb costs far more.
 * CPU time, not wall time, so a loaded machine does not fail the test.
 */
const CPU_BUDGET_MS = 1000;

/** 512 MiB of zeros as one zstd frame, built 1 MiB at a time; `declare` writes the size into the header. */
async function zeroBomb(declare: boolean): Promise<Buffer> {
  const z = zlib.createZstdCompress(declare ? { pledgedSrcSize: BOMB } : {});
  const parts: Buffer[] = [];
  z.on('data', (c: Buffer) => parts.push(c));
  const ended = once(z, 'end');
  const zeros = Buffer.alloc(MiB);
  for (let i = 0; i < BOMB / MiB; i++) if (!z.write(zeros)) await once(z, 'drain');
  z.end();
  await ended;
  return Buffer.concat(parts);
}

/** Peak resident memory so far, in bytes (it only grows, so it catches a peak freed again). */
const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

/** Runs `fn` and asserts it stayed within the time and memory budget; returns its result or what it threw. */
async function bounded<T>(what: string, fn: () => Promise<T>): Promise<{ value?: T; error?: unknown }> {
  const rss = peakRss();
  const cpu = process.cpuUsage();
  let out: { value?: T; error?: unknown };
  try {
    out = { value: await fn() };
  } catch (error) {
    out = { error };
  }
  const used = process.cpuUsage(cpu);
  const ms = (used.user + used.system) / 1000;
  const grew = peakRss() - rss;
  assert.ok(ms < CPU_BUDGET_MS, `${what}: took ${Math.round(ms)} ms of CPU`);
  assert.ok(grew < MEMORY_BUDGET, `${what}: peak memory grew by ${Math.round(grew / MiB)} MiB`);
  return out;
}

function assertCode(e: unknown, code: ErrorCode, message: RegExp): asserts e is SafeholdError {
  assert.ok(isSafeholdError(e, code), `expected ${code}, got ${String((e as Error)?.stack ?? e)}`);
  assert.match(e.message, message);
}

let declared: Buffer;
let undeclared: Buffer;
before(async () => {
  [declared, undeclared] = [await zeroBomb(true), await zeroBomb(false)];
  assert.ok(declared.length < 64 * 1024 && undeclared.length < 64 * 1024, 'the bombs are small');
  assert.equal(frameContentSize(declared), BOMB, 'one frame header says 512 MiB');
  assert.equal(frameContentSize(undeclared), undefined, 'the other says nothing');
});

function tempRepoDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-bomb-'));
}

describe('zstd bombs as blobs', () => {
  let dir: string;
  let repo: Repository;
  const good = Buffer.from('an ordinary blob that compresses '.repeat(200));
  let goodId: string;
  const bombs: { name: string; id: string }[] = [];

  before(async () => {
    dir = tempRepoDir();
    const writer = await Repository.init(new LocalBackend(path.join(dir, 'repo')), PW, { kdf: KDF });
    goodId = (await writer.saveBlob('data', good)).id;
    for (const [name, frame] of [
      ['declared', declared],
      ['undeclared', undeclared],
    ] as const) {
      const id = crypto.randomBytes(32).toString('hex');
      await writer.addSealed('data', id, sealBlob(writer.key.encrypt, id, frame), DECLARED);
      bombs.push({ name, id });
    }
    await writer.flush();
    await writer.close();
    repo = await Repository.open(new LocalBackend(path.join(dir, 'repo')), PW);
    await repo.loadIndex();
  });
  after(async () => {
    await repo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loadBlob refuses a bomb at its declared rawLength (header content size or not)', async () => {
    assert.deepEqual(await repo.loadBlob('data', goodId), good, 'an ordinary blob still loads');
    for (const b of bombs) {
      const { error } = await bounded(`loadBlob ${b.name}`, () => repo.loadBlob('data', b.id));
      assertCode(
        error,
        'CORRUPT',
        new RegExp(`^blob ${b.id.slice(0, 12)}: decompresses to more than its declared length \\(16\\.0 KiB\\)`),
      );
    }
  });

  it('check --read-data (worker threads) reports each bomb as an error', async () => {
    const { value, error } = await bounded('check --read-data', () => check(repo, { readData: true }));
    assert.equal(error, undefined, String((error as Error)?.stack));
    assert.equal(value!.ok, false);
    for (const b of bombs) {
      assert.ok(
        value!.errors.some((p) =>
          p.message.includes(`blob ${b.id.slice(0, 12)}: decompresses to more than its declared length`),
        ),
        `${b.name} reported: ${JSON.stringify(value!.errors)}`,
      );
    }
  });
});

describe('zstd bombs as small files', () => {
  let dir: string;
  let backend: LocalBackend;
  let repo: Repository;

  /** Seals `frame` as a small file of `type` the way encodeObject would seal compressed JSON. */
  async function plant(type: 'index' | 'snapshots', frame: Buffer): Promise<string> {
    const bytes = seal(repo.key.encrypt, frame, Buffer.from(type));
    const name = fileId(bytes);
    await backend.save({ type, name }, bytes);
    return name;
  }

  before(async () => {
    dir = tempRepoDir();
    backend = new LocalBackend(path.join(dir, 'repo'));
    repo = await Repository.init(backend, PW, { kdf: KDF });
  });
  after(async () => {
    await repo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('an index file that declares 512 MiB: loadIndex and check refuse it at once', async () => {
    const name = await plant('index', declared);
    try {
      const reader = await Repository.open(backend, PW);
      const { error } = await bounded('loadIndex', () => reader.loadIndex());
      assertCode(
        error,
        'CORRUPT',
        new RegExp(`^index/${name.slice(0, 12)}: decompresses to more than the index file limit \\(256\\.0 MiB\\)`),
      );
      const { value } = await bounded('check', () => check(reader, {}));
      assert.equal(value!.ok, false);
      assert.ok(
        value!.errors.some((p) => /decompresses to more than the index file limit/.test(p.message)),
        JSON.stringify(value!.errors),
      );
    } finally {
      await backend.remove({ type: 'index', name });
    }
  });

  for (const kind of ['declared', 'undeclared'] as const) {
    it(`a snapshot file that inflates to 512 MiB (${kind} in its header): listing snapshots fails with CORRUPT`, async () => {
      const name = await plant('snapshots', kind === 'declared' ? declared : undeclared);
      try {
        const { error } = await bounded('listSnapshots', () => listSnapshots(repo));
        assertCode(
          error,
          'CORRUPT',
          new RegExp(
            `^snapshots/${name.slice(0, 12)}: decompresses to more than the snapshots file limit \\(16\\.0 MiB\\)`,
          ),
        );
      } finally {
        await backend.remove({ type: 'snapshots', name });
      }
    });
  }

  it('writers refuse a small file larger than readers accept, and write nothing', async () => {
    await assert.rejects(
      repo.saveFile('locks', { pad: 'x'.repeat(MiB) }),
      (e) =>
        isSafeholdError(e, 'INTERNAL') &&
        /^locks file would be 1\.00 MiB, more than the 1\.00 MiB a reader accepts; nothing was written$/.test(
          e.message,
        ),
    );
    assert.deepEqual(await backend.list('locks'), []);
  });

  it('a config that inflates to 512 MiB: opening fails with CORRUPT (run last: the repository is gone)', async () => {
    await backend.save({ type: 'config', name: 'config' }, seal(repo.key.encrypt, undeclared, Buffer.from('config')));
    const { error } = await bounded('Repository.open', () => Repository.open(backend, PW));
    assertCode(error, 'CORRUPT', /^config: decompresses to more than the config file limit \(1\.00 MiB\)/);
  });
});
