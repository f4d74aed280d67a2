// The console's charts (viewer). GET /api/charts?plan=NAME&days=30: the
// plan's runs that finished in the last N days (skipped and refused runs left
// out, as in /metrics), oldest first, at most 1000 (the newest): when each
// finished, how long it took, the bytes its backup and export tasks added,
// and its status. GET /api/charts/repository?destination=NAME&days=30: the
// repository's size samples (hourly, see repo-size-sampler.ts), oldest
// first, at most 1000; when the newest sample is older than an hour, one is
// taken first. A run chart is computed at most once a second per (plan,
// days) (by the injected clock), like the dashboard.

import { z } from 'zod';
import { SafeholdError } from '../../core/errors.ts';
import { DashboardQueries } from '../../catalog/dashboard-queries.ts';
import { RepoSizeStore } from '../../catalog/repo-sizes.ts';
import { repoChartSchema, runChartSchema } from './schemas.ts';
import { SAMPLE_EVERY_MS, sampleRepoSizes } from './repo-size-sampler.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

export const MAX_POINTS = 1000;
const DAY = 86_400_000;
/** How long one computed run chart is served again. */
export const CHART_CACHE_MS = 1000;
const days = z.coerce.number().int().min(1).max(3650).default(30).describe('how many days back (1..3650)');

export function chartRoutes(app: ApiApp, ctx: RouteContext): void {
  const q = DashboardQueries.open(ctx.deps.catalog.path, ctx.deps.clock);
  const sizes = RepoSizeStore.open(ctx.deps.catalog.path, ctx.deps.clock);
  app.addHook('onClose', async () => {
    q.close();
    sizes.close();
  });
  let sampling: Promise<unknown> | null = null;
  const charts = new Map<string, { at: number; body: z.infer<typeof runChartSchema> }>();

  app.get(
    '/api/charts',
    {
      schema: {
        ...op(
          'getRunChart',
          'charts',
          'viewer',
          "duration, bytes added and status of a plan's finished runs over the last days",
        ),
        querystring: z.object({ plan: z.string().min(1), days }),
        response: { 200: runChartSchema, ...errorResponses },
      },
    },
    async (req) => {
      const { plan } = req.query;
      if (!ctx.deps.config.plans[plan]) throw new SafeholdError('NOT_FOUND', `no plan '${plan}'`);
      const now = ctx.deps.clock.now();
      const key = `${req.query.days} ${plan}`;
      const c = charts.get(key);
      if (c && now >= c.at && now - c.at < CHART_CACHE_MS) return c.body;
      if (charts.size >= 100) charts.clear();
      const body = { plan, points: q.chartPoints(plan, now - req.query.days * DAY, MAX_POINTS) };
      charts.set(key, { at: now, body });
      return body;
    },
  );

  app.get(
    '/api/charts/repository',
    {
      schema: {
        ...op(
          'getRepositoryChart',
          'charts',
          'viewer',
          'size of a repository destination over the last days (hourly samples)',
        ),
        querystring: z.object({ destination: z.string().min(1), days }),
        response: { 200: repoChartSchema, ...errorResponses },
      },
    },
    async (req) => {
      const { destination } = req.query;
      const d = ctx.deps.config.destinations[destination];
      if (!d) throw new SafeholdError('NOT_FOUND', `no destination '${destination}'`);
      if (d.type !== 'repository')
        throw new SafeholdError(
          'USAGE',
          `destination '${destination}' is a directory, not a repository: it has no size chart`,
        );
      const newest = sizes.latest(destination);
      if (!newest || ctx.deps.clock.now() - newest.at >= SAMPLE_EVERY_MS) {
        // One measurement at a time, shared by the requests that arrive meanwhile.
        sampling ??= sampleRepoSizes(sizes, ctx.deps.config, ctx.deps.clock).finally(() => {
          sampling = null;
        });
        await sampling;
      }
      return {
        destination,
        points: sizes.series(destination, ctx.deps.clock.now() - req.query.days * DAY, MAX_POINTS),
      };
    },
  );
}
