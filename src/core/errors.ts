// The one error type of Safehold: a stable machine-readable `code`, a human
// message, an optional `cause`, and whether retrying the same call may help.
// Whoever knows the failure decides `retryable`; the CLI and API map codes to
// exit codes and HTTP statuses in one place each.

export type ErrorCode =
  | 'USAGE'
  | 'CONFIG'
  | 'REPO_NOT_FOUND'
  | 'REPO_EXISTS'
  | 'ALREADY_EXISTS'
  | 'REPO_UNREADABLE'
  | 'WRONG_PASSWORD'
  | 'NO_PASSWORD'
  | 'LOCKED'
  | 'NO_SPACE'
  | 'NOT_FOUND'
  | 'AMBIGUOUS'
  | 'PATH_NOT_FOUND'
  | 'RESTORE_TARGET'
  | 'UNSAFE_PATH'
  | 'FORBIDDEN'
  | 'CORRUPT'
  | 'IO'
  | 'CANCELLED'
  | 'RUNBOOK_NOT_FOUND'
  | 'RUNBOOK_RUN_NOT_FOUND'
  | 'RUNBOOK_STATE'
  | 'RUNBOOK_FORBIDDEN'
  | 'RUNBOOK_STEP_FAILED'
  | 'PRECONDITION_FAILED'
  | 'INTERNAL';

export class SafeholdError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    opts: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'SafeholdError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.details = opts.details;
  }
}

export function isSafeholdError(e: unknown, code?: ErrorCode): e is SafeholdError {
  return e instanceof SafeholdError && (code === undefined || e.code === code);
}

/** Node system error codes (ENOENT, ENOSPC, ...) or undefined. */
export function sysCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof (e as { code: unknown }).code === 'string'
    ? (e as { code: string }).code
    : undefined;
}

/** A short human reason for a failed file read: 'no such file', 'permission denied', ... */
export function readFailureReason(e: unknown): string {
  const code = sysCode(e);
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a directory';
  return e instanceof Error ? e.message : String(e);
}

/** Wraps an operating-system error from file I/O into a SafeholdError with a clear message. */
export function fromSystemError(e: unknown, what: string): SafeholdError {
  if (e instanceof SafeholdError) return e;
  const code = sysCode(e);
  if (code === 'ENOSPC' || code === 'EDQUOT')
    return new SafeholdError('NO_SPACE', `${what}: no space left on device`, { cause: e });
  if (code === 'ENOENT') return new SafeholdError('PATH_NOT_FOUND', `${what}: no such file or directory`, { cause: e });
  if (code === 'EACCES' || code === 'EPERM') return new SafeholdError('IO', `${what}: permission denied`, { cause: e });
  const msg = e instanceof Error ? e.message : String(e);
  return new SafeholdError('IO', `${what}: ${msg}`, { cause: e, retryable: code === 'EAGAIN' || code === 'EBUSY' });
}
