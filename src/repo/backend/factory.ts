// The one backend factory: a repository location gives its backend. A local
// path is a LocalBackend; `s3:` and `sftp:` locations are the remote
// backends, each wrapped in the same layers, innermost first: retries of
// transient faults, the rate limit, and the local metadata cache. Every
// command, plan and restore opens repositories through here, and
// redactLocation (redact-location.ts) is the one place that hides credentials in locations.

import { redactLocation } from './redact-location.ts';
import path from 'node:path';
import { SafeholdError } from '../../core/errors.ts';
import type { Backend } from './backend.ts';
import type { BackendOptions } from './backend-options.ts';
import { LocalBackend } from './local-backend.ts';
import { openS3 } from './s3-backend.ts';
import { openSftp } from './sftp-backend.ts';
import { RetryingBackend } from './retrying-backend.ts';
import { RateLimitedBackend } from './rate-limited-backend.ts';
import { CachedBackend, defaultCacheDir } from './cached-backend.ts';

export function openBackend(location: string, opts: BackendOptions = {}): Backend {
  if (location.startsWith('s3:')) return wrapRemote(openS3(location, opts), opts);
  if (location.startsWith('sftp:')) return wrapRemote(openSftp(location, opts), opts);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new SafeholdError(
      'USAGE',
      `repository ${redactLocation(location)}: unknown kind of location (use a local directory, s3:https://host/bucket[/prefix], s3:bucket[/prefix] or sftp:user@host:/path)`,
    );
  }
  return new LocalBackend(path.resolve(location));
}

/** Retries, then the rate limit, then the metadata cache around a remote backend. */
export function wrapRemote(remote: Backend, opts: BackendOptions = {}): Backend {
  let b: Backend = new RetryingBackend(remote, {
    ...opts.retry,
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  const { upload, download } = opts.rateLimit ?? {};
  if (upload || download) b = new RateLimitedBackend(b, { upload, download }, opts.clock);
  if (opts.cacheDir !== null) b = new CachedBackend(b, opts.cacheDir ?? defaultCacheDir(remote.location, opts.env));
  return b;
}

export { redactLocation };
