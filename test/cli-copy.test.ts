// safehold copy through the real CLI: a round trip from one repository to
// another (restored byte for byte from the copy), --tag selection,
// idempotent re-runs, the --json shape, the destination password from a
// file, and the exit codes when either repository is wrong, missing or
// locked. Also init --copy-chunker-params-from.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildSampleTree, compareTrees, makeSandbox, show } from './helpers/cli.ts';
import type { Sandbox } from './helpers/cli.ts';
import { Repository } from '../src/repo/repository.ts';
import { LocalBackend } from '../src/repo/backend/local-backend.ts';
import { RepoLock } from '../src/repo/lock.ts';

describe('safehold copy', () => {
  let a: Sandbox;
  let b: Sandbox;
  let src: string;
  /** Runs the CLI on repository a, with b's password for the destination. */
  const copy = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    a.run(['copy', '--to', b.repo, ...args], { env: { SAFEHOLD_TO_PASSWORD: b.password, ...env } });
  const snapshotsOf = async (sb: Sandbox) => {
    const r = await sb.run(['snapshots', '--json']);
    assert.equal(r.code, 0, show(r));
    return r.json<{ id: string; tree: string; tags: string[]; original?: string; originalRepo?: string }[]>();
  };

  before(async () => {
    a = makeSandbox('safehold-copy-a-');
    b = makeSandbox('safehold-copy-b-');
    await a.init();
    await b.init();
    src = path.join(a.dir, 'src');
    buildSampleTree(src);
    for (const tag of ['daily', 'weekly']) {
      const r = await a.run(['backup', src, '--tag', tag, '--json']);
      assert.equal(r.code, 0, show(r));
      if (tag === 'daily') fs.writeFileSync(path.join(src, 'small.txt'), 'changed after the daily backup\n');
    }
  });
  after(() => {
    a.cleanup();
    b.cleanup();
  });

  it('copies the tagged snapshot, then the rest; --json shape; the copy restores byte for byte', async () => {
    const [daily, weekly] = await snapshotsOf(a);
    const first = await copy(['--tag', 'daily', '--json']);
    assert.equal(first.code, 0, show(first));
    const doc = first.json();
    assert.deepEqual(Object.keys(doc).sort(), [
      'blobsCopied',
      'bytesCopied',
      'copied',
      'from',
      'mode',
      'skipped',
      'snapshots',
      'to',
    ]);
    assert.deepEqual([doc.from, doc.to, doc.mode, doc.copied, doc.skipped], [a.repo, b.repo, 'reidentify', 1, 0]);
    const s = doc.snapshots[0];
    assert.deepEqual(Object.keys(s).sort(), [
      'blobsCopied',
      'blobsRead',
      'bytesCopied',
      'copied',
      'source',
      'tree',
      'verified',
    ]);
    assert.equal(s.source, daily!.id);
    assert.match(s.copied, /^[0-9a-f]{64}$/);
    assert.equal(s.verified, true);
    assert.ok(s.bytesCopied > 3 * 1024 * 1024, 'the sample data was stored');
    assert.equal(doc.bytesCopied, s.bytesCopied);

    const rest = await copy([]);
    assert.equal(rest.code, 0, show(rest));
    assert.match(rest.stdout, new RegExp(`snapshot ${daily!.id.slice(0, 8)}: skipped \\(already copied\\)`));
    assert.match(
      rest.stdout,
      new RegExp(`snapshot ${weekly!.id.slice(0, 8)} -> [0-9a-f]{8}: \\d+ blobs, .* added, verified`),
    );
    assert.match(rest.stdout, /1 copied, 1 skipped/);

    const inB = await snapshotsOf(b);
    assert.deepEqual(
      inB.map((x) => [x.original, x.tags]),
      [
        [daily!.id, ['daily']],
        [weekly!.id, ['weekly']],
      ],
    );
    assert.ok(inB.every((x) => x.originalRepo && x.originalRepo.length === 32));
    const target = path.join(b.dir, 'restored');
    const r = await b.run(['restore', inB[1]!.id, '--target', target]);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(compareTrees(src, path.join(target, src)), []);
    const ok = await b.run(['check', '--read-data', '--json']);
    assert.equal(ok.code, 0, show(ok));

    const again = await copy(['--json']);
    assert.equal(again.code, 0, show(again));
    assert.deepEqual([again.json().copied, again.json().skipped], [0, 2]);
  });

  it('takes the destination password from --to-password-file', async () => {
    const file = path.join(b.dir, 'pw');
    fs.writeFileSync(file, `${b.password}\n`);
    const r = await a.run(['copy', '--to', b.repo, '--to-password-file', file, 'latest', '--json']);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(
      r.json().snapshots.map((x: { skipped?: string }) => x.skipped),
      ['already copied'],
    );
  });

  it('exit 12 naming the repository whose password is wrong; 10 when the destination is missing', async () => {
    const wrongDst = await copy(['--json'], { SAFEHOLD_TO_PASSWORD: 'not-it' });
    assert.equal(wrongDst.code, 12, show(wrongDst));
    assert.equal(wrongDst.json().error.code, 'WRONG_PASSWORD');
    assert.match(wrongDst.stderr, new RegExp(`destination repository ${b.repo}: wrong password`));
    const wrongSrc = await copy([], { SAFEHOLD_PASSWORD: 'not-it' });
    assert.equal(wrongSrc.code, 12, show(wrongSrc));
    assert.match(wrongSrc.stderr, /source repository .*: wrong password/);
    const missing = await a.run(['copy', '--to', path.join(b.dir, 'nowhere'), '--json'], {
      env: { SAFEHOLD_TO_PASSWORD: b.password },
    });
    assert.equal(missing.code, 10, show(missing));
    assert.equal(missing.json().error.code, 'REPO_NOT_FOUND');
    assert.match(missing.stderr, /no destination repository at/);
    const noTo = await a.run(['copy']);
    assert.equal(noTo.code, 2, show(noTo));
  });

  it('exit 11 when the destination is locked exclusively, and nothing is copied', async () => {
    fs.writeFileSync(path.join(src, 'after.txt'), 'a third snapshot\n');
    assert.equal((await a.run(['backup', src])).code, 0);
    const repo = await Repository.open(new LocalBackend(b.repo), b.password);
    const lock = await RepoLock.acquire(repo, true);
    try {
      const r = await copy(['--json']);
      assert.equal(r.code, 11, show(r));
      assert.equal(r.json().error.code, 'LOCKED');
      assert.match(r.stderr, /destination repository .* is locked exclusively by pid/);
    } finally {
      await lock.release();
    }
    assert.equal((await snapshotsOf(b)).length, 2);
    const r = await copy(['--json']);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.json().copied, 1);
  });
});

