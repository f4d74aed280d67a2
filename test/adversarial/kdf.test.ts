// Hostile key files: a repository holds, next to its real key file, key files
// that ask scrypt for a terabyte of memory, absurd r and p, N that is not a
// power of two, wrong field types, a file too large, and one whose sealed
// master key is not a master key. Opening still works with the real key and
// names the skipped ones; with a wrong password it is WRONG_PASSWORD naming
// them; with only hostile key files it is CORRUPT naming them. All of it
// quickly and without the memory the parameters ask for.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isSafeholdError } from '../../src/core/errors.ts';
import type { ErrorCode, SafeholdError } from '../../src/core/errors.ts';
import { LocalBackend } from '../../src/repo/backend/local-backend.ts';
import type { Backend } from '../../src/repo/backend/backend.ts';
import { Repository } from '../../src/repo/repository.ts';
import { writeKeyFile } from '../../src/repo/keys.ts';
import type { KeyFile, SkippedKey } from '../../src/repo/keys.ts';
import { DEFAULT_KDF, deriveKey, fileId, kdfProblem, seal } from '../../src/repo/crypto.ts';
import { makeSandbox, show } from '../helpers/cli.ts';

const PW = 'the right password';
const KDF = { N: 1024, r: 8, p: 1 };
const KEY_AAD = Buffer.from('safehold-key-v1');
const MiB = 1024 * 1024;

/** Peak resident memory so far, in bytes (it only grows, so it catches a peak freed again). */
const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

/** Runs `fn`, returning what it threw (or undefined), how long it took and how much the peak RSS grew. */
async function measured(fn: () => Promise<unknown>): Promise<{ error: unknown; ms: number; grew: number }> {
  const rss = peakRss();
  const t = performance.now();
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  return { error, ms: performance.now() - t, grew: peakRss() - rss };
}

function assertCode(e: unknown, code: ErrorCode): asserts e is SafeholdError {
  assert.ok(isSafeholdError(e, code), `expected ${code}, got ${String((e as Error)?.stack ?? e)}`);
}

async function saveKeyBytes(b: Backend, bytes: Buffer): Promise<string> {
  const name = fileId(bytes);
  await b.save({ type: 'keys', name }, bytes);
  return name;
}

