// A configured repository destination by name, and its backend and
// repository opened: the one place a destination's location (local, s3:…,
// sftp:…) and its backend options go to the backend factory; its password
// comes from the config. A run passes its log, which then tells each retry
// of a failed request.

import type { Config, RepositoryDestination } from '../../config/types.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { Clock } from '../../core/clock.ts';
import { openBackend } from '../../repo/backend/factory.ts';
import { describeRetry } from '../../repo/backend/retrying-backend.ts';
import type { Backend } from '../../repo/backend/backend.ts';
import { Repository } from '../../repo/repository.ts';

/** Where a retry of a failed request is told (a run's log), when anywhere. */
export type RetryLog = (msg: string, level: 'warn') => void;

/** The backend of a repository destination (local or remote), with its configured options. */
export function openDestinationBackend(dest: RepositoryDestination, log?: RetryLog): Backend {
  const opts = dest.backendOptions;
  if (!log) return openBackend(dest.location, opts);
  return openBackend(dest.location, {
    ...opts,
    retry: { ...opts.retry, onRetry: (e) => log(describeRetry(e), 'warn') },
  });
}

export function openDestinationRepo(dest: RepositoryDestination, clock: Clock, log?: RetryLog): Promise<Repository> {
  return Repository.open(openDestinationBackend(dest, log), dest.password.value, clock);
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
