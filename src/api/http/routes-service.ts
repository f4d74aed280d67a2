// Service routes: health (no auth), the OpenAPI document (no auth) and the
// server's status (queue, running runs, next due times, the configuration in
// force).

import { z } from 'zod';
import { HttpError } from './errors.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';
import { okSchema } from './schemas.ts';

const statusSchema = z
  .object({
    pid: z.number(),
    startedAt: z.number(),
    running: z.array(z.object({ plan: z.string(), trigger: z.string(), runId: z.string().nullable() })),
    queued: z.array(z.object({ plan: z.string(), trigger: z.string() })),
    next: z.record(z.string(), z.number().nullable()).describe('plan → next due time (ms since the epoch)'),
    config: z
      .object({
        number: z.number().describe('1 for the configuration the server started with, one more per reload'),
        file: z.string(),
        hash: z.string().nullable().describe("sha256 of the file's text as loaded"),
        loadedAt: z.number().describe('when it was loaded (ms since the epoch)'),
      })
      .describe('the configuration in force (safehold server reload, or SIGHUP, loads it again)'),
  })
  .meta({ id: 'ServerStatus' });

export function serviceRoutes(app: ApiApp, ctx: RouteContext): void {
  app.get(
    '/api/health',
    {
      schema: {
        ...op('getHealth', 'service', 'none', 'liveness: always ok while the server answers'),
        response: { 200: okSchema, ...errorResponses },
      },
    },
    async () => ({ ok: true as const }),
  );

  app.get(
    '/api/openapi.json',
    {
      schema: {
        ...op('getOpenApi', 'service', 'none', 'this OpenAPI 3.1 document'),
        response: { 200: z.record(z.string(), z.unknown()), ...errorResponses },
      },
    },
    async () => app.swagger() as unknown as Record<string, unknown>,
  );

  app.get(
    '/api/status',
    {
      schema: {
        ...op(
          'getStatus',
          'service',
          'viewer',
          'the scheduler: running and queued runs, next due times, the configuration in force',
        ),
        response: { 200: statusSchema, ...errorResponses },
      },
    },
    async () => {
      const core = ctx.deps.core;
      if (!core) throw new HttpError(503, 'UNAVAILABLE', 'no scheduler in this process');
      const s = core.status();
      return {
        pid: process.pid,
        startedAt: s.startedAt,
        running: s.running,
        queued: s.queued,
        next: s.next as Record<string, number | null>,
        config: s.config,
      };
    },
  );
}