describe('hostile key files', () => {
  let dir: string;
  let backend: LocalBackend;
  let repo: Repository;
  let good: string;
  /** Hostile key file name → what its skip reason must say. */
  const hostile = new Map<string, RegExp>();
  /** The hostile file that opens with the right password (a wrong one simply does not open it). */
  let opensWithPw: string;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-kdf-'));
    backend = new LocalBackend(path.join(dir, 'repo'));
    repo = await Repository.init(backend, PW, { kdf: KDF });
    good = repo.keyName;
    const kf = JSON.parse((await backend.load({ type: 'keys', name: good })).toString()) as KeyFile;
    const forge = async (value: unknown, reason: RegExp) => {
      hostile.set(await saveKeyBytes(backend, Buffer.from(JSON.stringify(value, null, 2))), reason);
    };
    // The real key's salt and data with hostile parameters: scrypt would be asked for them as they are.
    await forge({ ...kf, N: 2 ** 30 }, /N must be a power of two from 2\^10 to 2\^20 \(it is 1073741824\)/);
    await forge({ ...kf, r: 1e6, p: 1e6 }, /r must be from 1 to 32/);
    await forge({ ...kf, p: 1e6 }, /p must be from 1 to 16/);
    await forge({ ...kf, N: 1000 }, /N must be a power of two/);
    await forge({ ...kf, N: 1 }, /N must be a power of two/);
    await forge({ ...kf, N: 2 ** 16, r: 1 }, /N must be below 2\^\(16·r\)/);
    await forge({ ...kf, N: '1024' }, /N, r and p must be integers/);
    await forge({ ...kf, N: 1.5 }, /N, r and p must be integers/);
    await forge({ ...kf, salt: 12345 }, /salt is not base64/);
    await forge({ ...kf, salt: 'c2hvcnQ=' }, /salt is not base64 of 16 to 1024 bytes/);
    await forge({ ...kf, data: {} }, /data is not base64/);
    await forge({ ...kf, data: 'not*base64' }, /data is not base64/);
    await forge({ ...kf, kdf: 'argon2' }, /kdf is not "scrypt"/);
    await forge(null, /not a JSON object/);
    await forge([kf], /not a JSON object/);
    hostile.set(await saveKeyBytes(backend, Buffer.from('{"kdf": "scrypt", ')), /not JSON/);
    // A valid key file padded past 64 KiB: not even read.
    hostile.set(
      await saveKeyBytes(backend, Buffer.from(JSON.stringify(kf) + ' '.repeat(70 * 1024))),
      /larger than 64\.0 KiB/,
    );
    // Opens with the right password, but what it wraps is not a master key.
    const salt = crypto.randomBytes(32);
    const wrap = await deriveKey(PW, salt, KDF);
    await forge(
      {
        ...kf,
        salt: salt.toString('base64'),
        data: seal(wrap, Buffer.from('{"encrypt": 1'), KEY_AAD).toString('base64'),
      },
      /the password opens it, but the master key inside is malformed/,
    );
    opensWithPw = [...hostile.keys()].at(-1)!;
  });
  after(async () => {
    await repo.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the repository opens with the good key; every malformed file (and any failing before it) is reported, not fatal', async () => {
    const listed = (await backend.list('keys')).map((f) => f.name);
    assert.equal(listed.length, hostile.size + 1);
    // Malformed files are all found before any key is derived; the one that only fails once opened counts if tried first.
    const before = listed.slice(0, listed.indexOf(good));
    const tried = [...hostile.keys()].filter((n) => n !== opensWithPw || before.includes(n)).sort();
    let opened: Repository | undefined;
    const r = await measured(async () => {
      opened = await Repository.open(backend, PW);
    });
    assert.equal(r.error, undefined, `opened without error: ${String((r.error as Error)?.stack)}`);
    assert.equal(opened!.keyName, good);
    assert.deepEqual(opened!.key, repo.key);
    assert.deepEqual(opened!.skippedKeys.map((s) => s.name).sort(), tried, 'every malformed key file is reported');
    for (const s of opened!.skippedKeys) assert.match(s.reason, hostile.get(s.name)!, s.name);
    assert.ok(r.ms < 2000, `took ${Math.round(r.ms)} ms`);
    assert.ok(r.grew < 64 * MiB, `peak memory grew by ${Math.round(r.grew / MiB)} MiB`);
  });

  it('a wrong password tries every file: WRONG_PASSWORD, with each hostile file skipped for its reason', async () => {
    const r = await measured(() => Repository.open(backend, 'not the password'));
    assertCode(r.error, 'WRONG_PASSWORD');
    const skipped = (r.error.details?.skippedKeys ?? []) as SkippedKey[];
    const expected = [...hostile.keys()].filter((n) => n !== opensWithPw);
    assert.deepEqual(skipped.map((s) => s.name).sort(), expected.sort());
    for (const s of skipped) assert.match(s.reason, hostile.get(s.name)!, s.name);
    assert.match(
      r.error.message,
      new RegExp(`^wrong password or no key found for it; ${expected.length} key files skipped: [0-9a-f]{12} \\(`),
    );
    assert.match(r.error.message, new RegExp(`, and ${expected.length - 5} more$`), 'a long list is shortened');
    assert.ok(r.ms < 2000, `took ${Math.round(r.ms)} ms`);
    assert.ok(r.grew < 64 * MiB, `peak memory grew by ${Math.round(r.grew / MiB)} MiB`);
  });

  it('with only hostile key files left, opening fails with CORRUPT naming them', async () => {
    const saved = await backend.load({ type: 'keys', name: good });
    await backend.remove({ type: 'keys', name: good });
    try {
      const r = await measured(() => Repository.open(backend, PW));
      assertCode(r.error, 'CORRUPT');
      assert.match(r.error.message, new RegExp(`^no usable key file in .*: ${hostile.size} key files skipped: `));
      const skipped = (r.error.details?.skippedKeys ?? []) as SkippedKey[];
      assert.deepEqual(skipped.map((s) => s.name).sort(), [...hostile.keys()].sort());
      assert.ok(r.ms < 2000, `took ${Math.round(r.ms)} ms`);
      assert.ok(r.grew < 64 * MiB, `peak memory grew by ${Math.round(r.grew / MiB)} MiB`);
    } finally {
      await backend.save({ type: 'keys', name: good }, saved);
    }
  });
});

