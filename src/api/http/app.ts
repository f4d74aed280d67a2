// The REST API of `safehold server` (issue 6) as a Fastify instance, not
// listening: zod schemas validate requests and responses and make the
// OpenAPI 3.1 document (/api/openapi.json); every request gets an id (an
// incoming X-Request-Id is kept), is authenticated against the role its
// route declares, logged as one JSON line, and audited when it changes state
// (refusals included). Resources live in the routes-*.ts files.

import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from 'fastify-type-provider-zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { ApiQueries } from '../../catalog/api-queries.ts';
import type { Principal } from '../auth/types.ts';
import { roleAllows } from '../auth/types.ts';
import { HttpError, installErrorHandlers } from './errors.ts';
import type { ApiApp, ApiDeps, RouteContext, RouteRole } from './route-def.ts';
import { planRoutes } from './routes-plans.ts';
import { runRoutes } from './routes-runs.ts';
import { snapshotRoutes } from './routes-snapshots.ts';
import { snapshotFileRoutes } from './routes-snapshot-files.ts';
import { eventRoutes } from './routes-events.ts';
import { lockRoutes } from './routes-locks.ts';
import { restoreRoutes } from './routes-restores.ts';
import { serviceRoutes } from './routes-service.ts';
import { metricsRoute } from './metrics.ts';
import { dashboardRoutes } from './routes-dashboard.ts';
import { chartRoutes } from './routes-charts.ts';
import { sessionRoutes } from './routes-session.ts';
import { consoleRoutes } from './routes-console.ts';
import { unitRestoreRoutes } from './routes-unit-restore.ts';
import { adminRoutes } from './routes-admin.ts';
import { protectionRoutes } from './routes-protection.ts';
import { runbookRoutes } from './routes-runbooks.ts';

export type { ApiApp, ApiDeps, AuditEntry } from './route-def.ts';

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export async function buildApiApp(deps: ApiDeps): Promise<ApiApp> {
  const app = Fastify({
    logger: false,
    genReqId: (req) => {
      const h = req.headers['x-request-id'];
      return typeof h === 'string' && REQUEST_ID.test(h) ? h : randomUUID();
    },
    bodyLimit: 1024 * 1024,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  const queries = ApiQueries.open(deps.catalog.path, deps.clock);
  app.addHook('onClose', async () => queries.close());

  const principals = new WeakMap<object, Principal>();
  const details = new WeakMap<object, string>();
  const ctx: RouteContext = {
    deps,
    queries,
    principalOf: (req) => principals.get(req) ?? null,
    auditDetail: (req, d) => {
      details.set(req, d);
    },
  };

  installErrorHandlers(app, (req, detail) =>
    deps.log({
      time: new Date(deps.clock.now()).toISOString(),
      level: 'error',
      msg: 'request failed',
      requestId: req.id,
      method: req.method,
      path: pathOf(req),
      detail,
    }),
  );
  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Safehold API',
        version: '1',
        description: "The REST API of safehold server. Each operation's x-safehold-role names the role it needs.",
      },
      components: {
        securitySchemes: {
          bearer: {
            type: 'http',
            scheme: 'bearer',
            description: 'an API token: safehold token create --role viewer|operator|admin',
          },
          session: {
            type: 'apiKey',
            in: 'cookie',
            name: 'safehold_session',
            description: 'a console session; state-changing requests also send X-CSRF-Token',
          },
        },
      },
      security: [{ bearer: [] }, { session: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('x-request-id', req.id);
    const need = (req.routeOptions.schema as Record<string, unknown> | undefined)?.['x-safehold-role'] as
      | RouteRole
      | undefined;
    if (!req.routeOptions.url || need === undefined || need === 'none') return;
    const authReq = { headers: req.headers, cookies: req.cookies ?? {} };
    const p = await deps.auth.authenticate(authReq);
    if (!p) {
      reply.header('www-authenticate', 'Bearer realm="safehold"');
      throw new HttpError(
        401,
        'UNAUTHORIZED',
        'authentication required: send Authorization: Bearer <token>, or log in to the console',
      );
    }
    principals.set(req, p);
    if (!roleAllows(p.role, need))
      throw new HttpError(403, 'FORBIDDEN', `this needs the ${need} role; ${p.name} has ${p.role}`);
    if (STATE_CHANGING.has(req.method) && !deps.auth.checkCsrf(p, authReq))
      throw new HttpError(403, 'CSRF', 'missing or wrong X-CSRF-Token for this session');
  });

  app.addHook('onResponse', async (req: FastifyRequest, reply: FastifyReply) => {
    const p = principals.get(req) ?? null;
    const path = pathOf(req);
    const status = reply.statusCode;
    deps.log({
      time: new Date(deps.clock.now()).toISOString(),
      level: status >= 500 ? 'error' : 'info',
      msg: 'http request',
      method: req.method,
      path,
      status,
      ms: Math.round(reply.elapsedTime * 10) / 10,
      requestId: req.id,
      principal: p ? p.id : null,
    });
    if (!STATE_CHANGING.has(req.method)) return;
    const detail = details.get(req) ?? (p ? undefined : 'unauthenticated');
    deps.audit({
      at: deps.clock.now(),
      principal: p ? p.id : null,
      role: p ? p.role : null,
      method: req.method,
      path,
      status,
      ip: req.ip,
      requestId: req.id,
      ...(detail !== undefined ? { detail } : {}),
    });
  });

  for (const register of [
    serviceRoutes,
    planRoutes,
    runRoutes,
    snapshotRoutes,
    snapshotFileRoutes,
    eventRoutes,
    lockRoutes,
    restoreRoutes,
    unitRestoreRoutes,
    adminRoutes,
    metricsRoute,
    sessionRoutes,
    consoleRoutes,
    dashboardRoutes,
    chartRoutes,
    protectionRoutes,
    runbookRoutes,
  ])
    register(app, ctx);
  await app.ready();
  return app;
}

function pathOf(req: FastifyRequest): string {
  return req.url.split('?')[0] ?? req.url;
}
