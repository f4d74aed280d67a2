// Runbooks over the API: list and show them (viewer), a dry run (operator:
// evaluates the preconditions and says what each step would change; changes
// nothing), start a run (operator; it runs in the server process in the
// background: 202 with its id), the runs with their steps, outputs, errors
// and waiting approvals (viewer), approve a step (the role the step names;
// the service decides), abort and resume (operator). The handlers only call
// the runbook service (src/plans/runbook/runbook-service.ts), which holds the
// flow; every state-changing call is audited with what it asked and how it
// ended.

import { z } from 'zod';
import { isSafeholdError } from '../../core/errors.ts';
import { RunbookService } from '../../plans/runbook/runbook-service.ts';
import type { Actor } from '../../plans/runbook/runbook-service.ts';
import { HttpError } from './errors.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, ApiDeps, RouteContext } from './route-def.ts';
import { dryRunView, hideCredentials, runSummaryView, runView, runbookView, summaryView } from './runbook-views.ts';
import {
  runbookApproveBodySchema,
  runbookDryRunBodySchema,
  runbookDryRunSchema,
  runbookListSchema,
  runbookRunListSchema,
  runbookRunSchema,
  runbookRunStartedSchema,
  runbookSchema,
  runbookStartBodySchema,
} from './schemas-runbooks.ts';

const nameParams = z.object({ name: z.string().min(1) });
const runParams = z.object({ id: z.string().min(1) });
const stepParams = z.object({ id: z.string().min(1), step: z.string().min(1) });
const TAG = 'runbooks';

/** The server's runbook service, or one reading the configuration in force from the deps. */
function serviceOf(deps: ApiDeps): RunbookService {
  return (
    deps.runbooks ??
    new RunbookService({
      get config() {
        return deps.config;
      },
      catalog: deps.catalog,
      clock: deps.clock,
    })
  );
}

