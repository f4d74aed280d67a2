// Plan runs: the list (newest first, keyset pagination, filters by plan,
// status and trigger), one run with its tasks (by id or a unique prefix),
// and its log after a line number, for live tailing.

import { z } from 'zod';
import { decodeCursor, pageQuery, toPage } from './pagination.ts';
import { pageSchema, runLogSchema, runSchema, runStatus, runTrigger, runWithTasksSchema } from './schemas.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

const idParams = z.object({ id: z.string().min(1).max(64) });

export function runRoutes(app: ApiApp, ctx: RouteContext): void {
  app.get(
    '/api/runs',
    {
      schema: {
        ...op('listRuns', 'runs', 'viewer', 'plan runs, newest first'),
        querystring: z.object({
          ...pageQuery,
          plan: z.string().optional(),
          status: runStatus.optional(),
          trigger: runTrigger.optional(),
        }),
        response: { 200: pageSchema(runSchema), ...errorResponses },
      },
    },
    async (req) => {
      const q = req.query;
      const after = decodeCursor(q.cursor, 2) as [number, string] | null;
      const rows = ctx.queries.planRuns({ plan: q.plan, status: q.status, trigger: q.trigger }, q.limit + 1, after);
      return toPage(rows, q.limit, (r) => [r.startedAt, r.id]);
    },
  );

  app.get(
    '/api/runs/:id',
    {
      schema: {
        ...op('getRun', 'runs', 'viewer', 'one run with its tasks (id or unique prefix)'),
        params: idParams,
        response: { 200: runWithTasksSchema, ...errorResponses },
      },
    },
    async (req) => {
      const store = ctx.deps.catalog.planRuns();
      const run = store.findRun(req.params.id);
      return { run, tasks: store.tasks(run.id) };
    },
  );

  app.get(
    '/api/runs/:id/log',
    {
      schema: {
        ...op(
          'getRunLog',
          'runs',
          'viewer',
          'log lines of a run after line `after` (poll with the last seq for a live tail)',
        ),
        params: idParams,
        querystring: z.object({
          after: z.coerce.number().int().min(0).default(0),
          limit: z.coerce.number().int().min(1).max(5000).default(1000),
        }),
        response: { 200: runLogSchema, ...errorResponses },
      },
    },
    async (req) => {
      const run = ctx.deps.catalog.planRuns().findRun(req.params.id);
      const items = ctx.queries.logAfter(run.id, req.query.after, req.query.limit);
      return {
        runId: run.id,
        status: run.status,
        items,
        last: items.length ? items[items.length - 1]!.seq : req.query.after,
      };
    },
  );
}
