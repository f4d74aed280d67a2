// Tests of key files: changing the password replaces the key file but keeps
// the master key (data saved before stays readable), several key files open
// the same repository until one is removed, and bad key files are skipped.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Repository } from './repository.ts';
import { unlock, writeKeyFile } from './keys.ts';
import type { KeyFile } from './keys.ts';
import { MemoryBackend } from './backend/memory-backend.ts';
import { LocalBackend } from './backend/local-backend.ts';
import type { Backend } from './backend/backend.ts';
import { fileId } from './crypto.ts';
import { isSafeholdError } from '../core/errors.ts';

const KDF = { N: 1024, r: 8, p: 1 };
const wrong = (e: unknown): boolean => isSafeholdError(e, 'WRONG_PASSWORD');

async function keyNames(b: Backend): Promise<string[]> {
  return (await b.list('keys')).map((f) => f.name).sort();
}

describe('key files', () => {
  it('changePassword: the old password fails, the new one opens the same master key', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-keys-'));
    try {
      const b = new LocalBackend(path.join(root, 'repo'));
      const repo = await Repository.init(b, 'old password', { kdf: KDF });
      const data = Buffer.from('saved under the old password '.repeat(100));
      const { id } = await repo.saveBlob('data', data);
      await repo.flush();
      const oldKey = repo.keyName;
      assert.deepEqual(await keyNames(b), [oldKey]);

      const newKey = await repo.changePassword('new password', KDF);
      assert.notEqual(newKey, oldKey);
      assert.deepEqual(await keyNames(b), [newKey], 'the old key file is removed');

      await assert.rejects(Repository.open(b, 'old password'), wrong);
      const again = await Repository.open(b, 'new password');
      assert.equal(again.keyName, newKey);
      assert.deepEqual(again.key, repo.key, 'master key unchanged');
      assert.deepEqual(again.config, repo.config);
      await again.loadIndex();
      assert.deepEqual(await again.loadBlob('data', id), data, 'a blob saved before decodes after');
      // And the file on disk is a readable JSON key file named by its SHA-256.
      const raw = fs.readFileSync(path.join(root, 'repo', 'keys', newKey));
      assert.equal(fileId(raw), newKey);
      const kf = JSON.parse(raw.toString()) as KeyFile;
      assert.deepEqual({ kdf: kf.kdf, N: kf.N, r: kf.r, p: kf.p }, { kdf: 'scrypt', ...KDF });
      assert.ok(!raw.toString().includes(repo.key.encrypt.toString('base64')), 'master key not stored in the clear');
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('changing the password twice keeps working (each change removes the key used to open)', async () => {
    const b = new MemoryBackend();
    const repo = await Repository.init(b, 'one', { kdf: KDF });
    await repo.changePassword('two', KDF);
    const r2 = await Repository.open(b, 'two');
    await r2.changePassword('three', KDF);
    assert.equal((await keyNames(b)).length, 1);
    for (const pw of ['one', 'two']) await assert.rejects(Repository.open(b, pw), wrong);
    assert.deepEqual((await Repository.open(b, 'three')).key, repo.key);
  });

  it('two key files both open the repository until one is removed', async () => {
    const b = new MemoryBackend();
    const repo = await Repository.init(b, 'alice', { kdf: KDF });
    const second = await writeKeyFile(b, repo.key, 'bob', KDF);
    assert.equal((await keyNames(b)).length, 2);

    const a = await unlock(b, 'alice');
    const c = await unlock(b, 'bob');
    assert.equal(a.name, repo.keyName);
    assert.equal(c.name, second);
    assert.deepEqual(a.master, repo.key);
    assert.deepEqual(c.master, repo.key);
    assert.deepEqual((await Repository.open(b, 'bob')).config, repo.config);
    await assert.rejects(unlock(b, 'carol'), wrong);

    await b.remove({ type: 'keys', name: repo.keyName });
    await assert.rejects(Repository.open(b, 'alice'), wrong);
    assert.deepEqual((await Repository.open(b, 'bob')).key, repo.key);
  });

  it('changePassword from a second key removes only that key', async () => {
    const b = new MemoryBackend();
    const repo = await Repository.init(b, 'alice', { kdf: KDF });
    await writeKeyFile(b, repo.key, 'bob', KDF);
    const bob = await Repository.open(b, 'bob');
    await bob.changePassword('bob2', KDF);
    await assert.doesNotReject(Repository.open(b, 'alice'));
    await assert.doesNotReject(Repository.open(b, 'bob2'));
    await assert.rejects(Repository.open(b, 'bob'), wrong);
  });

  it('skips key files that are not JSON or have bad parameters', async () => {
    const b = new MemoryBackend();
    const repo = await Repository.init(b, 'pw', { kdf: KDF });
    await b.save({ type: 'keys', name: '00garbage' }, Buffer.from('not json'));
    await b.save({ type: 'keys', name: '01badkdf' }, Buffer.from(JSON.stringify({ kdf: 'argon2', N: 1, r: 1, p: 1 })));
    await b.save({ type: 'keys', name: '02noint' }, Buffer.from(JSON.stringify({ kdf: 'scrypt', N: 'x', r: 8, p: 1 })));
    assert.deepEqual((await unlock(b, 'pw')).master, repo.key);
    await assert.rejects(unlock(b, 'other'), wrong);
  });

  it('a key file with changed data does not open (WRONG_PASSWORD, not a crash)', async () => {
    const b = new MemoryBackend();
    const repo = await Repository.init(b, 'pw', { kdf: KDF });
    const kf = JSON.parse((await b.load({ type: 'keys', name: repo.keyName })).toString()) as KeyFile;
    const data = Buffer.from(kf.data, 'base64');
    data[data.length >> 1]! ^= 1;
    await b.save(
      { type: 'keys', name: repo.keyName },
      Buffer.from(JSON.stringify({ ...kf, data: data.toString('base64') })),
    );
    await assert.rejects(Repository.open(b, 'pw'), wrong);
  });

  it('a repository without key files is reported as CORRUPT', async () => {
    const b = new MemoryBackend();
    const repo = await Repository.init(b, 'pw', { kdf: KDF });
    await b.remove({ type: 'keys', name: repo.keyName });
    await assert.rejects(Repository.open(b, 'pw'), (e: unknown) => isSafeholdError(e, 'CORRUPT'));
  });
});
