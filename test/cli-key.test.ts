// safehold key list|add|remove through the real CLI: a key added for a new
// password opens the same data; the key in use is never removed (a clear
// refusal, the key file still there); another key is removed by id prefix
// and its password stops working; unknown ids; a malformed key file is
// listed with why it is skipped. In-process: the last usable key is kept
// even when the key in use has gone.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { makeSandbox, show } from './helpers/cli.ts';
import type { Sandbox } from './helpers/cli.ts';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { addKey, listKeys, removeKey } from '../src/repo/key-admin.ts';

interface Key {
  id: string;
  current: boolean;
  hostname: string | null;
  problem: string | null;
}

describe('safehold key list|add|remove', () => {
  let sb: Sandbox;
  const other = 'the second password';

  before(async () => {
    sb = makeSandbox('safehold-key-');
    await sb.init();
    const src = path.join(sb.dir, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'a.txt'), 'kept under every key\n');
    const r = await sb.run(['backup', src, '--json']);
    assert.equal(r.code, 0, show(r));
  });
  after(() => sb.cleanup());

  const keys = async (password = sb.password) => {
    const r = await sb.run(['key', 'list', '--json'], { env: { SAFEHOLD_PASSWORD: password } });
    assert.equal(r.code, 0, show(r));
    return r.json<Key[]>();
  };

  it('lists the one key as the current one', async () => {
    const k = await keys();
    assert.equal(k.length, 1);
    assert.equal(k[0]!.current, true);
    assert.equal(k[0]!.problem, null);
    assert.match(k[0]!.id, /^[0-9a-f]{64}$/);
    const h = await sb.run(['key', 'list']);
    assert.match(h.stdout, new RegExp(`\\*\\s+${k[0]!.id.slice(0, 8)}`));
  });

  it('adds a key: both passwords open the same snapshots', async () => {
    const r = await sb.run(['key', 'add', '--json'], { env: { SAFEHOLD_NEW_PASSWORD: other } });
    assert.equal(r.code, 0, show(r));
    const added = r.json().key as string;
    const mine = await keys();
    assert.equal(mine.length, 2);
    assert.equal(mine.find((k) => k.id === added)?.current, false);
    const theirs = await keys(other);
    assert.equal(theirs.find((k) => k.id === added)?.current, true);
    const a = await sb.run(['snapshots', '--json']);
    const b = await sb.run(['snapshots', '--json'], { env: { SAFEHOLD_PASSWORD: other } });
    assert.deepEqual(a.json(), b.json());
  });

  it('refuses to remove the key in use, and removes another by prefix', async () => {
    const [current, second] = await keys();
    const refused = await sb.run(['key', 'remove', current!.id.slice(0, 10), '--json']);
    assert.equal(refused.code, 1, show(refused));
    assert.equal(refused.json().error.code, 'FORBIDDEN');
    assert.match(refused.json().error.message, /key in use/);
    assert.ok(fs.existsSync(path.join(sb.repo, 'keys', current!.id)));
    const removed = await sb.run(['key', 'remove', second!.id.slice(0, 10), '--json']);
    assert.equal(removed.code, 0, show(removed));
    assert.equal(removed.json().removed, second!.id);
    const gone = await sb.run(['snapshots', '--json'], { env: { SAFEHOLD_PASSWORD: other } });
    assert.equal(gone.code, 12, show(gone));
    assert.equal((await keys()).length, 1);
  });

  it('unknown and malformed ids; bad usage', async () => {
    const none = await sb.run(['key', 'remove', 'ffffffff', '--json']);
    assert.equal(none.code, 1, show(none));
    assert.equal(none.json().error.code, 'NOT_FOUND');
    const bad = await sb.run(['key', 'remove', 'not-hex']);
    assert.equal(bad.code, 1, show(bad));
    for (const args of [['key'], ['key', 'remove'], ['key', 'list', 'extra'], ['key', 'frobnicate']]) {
      const r = await sb.run(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${show(r)}`);
    }
  });

  it('lists a malformed key file with why it is skipped', async () => {
    const junk = path.join(sb.repo, 'keys', 'ab'.repeat(32));
    fs.writeFileSync(junk, 'not json at all');
    try {
      const k = await keys();
      const j = k.find((x) => x.id === 'ab'.repeat(32));
      assert.equal(j?.problem, 'not JSON');
      assert.equal(j?.current, false);
      assert.equal(k[0]!.current, true);
    } finally {
      fs.rmSync(junk);
    }
  });

  it('keeps the last usable key, even when the key in use has gone (in process)', async () => {
    const repo = await Repository.open(new LocalBackend(sb.repo), sb.password);
    const spare = await addKey(repo, 'spare', { N: 1024, r: 8, p: 1 });
    fs.rmSync(path.join(sb.repo, 'keys', repo.keyName));
    try {
      await assert.rejects(removeKey(repo, spare.slice(0, 12)), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'FORBIDDEN');
        assert.match(e.message, /last usable key/);
        return true;
      });
      assert.deepEqual(
        (await listKeys(repo)).map((k) => k.id),
        [spare],
      );
    } finally {
      await addKey(repo, sb.password);
    }
  });
});
