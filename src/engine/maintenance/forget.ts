// Forget: removes snapshot files. Data the snapshots used stays until prune
// removes what no remaining snapshot needs. Like every deleting operation it
// runs under the exclusive repository lock, which the caller holds
// (requireExclusiveLock proves it, also for prune).

import os from 'node:os';
import type { Repository } from '../../repo/repository.ts';
import { listLocks } from '../../repo/lock.ts';
import { SafeholdError } from '../../core/errors.ts';
import { removeFiles } from '../../repo/backend/backend.ts';

/**
 * Removes the snapshots with these full ids, in parallel or in batches (each
 * removal is atomic; a crash midway leaves the others in place). Every id must exist: nothing is removed
 * otherwise. Returns the removed ids.
 */
export async function forget(repo: Repository, ids: readonly string[]): Promise<string[]> {
  await requireExclusiveLock(repo);
  const present = new Set((await repo.backend.list('snapshots')).map((f) => f.name));
  const missing = ids.filter((id) => !present.has(id));
  if (missing.length > 0)
    throw new SafeholdError('NOT_FOUND', `no snapshot with id ${missing.map((id) => id.slice(0, 12)).join(', ')}`);
  const unique = [...new Set(ids)];
  await removeFiles(
    repo.backend,
    unique.map((id) => ({ type: 'snapshots', name: id })),
  );
  return unique;
}

/** Fails unless this process holds a live exclusive lock on the repository. */
export async function requireExclusiveLock(repo: Repository): Promise<void> {
  const host = os.hostname();
  const held = (await listLocks(repo)).some(
    (l) => l.exclusive && !l.stale && l.pid === process.pid && l.hostname === host,
  );
  if (!held)
    throw new SafeholdError(
      'INTERNAL',
      'removing data needs the exclusive repository lock, and this process does not hold it',
    );
}