describe('safehold init --copy-chunker-params-from', () => {
  it("takes the other repository's chunker parameters (its password named on error), not its keys", async (t) => {
    const a = makeSandbox('safehold-copy-init-');
    t.after(() => a.cleanup());
    await a.init();
    const c = path.join(a.dir, 'c');
    const wrong = await a.run(['init', '--repo', c, '--copy-chunker-params-from', a.repo, '--json'], {
      env: { SAFEHOLD_FROM_PASSWORD: 'not-it' },
    });
    assert.equal(wrong.code, 12, show(wrong));
    assert.match(wrong.stderr, new RegExp(`repository ${a.repo} \\(--copy-chunker-params-from\\): wrong password`));
    assert.ok(!fs.existsSync(path.join(c, 'config')), 'nothing was created');
    const missing = await a.run(['init', '--repo', c, '--copy-chunker-params-from', path.join(a.dir, 'nowhere')]);
    assert.equal(missing.code, 10, show(missing));

    const r = await a.run(['init', '--repo', c, '--copy-chunker-params-from', a.repo, '--json'], {
      env: { SAFEHOLD_FROM_PASSWORD: a.password, SAFEHOLD_PASSWORD: 'another-pw' },
    });
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(r.json().chunker, { minSize: 524288, avgSize: 1048576, maxSize: 8388608 });
    const ra = await Repository.open(new LocalBackend(a.repo), a.password);
    const rc = await Repository.open(new LocalBackend(c), 'another-pw');
    assert.deepEqual(rc.key.chunkerSeed, ra.key.chunkerSeed);
    assert.notDeepEqual(rc.key.encrypt, ra.key.encrypt);
    assert.notDeepEqual(rc.key.mac, ra.key.mac);
    assert.notEqual(rc.config.id, ra.config.id);
  });
});
