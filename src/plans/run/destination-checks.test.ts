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

function dest(p: string, over: Partial<RepositoryDestination> = {}): RepositoryDestination {
  return {
    type: 'repository',
    name: 'local',
    path: p,
    password: { source: 'inline', value: 'x' },
    requireMount: false,
    minFree: null,
    site: null,
    ...over,
  };
}

describe('destination checks', () => {
  it('refuses a missing path, a file, and an uninitialised directory, and accepts a repository', (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-dest-'));
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    assert.match((checkReachable(dest(path.join(dir, 'nope'))) as { reason: string }).reason, /not reachable: ENOENT/);
    fs.writeFileSync(path.join(dir, 'file'), '');
    assert.match((checkReachable(dest(path.join(dir, 'file'))) as { reason: string }).reason, /not a directory/);
    assert.match((checkReachable(dest(dir)) as { reason: string }).reason, /not an initialised repository/);
    fs.writeFileSync(path.join(dir, 'config'), 'x');
    assert.deepEqual(checkReachable(dest(dir)), { ok: true });
    assert.match((checkReachable(dest(dir, { requireMount: true })) as { reason: string }).reason, /not mounted/);
  });

  it('with requireMount accepts a mounted file system, and measures its free space', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to mount tmpfs');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-mnt-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', dir]);
    t.after(() => {
      execFileSync('umount', [dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    });
    assert.ok(isMountPoint(dir));
    fs.writeFileSync(path.join(dir, 'config'), 'x');
    assert.deepEqual(checkReachable(dest(dir, { requireMount: true })), { ok: true });
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
