// Tests of the destination checks (S3 steps 3 and 4) on real directories and,
// as root, a real tmpfs mount of known size.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { RepositoryDestination } from '../../config/types.ts';
import { checkFreeSpace, checkReachable, isMountPoint } from './destination-checks.ts';

const CONFIG_FILE = '/etc/safehold.yaml';

function dest(p: string, over: Partial<RepositoryDestination> = {}): RepositoryDestination {
  return {
    type: 'repository',
    name: 'local',
    path: p,
    location: p,
    remote: null,
    backendOptions: {},
    password: { source: 'inline', value: 'x' },
    requireMount: false,
    minFree: null,
    site: null,
    ...over,
  };
}

describe('destination checks', () => {
  it('refuses a missing path, a file, and an uninitialised directory, and accepts a repository', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-dest-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    assert.match(
      ((await checkReachable(dest(path.join(dir, 'nope')), CONFIG_FILE)) as { reason: string }).reason,
      /not reachable: ENOENT/,
    );
    fs.writeFileSync(path.join(dir, 'file'), '');
    assert.match(
      ((await checkReachable(dest(path.join(dir, 'file')), CONFIG_FILE)) as { reason: string }).reason,
      /not a directory/,
    );
    assert.equal(
      ((await checkReachable(dest(dir), CONFIG_FILE)) as { reason: string }).reason,
      `destination local (${dir}) is not initialised: run 'safehold init --config /etc/safehold.yaml --destination local'`,
    );
    fs.writeFileSync(path.join(dir, 'config'), 'x');
    assert.deepEqual(await checkReachable(dest(dir), CONFIG_FILE), { ok: true });
    assert.match(
      ((await checkReachable(dest(dir, { requireMount: true }), CONFIG_FILE)) as { reason: string }).reason,
      /not mounted/,
    );
  });

  it('with requireMount accepts a mounted file system, and measures its free space', async (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to mount tmpfs');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-mnt-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
    t.after(() => {
      execFileSync('umount', [dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    assert.ok(isMountPoint(dir));
    fs.writeFileSync(path.join(dir, 'config'), 'x');
    assert.deepEqual(await checkReachable(dest(dir, { requireMount: true }), CONFIG_FILE), { ok: true });
    assert.deepEqual(checkFreeSpace(dest(dir, { minFree: { bytes: 1024 * 1024 } })), { ok: true });
    assert.match(
      (checkFreeSpace(dest(dir, { minFree: { bytes: 8 * 1024 * 1024 } })) as { reason: string }).reason,
      /below the threshold of 8.00 MiB/,
    );
    fs.writeFileSync(path.join(dir, 'fill'), Buffer.alloc(3 * 1024 * 1024));
    assert.match(
      (checkFreeSpace(dest(dir, { minFree: { fraction: 0.5 } })) as { reason: string }).reason,
      /below the threshold of 50 %/,
    );
    assert.deepEqual(checkFreeSpace(dest(dir, { minFree: { fraction: 0.1 } })), { ok: true });
  });
});
