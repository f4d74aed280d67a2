// Alerts (with their deliveries) and restore drill reports, newest first,
// keyset-paginated and filtered.

import { z } from 'zod';
import { decodeCursor, pageQuery, toPage } from './pagination.ts';
import { alertSchema, drillSchema, pageSchema } from './schemas.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

export function eventRoutes(app: ApiApp, ctx: RouteContext): void {
  app.get(
    '/api/alerts',
    {
      schema: {
        ...op('listAlerts', 'alerts', 'viewer', 'alerts raised, newest first, with their deliveries'),
        querystring: z.object({
          ...pageQuery,
          event: z.string().optional(),
          severity: z.enum(['info', 'warning', 'critical']).optional(),
        }),
        response: { 200: pageSchema(alertSchema), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      const after = decodeCursor(q.cursor, 2) as [number, string] | null;
      return toPage(ctx.queries.alerts({ event: q.event, severity: q.severity }, q.limit + 1, after), q.limit, (a) => [
        a.at,
        a.id,
      ]);
    },
  );

  app.get(
    '/api/drills',
    {
      schema: {
        ...op('listDrills', 'drills', 'viewer', 'restore drill reports, newest first'),
        querystring: z.object({
          ...pageQuery,
          target: z.string().optional(),
          plan: z.string().optional(),
          status: z.enum(['passed', 'failed']).optional(),
        }),
        response: { 200: pageSchema(drillSchema), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      const after = decodeCursor(q.cursor, 2) as [number, string] | null;
      return toPage(
        ctx.queries.drills({ target: q.target, plan: q.plan, status: q.status }, q.limit + 1, after),
        q.limit,
        (d) => [d.startedAt, d.id],
      );
    },
  );
}
