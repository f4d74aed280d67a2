// How the API's routes are declared: every route names its operationId, its
// tags, the role it needs (`x-safehold-role`: none, viewer, operator or admin;
// the auth hook reads it from the schema, so the OpenAPI document and the
// enforcement cannot disagree), and its zod schemas, with the error
// responses added to every route.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Catalog } from '../../catalog/catalog.ts';
import type { ApiQueries } from '../../catalog/api-queries.ts';
import type { Config } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import type { ServerCore } from '../../scheduler/server-core.ts';
import type { RunbookService } from '../../plans/runbook/runbook-service.ts';
import type { Authenticator, Principal, Role } from '../auth/types.ts';
import { errorSchema } from './schemas.ts';

export type ApiApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export type RouteRole = Role | 'none';

export interface AuditEntry {
  at: number;
  /** Token id or user name; null when the caller was not authenticated. */
  principal: string | null;
  role: Role | null;
  method: string;
  path: string;
  status: number;
  ip: string;
  requestId: string;
  detail?: string;
}

export interface ApiDeps {
  core: ServerCore | null;
  catalog: Catalog;
  /** The configuration in force; the server's is a getter that changes at a reload: read it per request, never keep it. */
  readonly config: Config;
  auth: Authenticator;
  audit(e: AuditEntry): void;
  metrics: { enabled: boolean; protect: boolean };
  log(line: object): void;
  clock: Clock;
  /** The runbook service (the server's: runbook-host.ts); absent: one is built from config and catalog. */
  runbooks?: RunbookService;
}

/** What every route module gets: the deps, the API's own catalog queries, and who is calling. */
export interface RouteContext {
  deps: ApiDeps;
  queries: ApiQueries;
  principalOf(req: object): Principal | null;
  /** Adds a detail to the audit entry of this request. */
  auditDetail(req: object, detail: string): void;
}

/** The error responses every operation documents. */
export const errorResponses = {
  400: errorSchema,
  401: errorSchema,
  403: errorSchema,
  404: errorSchema,
  409: errorSchema,
  500: errorSchema,
  503: errorSchema,
} as const;

/** The OpenAPI and role part of a route's schema. */
export function op(operationId: string, tag: string, role: RouteRole, summary: string) {
  return { operationId, tags: [tag], summary, 'x-safehold-role': role } as const;
}