describe('scrypt parameter bounds', () => {
  it('accepts the default and the edges, refuses memory over 256 MiB and work over 2^24', () => {
    for (const ok of [
      DEFAULT_KDF,
      KDF,
      { N: 2 ** 20, r: 2, p: 1 },
      { N: 2 ** 15, r: 1, p: 1 },
      { N: 2 ** 17, r: 8, p: 16 },
      { N: 2 ** 10, r: 32, p: 16 },
    ]) {
      assert.equal(kdfProblem(ok), undefined, JSON.stringify(ok));
    }
    assert.match(
      kdfProblem({ N: 2 ** 20, r: 4, p: 1 })!,
      /scrypt would need 512\.0 MiB of memory, more than 256\.0 MiB/,
    );
    assert.match(kdfProblem({ N: 2 ** 18, r: 16, p: 1 })!, /memory/);
    assert.match(kdfProblem({ N: 2 ** 18, r: 8, p: 16 })!, /scrypt work N·r·p is 33554432, more than 2\^24/);
    assert.match(kdfProblem({ N: 2 ** 9, r: 8, p: 1 })!, /N must be a power of two from 2\^10/);
    assert.match(kdfProblem({ N: 2 ** 21, r: 1, p: 1 })!, /N must be a power of two from 2\^10 to 2\^20/);
    assert.match(kdfProblem({ N: 1024, r: 0, p: 1 })!, /r must be from 1/);
    assert.match(kdfProblem({ N: 1024, r: 8, p: 0 })!, /p must be from 1/);
    assert.match(kdfProblem({ N: 1024, r: 8 })!, /must be integers/);
  });

  it('a key file is never written with parameters a reader would skip', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-kdf-'));
    try {
      const b = new LocalBackend(path.join(dir, 'repo'));
      const repo = await Repository.init(b, PW, { kdf: KDF });
      await assert.rejects(
        writeKeyFile(b, repo.key, 'weak', { N: 512, r: 8, p: 1 }),
        (e) => isSafeholdError(e, 'INTERNAL') && /N must be a power of two from 2\^10/.test(e.message),
      );
      await assert.rejects(
        repo.changePassword('huge', { N: 2 ** 20, r: 8, p: 1 }),
        (e) => isSafeholdError(e, 'INTERNAL') && /memory/.test(e.message),
      );
      assert.deepEqual(
        (await b.list('keys')).map((f) => f.name),
        [repo.keyName],
        'nothing written, nothing removed',
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('hostile key files on the command line', () => {
  it('a command still opens the repository and warns which key files it skipped', async () => {
    const sb = makeSandbox('safehold-kdf-cli-');
    try {
      await sb.init();
      const hostile = Buffer.from(
        JSON.stringify({
          kdf: 'scrypt',
          N: 2 ** 30,
          r: 8,
          p: 1,
          salt: crypto.randomBytes(16).toString('base64'),
          data: crypto.randomBytes(64).toString('base64'),
        }),
      );
      const name = await saveKeyBytes(new LocalBackend(sb.repo), hostile);
      const r = await sb.run(['snapshots', '--json']);
      assert.equal(r.code, 0, show(r));
      assert.match(r.stderr, new RegExp(`warning: key file ${name.slice(0, 12)} skipped: .*N must be a power of two`));
      assert.deepEqual(JSON.parse(r.stdout), []);
    } finally {
      sb.cleanup();
    }
  });
});
