// The API's errors: SafeholdError codes mapped to HTTP statuses in ONE table,
// the HTTP-level refusals (401, 403, 404 route, 503), and the Fastify error
// and not-found handlers that turn everything into the one JSON shape
// `{ "error": { "code", "message", "requestId", "issues"? } }` — never a stack.

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import type { ErrorCode } from '../../core/errors.ts';
import { isSafeholdError } from '../../core/errors.ts';

/** The HTTP status of each SafeholdError code; codes not listed are 500. */
export const STATUS_OF_CODE: Readonly<Partial<Record<ErrorCode, number>>> = {
  USAGE: 400,
  CONFIG: 400,
  UNSAFE_PATH: 400,
  RESTORE_TARGET: 400,
  WRONG_PASSWORD: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  REPO_NOT_FOUND: 404,
  PATH_NOT_FOUND: 404,
  AMBIGUOUS: 409,
  LOCKED: 409,
  REPO_EXISTS: 409,
  ALREADY_EXISTS: 409,
  NO_SPACE: 507,
  CANCELLED: 503,
  RUNBOOK_NOT_FOUND: 404,
  RUNBOOK_RUN_NOT_FOUND: 404,
  RUNBOOK_STATE: 409,
  RUNBOOK_FORBIDDEN: 403,
  PRECONDITION_FAILED: 409,
  RUNBOOK_STEP_FAILED: 500,
};

export function statusOf(code: string): number {
  return STATUS_OF_CODE[code as ErrorCode] ?? 500;
}

/**
 * A refusal that belongs to HTTP rather than to Safehold: UNAUTHORIZED (401),
 * FORBIDDEN (403), CSRF (403), NOT_FOUND (404 route), UNAVAILABLE (503).
 */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
  }
}

export interface ErrorBody {
  error: { code: string; message: string; requestId: string; issues?: { path: string; message: string }[] };
}

/** Status and body for any thrown value. `internal` receives what is hidden from the client. */
export function toErrorResponse(
  e: unknown,
  requestId: string,
  internal: (detail: string) => void,
): { status: number; body: ErrorBody } {
  const body = (code: string, message: string, extra: Partial<ErrorBody['error']> = {}) => ({
    error: { code, message, requestId, ...extra },
  });
  if (e instanceof HttpError) return { status: e.status, body: body(e.code, e.message) };
  if (hasZodFastifySchemaValidationErrors(e)) {
    const where = (e as { validationContext?: string }).validationContext ?? 'request';
    const issues = e.validation.map((v) => ({
      path: `${where}${v.instancePath ? v.instancePath.replaceAll('/', '.') : ''}`,
      message: v.message ?? 'invalid',
    }));
    return {
      status: 400,
      body: body('USAGE', `invalid ${where}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues }),
    };
  }
  if (isSafeholdError(e)) {
    const status = statusOf(e.code);
    if (status === 500) internal(`${e.code}: ${e.message}`);
    return { status, body: body(e.code, e.message) };
  }
  if (isResponseSerializationError(e)) {
    internal(`response of ${e.method} ${e.url} does not match its schema: ${e.cause.message}`);
    return { status: 500, body: body('INTERNAL', 'internal error: the response did not match its schema') };
  }
  const fe = e as Partial<FastifyError>;
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return {
      status: fe.statusCode,
      body: body(fe.statusCode === 404 ? 'NOT_FOUND' : 'USAGE', fe.message ?? 'bad request'),
    };
  }
  internal(e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  return { status: 500, body: body('INTERNAL', 'internal error') };
}

/** Installs the error and not-found handlers. */
export function installErrorHandlers(
  app: FastifyInstance,
  internal: (req: FastifyRequest, detail: string) => void,
): void {
  app.setErrorHandler((e: unknown, req: FastifyRequest, reply: FastifyReply) => {
    const r = toErrorResponse(e, req.id, (d) => internal(req, d));
    return reply.code(r.status).type('application/json').send(r.body);
  });
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    const path = req.url.split('?')[0];
    return reply
      .code(404)
      .type('application/json')
      .send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${path}`, requestId: req.id } });
  });
}
