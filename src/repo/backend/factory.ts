// The one backend factory: a repository location (a local path today; URLs
// such as s3:// and sftp:// name the remote backends to come) gives its
// backend. Every command, plan and restore opens repositories through here.

import path from 'node:path';
import { SafeholdError } from '../../core/errors.ts';
import type { Backend } from './backend.ts';
import { LocalBackend } from './local-backend.ts';

export function openBackend(location: string): Backend {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
    throw new SafeholdError(
      'USAGE',
      `repository ${redactLocation(location)}: only local directories are supported so far`,
    );
  }
  return new LocalBackend(path.resolve(location));
}

/** Hides credentials in URL-like locations. */
export function redactLocation(location: string): string {
  return location.replace(/\/\/[^@/]*@/, '//***@');
}
