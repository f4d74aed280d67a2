// Snapshots made by plan runs: one item per snapshot id recorded on a
// succeeded backup or export task (the catalog's tasks), newest first, with
// its plan, target, unit and the bytes its task added. Snapshots taken by the
// CLI outside plans (`safehold backup`) are not listed here.

import { z } from 'zod';
import { decodeCursor, pageQuery, toPage } from './pagination.ts';
import { pageSchema, snapshotSchema } from './schemas.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

export function snapshotRoutes(app: ApiApp, ctx: RouteContext): void {
  app.get(
    '/api/snapshots',
    {
      schema: {
        ...op('listSnapshots', 'snapshots', 'viewer', 'snapshots made by plan runs, newest first'),
        querystring: z.object({
          ...pageQuery,
          plan: z.string().optional(),
          target: z.string().optional(),
          unit: z.string().optional(),
        }),
        response: { 200: pageSchema(snapshotSchema), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      const after = decodeCursor(q.cursor, 3) as [number, string, number] | null;
      const rows = ctx.queries.taskSnapshots({ plan: q.plan, target: q.target, unit: q.unit }, q.limit + 1, after);
      const page = toPage(rows, q.limit, (s) => [s.time, s.taskId, s.index]);
      return {
        ...page,
        items: page.items.map((s) => ({ ...s, destination: ctx.deps.config.plans[s.plan]?.destination ?? null })),
      };
    },
  );
}
