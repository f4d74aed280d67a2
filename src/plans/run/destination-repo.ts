// A configured repository destination by name, and its repository opened
// (its location through the one backend factory, its password from the config).

import type { Config, RepositoryDestination } from '../../config/types.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { Clock } from '../../core/clock.ts';
import { openBackend } from '../../repo/backend/factory.ts';
import { Repository } from '../../repo/repository.ts';

export function openDestinationRepo(dest: RepositoryDestination, clock: Clock): Promise<Repository> {
  return Repository.open(openBackend(dest.path), dest.password.value, clock);
}

/** The repository destination `name`: NOT_FOUND when unknown, USAGE when it is a directory destination. */
export function repositoryDestination(config: Config, name: string): RepositoryDestination {
  const d = config.destinations[name];
  if (!d) throw new SafeholdError('NOT_FOUND', `no destination '${name}' in ${config.file}`);
  if (d.type !== 'repository') throw new SafeholdError('USAGE', `'${name}' is not a repository destination`);
  return d;
}
