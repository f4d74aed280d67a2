// Tests of archived WAL files (wal-file.ts) on a real Repository over a local
// directory: round trips, duplicate and conflicting stores (also concurrent
// ones), and that every kind of damage — a renamed file, a swapped header, a
// flipped byte anywhere, a truncated or extended file, another repository's
// file — is CORRUPT and never overwritten.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Repository } from './repository.ts';
import { LocalBackend } from './backend/local-backend.ts';
import {
  MAX_WAL_FILE_BYTES,
  encodeWalFile,
  listWalFiles,
  loadWalFile,
  removeWalFiles,
  storeWalFile,
  walContentHash,
  walFileHash,
} from './wal-file.ts';
import { isSafeholdError } from '../core/errors.ts';
import type { ErrorCode } from '../core/errors.ts';

const KDF = { N: 1024, r: 8, p: 1 };
const PW = 'wal file test password';
const SYSTEM = '7312345678901234567';
const SEGMENT = `${SYSTEM}-000000010000000000000003`;
const HISTORY = `${SYSTEM}-00000002.history`;
const MiB = 1024 * 1024;

const code =
  (c: ErrorCode, ...parts: string[]) =>
  (e: unknown): boolean => {
    assert.ok(isSafeholdError(e), `expected a SafeholdError, got ${String(e)}`);
    assert.equal(e.code, c, e.message);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" mentions ${p}`);
    return true;
  };

/** WAL-like content: records of varying bytes among runs of zeros and repeated page images. */
function walLike(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  const noise = crypto.createHash('sha256').update(`seed ${seed}`).digest();
  for (let at = 0; at < size; at += 8192) {
    const page = Math.floor(at / 8192);
    for (let i = 0; i < 2048 && at + i < size; i++) out[at + i] = noise[(i + page) % 32]! ^ (i & 0x0f);
    if (page % 7 === 0 && at + 2048 + 256 <= size) crypto.randomFillSync(out, at + 2048, 256);
  }
  return out;
}

const roots: string[] = [];
after(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

/** A new repository in a fresh temp directory; `dir` is the repository's directory. */
async function fresh(): Promise<{ repo: Repository; dir: string }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-wal-test-'));
  roots.push(root);
  const dir = path.join(root, 'repo');
  return { repo: await Repository.init(new LocalBackend(dir), PW, { kdf: KDF }), dir };
}

