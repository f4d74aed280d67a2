// The one policy for tests that need root (mounting a tmpfs, owning files as
// another user, running a child as another user): without root they skip,
// and the reason the test runner prints says what root was needed for
// ('needs root to mount tmpfs'). A root that may not mount (a container
// without CAP_SYS_ADMIN) skips with the mount's own error.

import { execFileSync } from 'node:child_process';
import type { TestContext } from 'node:test';

export const isRoot = process.getuid?.() === 0;

/** Skips the test with the reason 'needs root to WHY' unless running as root. True when skipped: the test returns. */
export function skipUnlessRoot(t: TestContext, why: string): boolean {
  if (isRoot) return false;
  t.skip(`needs root to ${why}`);
  return true;
}

/**
 * Mounts a tmpfs of `size` ('3m') on the existing directory `dir` and returns
 * the function that unmounts it; or skips the test with the reason (not root,
 * or the mount was refused) and returns null.
 */
export function mountTmpfsOrSkip(t: TestContext, dir: string, size: string): (() => void) | null {
  if (skipUnlessRoot(t, 'mount tmpfs')) return null;
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    t.skip(`cannot mount tmpfs: ${firstLine(e)}`);
    return null;
  }
  return () => execFileSync('umount', [dir], { stdio: 'pipe' });
}

function firstLine(e: unknown): string {
  const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
  return (stderr || (e instanceof Error ? e.message : String(e))).split('\n')[0]!;
}
