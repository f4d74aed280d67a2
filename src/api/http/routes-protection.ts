// GET /api/protection: the protection report (docs/protection.md), evaluated
// now against the configuration in force (every destination the plans write
// to is read), or with cached=true the last one the server evaluated (null
// before its first). Viewer role; reads only.

import { z } from 'zod';
import { evaluateProtection } from '../../plans/protection/evaluate.ts';
import type { ProtectionReport } from '../../plans/protection/report-types.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

const ruleSchema = z.object({
  rule: z.enum(['minCopies', 'minSites', 'rpo', 'drillWithin']),
  ok: z.boolean(),
  expected: z.number().describe('minCopies/minSites: a count; rpo/drillWithin: a duration in ms'),
  actual: z.number().nullable().describe('the count found, or the age in ms (null: no copy / no drill)'),
  why: z.string(),
});

const unitSchema = z.object({
  plan: z.string(),
  target: z.string(),
  unit: z.string().nullable(),
  ok: z.boolean(),
  copies: z.array(
    z.object({
      destination: z.string(),
      site: z.string().nullable(),
      count: z.number(),
      newest: z.number().nullable(),
      error: z.string().nullable(),
    }),
  ),
  sites: z.array(z.object({ site: z.string(), newest: z.number() })),
  newest: z.number().nullable(),
  lastDrill: z.number().nullable(),
  rules: z.array(ruleSchema),
});

export const protectionReportSchema = z.object({
  evaluatedAt: z.number(),
  ok: z.boolean(),
  destinations: z.array(
    z.object({
      name: z.string(),
      type: z.enum(['repository', 'directory']),
      site: z.string().nullable(),
      error: z.string().nullable(),
    }),
  ),
  units: z.array(unitSchema),
});

export function protectionRoutes(app: ApiApp, ctx: RouteContext): void {
  app.get(
    '/api/protection',
    {
      schema: {
        ...op('getProtection', 'protection', 'viewer', 'the protection report: copies, sites and drills per unit'),
        querystring: z.object({
          cached: z
            .enum(['true', 'false'])
            .default('false')
            .describe("true: the server's last evaluation instead of a new one"),
        }),
        response: { 200: z.object({ report: protectionReportSchema.nullable() }), ...errorResponses },
      },
    },
    async (req) => {
      const { catalog, clock } = ctx.deps;
      if (req.query.cached === 'true')
        return { report: catalog.protection().lastReport<ProtectionReport>()?.report ?? null };
      return { report: await evaluateProtection({ config: ctx.deps.config, catalog, clock }) };
    },
  );
}