describe('WAL files in a repository', () => {
  let repo: Repository;
  let dir: string;
  const file = (name: string): string => path.join(dir, 'wal', name);
  before(async () => {
    ({ repo, dir } = await fresh());
  });

  it('a 16 MiB segment round-trips, compressed, encrypted, with its keyed hash in the header', async () => {
    const data = walLike(16 * MiB, 1);
    const start = performance.now();
    assert.equal(await storeWalFile(repo, SEGMENT, data), 'stored');
    const stored = performance.now() - start;
    const loaded = await loadWalFile(repo, SEGMENT);
    console.log(
      `# 16 MiB segment: stored in ${stored.toFixed(0)} ms, loaded in ${(performance.now() - start - stored).toFixed(0)} ms`,
    );
    assert.ok(loaded.equals(data), 'same content');
    const raw = fs.readFileSync(file(SEGMENT));
    assert.ok(raw.length < data.length / 4, `compressed (${raw.length} bytes)`);
    assert.equal(raw.subarray(0, 5).toString('latin1'), 'SHWL\x01', 'magic and version');
    assert.equal(raw.subarray(5, 37).toString('hex'), walContentHash(repo, data));
    assert.equal(raw.readUInt32LE(37), data.length);
    assert.equal(raw.indexOf(data.subarray(0, 64)), -1, 'no plaintext stored');
    assert.equal(await walFileHash(repo, SEGMENT), walContentHash(repo, data));
    assert.equal(walContentHash(repo, data), crypto.createHmac('sha256', repo.key.mac).update(data).digest('hex'));
  });

  it('small and empty files round-trip', async () => {
    const history = Buffer.from('1\t0/3000000\tno recovery target specified\n');
    assert.equal(await storeWalFile(repo, HISTORY, history), 'stored');
    assert.deepEqual(await loadWalFile(repo, HISTORY), history);
    const empty = `${SYSTEM}-000000010000000000000009.partial`;
    assert.equal(await storeWalFile(repo, empty, new Uint8Array(0)), 'stored');
    assert.equal((await loadWalFile(repo, empty)).length, 0);
    assert.equal(await storeWalFile(repo, empty, Buffer.alloc(0)), 'identical');
    await removeWalFiles(repo, [empty]);
  });

  it('storing the same content again is identical; different content is refused and the file kept', async () => {
    const before = fs.readFileSync(file(HISTORY));
    const history = Buffer.from('1\t0/3000000\tno recovery target specified\n');
    assert.equal(await storeWalFile(repo, HISTORY, history), 'identical');
    await assert.rejects(storeWalFile(repo, HISTORY, Buffer.from('1\t0/4000000\tsomething else\n')), (e: unknown) => {
      code('ALREADY_EXISTS', HISTORY, 'different content', 'refusing to overwrite')(e);
      assert.equal((e as { retryable: boolean }).retryable, false);
      assert.deepEqual((e as { details: unknown }).details, { name: HISTORY });
      return true;
    });
    assert.ok(fs.readFileSync(file(HISTORY)).equals(before), 'stored file unchanged');
    assert.deepEqual(await loadWalFile(repo, HISTORY), history);
  });

  it('missing files are NOT_FOUND', async () => {
    const missing = `${SYSTEM}-0000000100000000000000FF`;
    await assert.rejects(loadWalFile(repo, missing), code('NOT_FOUND', missing));
    await assert.rejects(walFileHash(repo, missing), code('NOT_FOUND', missing));
  });

  it('a file renamed to another name, or with a header from another file, is CORRUPT and not overwritten', async () => {
    const a = `${SYSTEM}-000000010000000000000010`;
    const b = `${SYSTEM}-000000010000000000000011`;
    const dataA = walLike(100_000, 10);
    const dataB = walLike(100_000, 11);
    await storeWalFile(repo, a, dataA);
    await storeWalFile(repo, b, dataB);
    const rawA = fs.readFileSync(file(a));
    const rawB = fs.readFileSync(file(b));
    fs.rmSync(file(b));
    fs.renameSync(file(a), file(b));
    await assert.rejects(loadWalFile(repo, b), code('CORRUPT', b));
    await assert.rejects(walFileHash(repo, b), code('CORRUPT', b));
    await assert.rejects(storeWalFile(repo, b, dataA), code('CORRUPT', b, 'refusing to overwrite'));
    await assert.rejects(storeWalFile(repo, b, dataB), code('CORRUPT', b, 'refusing to overwrite'));
    assert.ok(fs.readFileSync(file(b)).equals(rawA), 'not overwritten');
    // B's header and tag on A's content, and the other way round.
    fs.writeFileSync(file(a), Buffer.concat([rawB.subarray(0, 69), rawA.subarray(69)]));
    fs.writeFileSync(file(b), Buffer.concat([rawA.subarray(0, 69), rawB.subarray(69)]));
    await assert.rejects(loadWalFile(repo, a), code('CORRUPT', a));
    await assert.rejects(loadWalFile(repo, b), code('CORRUPT', b));
    await removeWalFiles(repo, [a, b]);
  });

  it('a flipped byte anywhere is CORRUPT; a damaged header is never overwritten', async () => {
    const name = `${SYSTEM}-000000010000000000000020`;
    const data = walLike(20_000, 20);
    await storeWalFile(repo, name, data);
    const good = fs.readFileSync(file(name));
    for (let i = 0; i < good.length; i++) {
      const bad = Buffer.from(good);
      bad[i]! ^= 1 << (i % 8);
      fs.writeFileSync(file(name), bad);
      await assert.rejects(loadWalFile(repo, name), code('CORRUPT', name), `byte ${i}`);
      if (i < 69) {
        await assert.rejects(walFileHash(repo, name), code('CORRUPT', name), `header byte ${i}`);
        await assert.rejects(storeWalFile(repo, name, data), code('CORRUPT', name), `store over header byte ${i}`);
        assert.ok(fs.readFileSync(file(name)).equals(bad), `byte ${i}: damaged file left as it was`);
      }
    }
    fs.writeFileSync(file(name), good);
    assert.ok((await loadWalFile(repo, name)).equals(data));
    await removeWalFiles(repo, [name]);
  });

  it('a truncated or extended file is CORRUPT', async () => {
    const name = `${SYSTEM}-000000010000000000000030`;
    const data = walLike(50_000, 30);
    await storeWalFile(repo, name, data);
    const good = fs.readFileSync(file(name));
    for (const n of [0, 4, 40, 68, 69, 70, 96, good.length - 1]) {
      fs.writeFileSync(file(name), good.subarray(0, n));
      await assert.rejects(loadWalFile(repo, name), code('CORRUPT', name), `cut to ${n}`);
      if (n < 69) await assert.rejects(walFileHash(repo, name), code('CORRUPT', name), `header cut to ${n}`);
    }
    fs.writeFileSync(file(name), Buffer.concat([good, Buffer.from([0])]));
    await assert.rejects(loadWalFile(repo, name), code('CORRUPT', name), 'one byte appended');
    await removeWalFiles(repo, [name]);
  });

  it("a file sealed with the key but a hash that is not its content's is CORRUPT", async () => {
    const name = `${SYSTEM}-000000010000000000000035`;
    const data = walLike(5000, 35);
    const wrong = Buffer.from(walContentHash(repo, walLike(5000, 36)), 'hex');
    await repo.backend.save({ type: 'wal', name }, encodeWalFile(repo.key, name, wrong, data));
    await assert.rejects(loadWalFile(repo, name), code('CORRUPT', name, 'does not match its hash'));
    await removeWalFiles(repo, [name]);
  });

  it("another repository's WAL file does not open (keys differ)", async () => {
    const other = await fresh();
    const name = `${SYSTEM}-000000010000000000000040`;
    const data = walLike(10_000, 40);
    await storeWalFile(other.repo, name, data);
    assert.notEqual(walContentHash(other.repo, data), walContentHash(repo, data), 'the hash is keyed');
    fs.copyFileSync(path.join(other.dir, 'wal', name), file(name));
    await assert.rejects(loadWalFile(repo, name), code('CORRUPT', name));
    await assert.rejects(storeWalFile(repo, name, data), code('CORRUPT', name));
    await removeWalFiles(repo, [name]);
  });

  it('lists by name with stored sizes, removes some (a missing name is fine)', async () => {
    const names = [0x53, 0x51, 0x52].map((n) => `${SYSTEM}-0000000100000000000000${n.toString(16).toUpperCase()}`);
    for (const [i, n] of names.entries()) await storeWalFile(repo, n, walLike(1000 + i, 50 + i));
    const listed = await listWalFiles(repo);
    assert.deepEqual(
      listed.map((f) => f.name),
      [HISTORY, SEGMENT, ...[...names].sort()].sort(),
    );
    for (const f of listed) assert.equal(f.size, fs.statSync(file(f.name)).size, f.name);
    await removeWalFiles(repo, [names[0]!, names[1]!, `${SYSTEM}-0000000100000000000000EE`]);
    await removeWalFiles(repo, []);
    assert.deepEqual(
      (await listWalFiles(repo)).map((f) => f.name),
      [HISTORY, SEGMENT, names[2]!].sort(),
    );
    await assert.rejects(loadWalFile(repo, names[0]!), code('NOT_FOUND'));
  });

  it('concurrent stores under one name: exactly one wins, the others are identical or refused', async () => {
    const name = `${SYSTEM}-000000010000000000000060`;
    const contents = Array.from({ length: 8 }, (_, i) => walLike(200_000 + i, 60 + i));
    const results = await Promise.allSettled(contents.map((c) => storeWalFile(repo, name, c)));
    const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
    assert.equal(winners.length, 1, `one store succeeds (got ${winners.length})`);
    assert.equal((results[winners[0]!] as PromiseFulfilledResult<string>).value, 'stored');
    for (const r of results) if (r.status === 'rejected') code('ALREADY_EXISTS', name)(r.reason);
    assert.ok((await loadWalFile(repo, name)).equals(contents[winners[0]!]!), "the winner's content is stored");

    const same = `${SYSTEM}-000000010000000000000061`;
    const data = walLike(300_000, 61);
    const outcomes = await Promise.all(Array.from({ length: 6 }, () => storeWalFile(repo, same, data)));
    assert.deepEqual([...outcomes].sort(), ['identical', 'identical', 'identical', 'identical', 'identical', 'stored']);
    assert.deepEqual(fs.readdirSync(path.join(dir, 'tmp')), [], 'no temp file left');
  });

  it('refuses a file over the size limit and an invalid name, writing nothing', async () => {
    const huge = new Uint8Array(MAX_WAL_FILE_BYTES + 1); // never touched: pages stay unallocated
    const name = `${SYSTEM}-000000010000000000000070`;
    await assert.rejects(
      storeWalFile(repo, name, huge),
      code('USAGE', name, `${MAX_WAL_FILE_BYTES + 1} bytes`, 'not archived'),
    );
    for (const bad of ['', '.hidden', 'a/b', '../config']) {
      await assert.rejects(storeWalFile(repo, bad, Buffer.from('x')), code('USAGE'), JSON.stringify(bad));
    }
    assert.ok(!fs.existsSync(file(name)));
  });
});

describe('WAL files in a repository made before they existed', () => {
  it('an old repository without wal/ lists none, and storing creates wal/', async () => {
    const { repo, dir } = await fresh();
    fs.rmdirSync(path.join(dir, 'wal'));
    assert.deepEqual(await listWalFiles(repo), []);
    await removeWalFiles(repo, [SEGMENT]);
    await assert.rejects(loadWalFile(repo, SEGMENT), code('NOT_FOUND'));
    const data = walLike(64 * 1024, 80);
    assert.equal(await storeWalFile(repo, SEGMENT, data), 'stored');
    assert.equal(fs.statSync(path.join(dir, 'wal')).mode & 0o777, 0o700);
    const again = await Repository.open(new LocalBackend(dir), PW);
    assert.ok((await loadWalFile(again, SEGMENT)).equals(data));
    assert.deepEqual(
      (await listWalFiles(again)).map((f) => f.name),
      [SEGMENT],
    );
  });
});
