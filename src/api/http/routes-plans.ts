// Plans: the configured plans with their last run that ran (a refusal is a
// separate notice), last full and partial success, window, offsite copy,
// repository size and next due time; "run now" and "drill now" (operator,
// only the plan's drill activities): waits for the run and returns it with
// its tasks, or with ?wait=false answers 202 with the run id once it started.

import { z } from 'zod';
import type { Plan } from '../../config/types.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { PlanSummary } from '../../catalog/api-queries.ts';
import { RepoSizeStore } from '../../catalog/repo-sizes.ts';
import { describeWindow, inWindow } from '../../plans/run/window.ts';
import { HttpError } from './errors.ts';
import { planListSchema, planSchema, runStartedSchema, runWithTasksSchema } from './schemas.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

const nameParams = z.object({ name: z.string().min(1) });

export function planRoutes(app: ApiApp, ctx: RouteContext): void {
  const sizes = RepoSizeStore.open(ctx.deps.catalog.path, ctx.deps.clock);
  app.addHook('onClose', async () => sizes.close());
  const view = (p: Plan, summary: PlanSummary | undefined) => {
    const copyTo = p.activities.filter((a) => a.kind === 'copy' && a.to !== null).map((a) => a.to!);
    const dest = ctx.deps.config.destinations[p.destination];
    return {
      name: p.name,
      description: p.description,
      destination: p.destination,
      schedule: p.schedule,
      activities: p.activities.map((a) => ({
        name: a.name,
        kind: a.kind,
        targets: a.targets.join(', '),
        units: a.units,
        group: a.group,
      })),
      nextDue: ctx.deps.core?.status().next[p.name] ?? null,
      lastRun: summary?.last ?? null,
      lastRefusal: summary?.lastRefused ?? null,
      lastSuccessAt: summary?.lastSuccessAt ?? null,
      lastPartialAt: summary?.lastPartialAt ?? null,
      window: { text: describeWindow(p.window), open: inWindow(p.window, ctx.deps.clock.now()) },
      offsite: copyTo.length > 0 ? { to: [...new Set(copyTo)], last: summary?.lastCopy ?? null } : null,
      repoSize: dest?.type === 'repository' ? sizes.latest(dest.name) : null,
    };
  };
  const plan = (name: string) => {
    const p = ctx.deps.config.plans[name];
    if (!p) throw new SafeholdError('NOT_FOUND', `no plan '${name}'`);
    return p;
  };

  app.get(
    '/api/plans',
    {
      schema: {
        ...op('listPlans', 'plans', 'viewer', 'the configured plans with their last run'),
        response: { 200: planListSchema, ...errorResponses },
      },
    },
    async () => {
      const sums = ctx.queries.planSummaries();
      return { items: Object.values(ctx.deps.config.plans).map((p) => view(p, sums.get(p.name))) };
    },
  );

  app.get(
    '/api/plans/:name',
    {
      schema: {
        ...op('getPlan', 'plans', 'viewer', 'one plan with its last run'),
        params: nameParams,
        response: { 200: planSchema, ...errorResponses },
      },
    },
    async (req) => view(plan(req.params.name), ctx.queries.planSummaries().get(req.params.name)),
  );

  const start = (what: 'run' | 'drill') =>
    app.post(
      `/api/plans/:name/${what}`,
      {
        schema: {
          ...(what === 'run'
            ? op('runPlan', 'plans', 'operator', 'run a plan now (on demand)')
            : op('drillPlan', 'plans', 'operator', "run a plan's restore drill activities now (on demand)")),
          params: nameParams,
          querystring: z.object({
            wait: z.enum(['true', 'false']).default('true').describe('false: answer 202 as soon as the run started'),
          }),
          response: { 200: runWithTasksSchema, 202: runStartedSchema, ...errorResponses },
        },
      },
      async (req, reply) => {
        const core = ctx.deps.core;
        if (!core) throw new HttpError(503, 'UNAVAILABLE', 'no scheduler in this process: plans cannot be run here');
        plan(req.params.name);
        const label = what === 'run' ? 'run' : 'drill run';
        const p = core.runNow(req.params.name, { drillOnly: what === 'drill' });
        if (req.query.wait === 'false') {
          p.catch(() => {});
          const id = await startedId(p);
          ctx.auditDetail(req, `${label} ${id}`);
          const run = ctx.deps.catalog.planRuns().getRun(id);
          return reply.code(202).send({ runId: id, status: run?.status ?? 'running' });
        }
        const r = await p;
        ctx.auditDetail(req, `${label} ${r.id} ${r.status}`);
        return { run: ctx.deps.catalog.planRuns().getRun(r.id)!, tasks: ctx.deps.catalog.planRuns().tasks(r.id) };
      },
    );
  start('run');
  start('drill');
}

/** The run's id once it has started (or finished): polled, since the run may wait in the queue. */
async function startedId(p: Promise<{ id: string }> & { runId(): string | undefined }): Promise<string> {
  let done: { id: string } | null = null;
  let failed: unknown = null;
  p.then(
    (r) => {
      done = r;
    },
    (e: unknown) => {
      failed = e ?? new Error('run failed');
    },
  );
  for (;;) {
    const id = p.runId();
    if (id) return id;
    if (done) return (done as { id: string }).id;
    if (failed) throw failed;
    await new Promise((r) => setTimeout(r, 10));
  }
}
