// Turns what the AWS SDK throws into SafeholdErrors: a missing object is
// NOT_FOUND; refused credentials are one permanent error naming the endpoint
// and bucket (never the secret); server errors, throttling, resets and
// timeouts are retryable, so the retry layer above tries again; a body whose
// checksum does not match is "transport corruption", also retryable (the
// stored object may be fine: it is the transfer that went wrong).

import { SafeholdError } from '../../core/errors.ts';

/** What an error is about, for messages: e.g. 'loading data/ab12… from s3:https://host/bucket'. */
export interface S3ErrorContext {
  what: string;
  endpoint: string;
  bucket: string;
}

const NOT_FOUND_NAMES = new Set(['NoSuchKey', 'NotFound', 'NoSuchUpload']);
const CREDENTIAL_NAMES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'TokenRefreshRequired',
  'InvalidSecurity',
  'CredentialsProviderError',
  'AuthorizationHeaderMalformed',
]);
const RETRYABLE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeoutException',
  'ConditionalRequestConflict',
  'OperationAborted',
  'BadDigest',
  'XAmzContentSHA256Mismatch',
  'InvalidDigest',
  'IncompleteBody',
]);
const RETRYABLE_SYS = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

export function httpStatus(e: unknown): number | undefined {
  return (e as SdkErrorShape | null)?.$metadata?.httpStatusCode;
}

/** The S3 error code (NoSuchKey, SlowDown, …) or the Node/system error code. */
export function errorName(e: unknown): string {
  const s = (e ?? {}) as SdkErrorShape;
  return s.Code ?? (typeof s.code === 'string' ? s.code : undefined) ?? s.name ?? 'Error';
}

export function isNotFound(e: unknown): boolean {
  return httpStatus(e) === 404 || NOT_FOUND_NAMES.has(errorName(e));
}

/** How one key's error in a batch answer (DeleteObjects) counts. */
export function keyErrorKind(code: string | undefined): 'missing' | 'forbidden' | 'retryable' | 'permanent' {
  const name = code ?? 'InternalError';
  if (NOT_FOUND_NAMES.has(name)) return 'missing';
  if (CREDENTIAL_NAMES.has(name)) return 'forbidden';
  return RETRYABLE_NAMES.has(name) ? 'retryable' : 'permanent';
}

export function isPreconditionFailed(e: unknown): boolean {
  return httpStatus(e) === 412 || errorName(e) === 'PreconditionFailed';
}

/** A server's answer that it does not support a conditional PUT (If-None-Match): nothing was written. */
export function isConditionUnsupported(e: unknown): boolean {
  const status = httpStatus(e);
  if (status === 501 || errorName(e) === 'NotImplemented') return true;
  const message = (e as SdkErrorShape | null)?.message ?? '';
  return status === 400 && /if-none-match|conditional/i.test(`${errorName(e)} ${message}`);
}

export function isInvalidRange(e: unknown): boolean {
  return httpStatus(e) === 416 || errorName(e) === 'InvalidRange';
}

/** A checksum mismatch of a transfer: retryable, and said to be the transport's fault, not the repository's. */
export function transportCorruption(ctx: S3ErrorContext, detail: string): SafeholdError {
  return new SafeholdError('IO', `${ctx.what}: transport corruption (${detail}); the transfer will be retried`, {
    retryable: true,
    details: { transportCorruption: true },
  });
}

export function s3Error(e: unknown, ctx: S3ErrorContext): SafeholdError {
  if (e instanceof SafeholdError) return e;
  const name = errorName(e);
  const status = httpStatus(e);
  const where = `${ctx.endpoint}, bucket ${ctx.bucket}`;
  const message = sdkMessage(e);
  if (status === 403 || status === 401 || CREDENTIAL_NAMES.has(name)) {
    return new SafeholdError('FORBIDDEN', `${ctx.what}: access denied by ${where}: ${credentialReason(name)}`, {
      cause: e,
      details: { endpoint: ctx.endpoint, bucket: ctx.bucket, s3Code: name },
    });
  }
  if (name === 'NoSuchBucket') {
    return new SafeholdError('REPO_NOT_FOUND', `${ctx.what}: bucket ${ctx.bucket} does not exist at ${ctx.endpoint}`, {
      cause: e,
    });
  }
  if (/checksum mismatch/i.test(message)) return transportCorruption(ctx, message);
  const retryable =
    (status !== undefined && (status >= 500 || status === 429 || status === 408)) ||
    RETRYABLE_NAMES.has(name) ||
    RETRYABLE_SYS.has(name) ||
    (e as SdkErrorShape | null)?.$retryable !== undefined;
  const label = status === undefined ? name : `${name}, HTTP ${status}`;
  return new SafeholdError('IO', `${ctx.what} at ${where}: ${message} (${label})`, { cause: e, retryable });
}

function credentialReason(name: string): string {
  switch (name) {
    case 'InvalidAccessKeyId':
      return 'the access key id is not known to the server (InvalidAccessKeyId); check the credentials';
    case 'SignatureDoesNotMatch':
      return 'the request signature does not match (SignatureDoesNotMatch): the secret access key is wrong';
    case 'ExpiredToken':
    case 'TokenRefreshRequired':
    case 'InvalidToken':
      return `the session token was refused (${name})`;
    case 'CredentialsProviderError':
      return 'no credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or the s3 settings of the configuration';
    case 'AuthorizationHeaderMalformed':
      return 'the request was signed for another region (AuthorizationHeaderMalformed): set the region';
    case 'AccessDenied':
      return 'these credentials may not do this (AccessDenied): check the permissions of the key on the bucket';
    default:
      // A HEAD request's refusal has no body to say why.
      return 'the server refused the credentials or the request (HTTP 403): check the access key id, the secret access key and the permissions on the bucket';
  }
}

/** The SDK's message, or the status line when the server sent no body (HEAD requests). */
function sdkMessage(e: unknown): string {
  const m = (e as SdkErrorShape | null)?.message;
  if (typeof m === 'string' && m !== '' && m !== 'UnknownError') return m;
  const status = httpStatus(e);
  return status === undefined ? String(e) : `the server answered HTTP ${status}`;
}
