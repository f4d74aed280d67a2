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

/** The command that creates the repository of destination `name` of the configuration `configFile`. */
export function initCommandFor(configFile: string, name: string): string {
  return `safehold init --config ${configFile} --destination ${name}`;
}

/** The repository destination `name`: NOT_FOUND (naming the known ones) when unknown, USAGE when it is a directory destination. */
export function repositoryDestination(config: Config, name: string): RepositoryDestination {
  const d = Object.hasOwn(config.destinations, name) ? config.destinations[name] : undefined;
  if (!d) {
    const known = Object.keys(config.destinations);
    throw new SafeholdError(
      'NOT_FOUND',
      `no destination '${name}' in ${config.file} (destinations: ${known.length > 0 ? known.join(', ') : 'none'})`,
    );
  }
  if (d.type !== 'repository')
    throw new SafeholdError(
      'USAGE',
      `destination '${name}' is a directory destination (generations of files in ${d.path}), not a repository`,
    );
  return d;
}
