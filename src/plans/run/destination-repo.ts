// Opens the repository of a configured repository destination (its
// location through the one backend factory, its password from the config).

import type { RepositoryDestination } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import { openBackend } from '../../repo/backend/factory.ts';
import { Repository } from '../../repo/repository.ts';

export function openDestinationRepo(dest: RepositoryDestination, clock: Clock): Promise<Repository> {
  return Repository.open(openBackend(dest.path), dest.password.value, clock);
}
