// The one mapping from error codes to process exit codes (documented in docs/cli.md).

import type { ErrorCode } from '../core/errors.ts';

export const EXIT = { ok: 0, error: 1, usage: 2, partial: 3, repoNotFound: 10, locked: 11, wrongPassword: 12, interrupted: 130 } as const;

export function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'USAGE': return EXIT.usage;
    case 'REPO_NOT_FOUND': return EXIT.repoNotFound;
    case 'LOCKED': return EXIT.locked;
    case 'WRONG_PASSWORD': return EXIT.wrongPassword;
    case 'CANCELLED': return EXIT.interrupted;
    default: return EXIT.error;
  }
}