export function runbookRoutes(app: ApiApp, ctx: RouteContext): void {
  const service = serviceOf(ctx.deps);
  // A POST without a body is an empty one: {} (every field of these bodies is optional).
  const emptyBody = { preValidation: async (req: { body: unknown }) => void (req.body ??= {}) };
  const actor = (req: object): Actor => {
    const p = ctx.principalOf(req);
    if (!p) throw new HttpError(401, 'UNAUTHORIZED', 'authentication required');
    return { id: p.id, role: p.role, via: 'api' };
  };
  /** Runs `act`, recording in the request's audit entry what was asked and how it ended (refusals too). */
  const audited = async <T>(req: object, what: string, act: () => Promise<{ result: T; outcome: string }>) => {
    try {
      const r = await act();
      ctx.auditDetail(req, `${what}: ${r.outcome}`);
      return r.result;
    } catch (e) {
      const why = isSafeholdError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
      ctx.auditDetail(req, `${what}: refused or failed (${hideCredentials(why)})`);
      throw e;
    }
  };

  app.get(
    '/api/runbooks',
    {
      schema: {
        ...op('listRunbooks', TAG, 'viewer', 'the configured runbooks'),
        response: { 200: runbookListSchema, ...errorResponses },
      },
    },
    async () => ({ items: service.list().map(summaryView) }),
  );

  app.get(
    '/api/runbooks/:name',
    {
      schema: {
        ...op('getRunbook', TAG, 'viewer', 'one runbook: its variables, steps and rollback steps'),
        params: nameParams,
        response: { 200: runbookSchema, ...errorResponses },
      },
    },
    async (req) => runbookView(service.show(req.params.name)),
  );

  app.post(
    '/api/runbooks/:name/dry-run',
    {
      ...emptyBody,
      schema: {
        ...op(
          'dryRunRunbook',
          TAG,
          'operator',
          'the ordered plan of a run with resolved values, every precondition evaluated and what each step would change: changes nothing',
        ),
        params: nameParams,
        body: runbookDryRunBodySchema,
        response: { 200: runbookDryRunSchema, ...errorResponses },
      },
    },
    async (req) =>
      audited(req, `dry run of runbook ${req.params.name}`, async () => ({
        result: dryRunView(await service.dryRun(req.params.name, varsOf(req.body.vars))),
        outcome: 'nothing changed',
      })),
  );

  app.post(
    '/api/runbooks/:name/runs',
    {
      ...emptyBody,
      schema: {
        ...op(
          'startRunbook',
          TAG,
          'operator',
          'start a run in the server (in the background); a destructive runbook needs confirm: its name',
        ),
        params: nameParams,
        body: runbookStartBodySchema,
        response: { 202: runbookRunStartedSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const vars = varsOf(req.body.vars);
      const what = `start of runbook ${req.params.name}${describeVars(vars)}`;
      const started = await audited(req, what, async () => {
        const id = await service.start(req.params.name, {
          vars,
          actor: actor(req),
          ...(req.body.confirm !== undefined ? { confirm: req.body.confirm } : {}),
        });
        return { result: id, outcome: `run ${id} started` };
      });
      return reply.code(202).send({ runId: started, status: statusOf(service, started) });
    },
  );

  app.get(
    '/api/runbook-runs',
    {
      schema: {
        ...op('listRunbookRuns', TAG, 'viewer', 'runbook runs, newest first'),
        querystring: z.object({
          runbook: z.string().optional(),
          limit: z.coerce.number().int().min(1).max(500).default(50),
        }),
        response: { 200: runbookRunListSchema, ...errorResponses },
      },
    },
    async (req) => ({
      items: service
        .runs({ limit: req.query.limit, ...(req.query.runbook ? { runbook: req.query.runbook } : {}) })
        .map(runSummaryView),
    }),
  );

  app.get(
    '/api/runbook-runs/:id',
    {
      schema: {
        ...op('getRunbookRun', TAG, 'viewer', 'one run: its steps with status, outputs, errors and waiting approvals'),
        params: runParams,
        response: { 200: runbookRunSchema, ...errorResponses },
      },
    },
    async (req) => runView(service.get(req.params.id)),
  );

  app.post(
    '/api/runbook-runs/:id/steps/:step/approve',
    {
      ...emptyBody,
      schema: {
        ...op(
          'approveRunbookStep',
          TAG,
          'viewer',
          'approve a waiting approval step (needs the role the step names; a destructive runbook also confirm: its name), or rerun / mark done an interrupted step',
        ),
        'x-safehold-role-step': 'the role the approval step names (default operator)',
        params: stepParams,
        body: runbookApproveBodySchema,
        response: { 200: runbookRunSchema, ...errorResponses },
      },
    },
    async (req) => {
      const { id, step } = req.params;
      const action = req.body.action;
      return audited(req, `${action} of step ${step} of runbook run ${id}`, async () => {
        const v = service.approve(id, step, actor(req), {
          action,
          ...(req.body.confirm !== undefined ? { confirm: req.body.confirm } : {}),
        });
        return { result: runView(v), outcome: `done; the run is ${v.status}` };
      });
    },
  );

  app.post(
    '/api/runbook-runs/:id/abort',
    {
      schema: {
        ...op('abortRunbookRun', TAG, 'operator', 'abort a run: the running step is stopped, no further step starts'),
        params: runParams,
        response: { 200: runbookRunSchema, ...errorResponses },
      },
    },
    async (req) =>
      audited(req, `abort of runbook run ${req.params.id}`, async () => {
        const v = service.abort(req.params.id, actor(req));
        return { result: runView(v), outcome: `the run is ${v.status}` };
      }),
  );

  app.post(
    '/api/runbook-runs/:id/resume',
    {
      schema: {
        ...op(
          'resumeRunbookRun',
          TAG,
          'operator',
          'resume an interrupted run in the server from the step that was running (refused while its process is alive)',
        ),
        params: runParams,
        response: { 202: runbookRunStartedSchema, ...errorResponses },
      },
    },
    async (req, reply) => {
      const id = await audited(req, `resume of runbook run ${req.params.id}`, async () => {
        const resumed = await service.resume(req.params.id, actor(req));
        return { result: resumed, outcome: `run ${resumed} resumed` };
      });
      return reply.code(202).send({ runId: id, status: statusOf(service, id) });
    },
  );
}

function varsOf(body: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(body).map(([k, v]) => [k, String(v)]));
}

function describeVars(vars: Record<string, string>): string {
  const list = Object.entries(vars).map(([k, v]) => `${k}=${hideCredentials(v)}`);
  return list.length > 0 ? ` with ${list.join(', ')}` : '';
}

function statusOf(service: RunbookService, id: string): string {
  try {
    return service.get(id).status;
  } catch {
    return 'running';
  }
}
