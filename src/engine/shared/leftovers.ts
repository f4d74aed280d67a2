// What interrupted writers left in a repository's storage: temporary files
// older than any live writer's are removed at the start of a backup or copy.

import type { Repository } from '../../repo/repository.ts';

/** Age past which a temporary file can only be the leftover of a killed writer. */
const LEFTOVER_AGE_MS = 60 * 60 * 1000;

/** Removes what interrupted backups left behind (never a live writer's file: those are young). */
export async function removeLeftovers(repo: Repository): Promise<number> {
  return (await repo.backend.cleanTmp?.(LEFTOVER_AGE_MS, repo.clock.now())) ?? 0;
}
