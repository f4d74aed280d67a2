// The safe group restore of src/plans/restore/restore-flow.ts. The flow decides on
// the real places and databases it would write whether that overwrites live
// data; an operator is refused there (403), an admin may (the safety backup
// is then always taken). The audit log records the decision. A dry run
// (`dryRun: true`, or POST /api/restores/preview, which a viewer may call)
// returns the flow's plan and changes nothing: it needs no admin role, and
// says in the plan whether the restore itself would be refused.

import { restoreGroup } from '../../plans/restore/restore-flow.ts';
import type { RestoreStep } from '../../plans/restore/restore-flow.ts';
import { buildTargets } from '../../drivers/target/targets.ts';
import { roleAllows } from '../auth/types.ts';
import { auditedRestore } from './restore-audit.ts';
import { groupRestoreBodySchema, restoreResultSchema } from './schemas.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

type Body = ReturnType<typeof groupRestoreBodySchema.parse>;

export function restoreRoutes(app: ApiApp, ctx: RouteContext): void {
  app.post(
    '/api/restores',
    {
      schema: {
        ...op(
          'restoreGroup',
          'restores',
          'operator',
          'safe restore of a group; over live data (in place, or into names and places that exist) needs admin; dryRun: only the plan',
        ),
        'x-safehold-role-in-place': 'admin',
        body: groupRestoreBodySchema,
        response: { 200: restoreResultSchema, ...errorResponses },
      },
    },
    async (req) => groupRestore(ctx, req, req.body, req.body.dryRun),
  );
  app.post(
    '/api/restores/preview',
    {
      schema: {
        ...op(
          'previewGroupRestore',
          'restores',
          'viewer',
          'the plan of a safe group restore (what would be stopped, saved, replaced, removed; which hooks run): changes nothing',
        ),
        body: groupRestoreBodySchema,
        response: { 200: restoreResultSchema, ...errorResponses },
      },
    },
    async (req) => groupRestore(ctx, req, req.body, true),
  );
}

async function groupRestore(ctx: RouteContext, req: object, b: Body, dryRun: boolean) {
  const p = ctx.principalOf(req);
  const allowLive = p !== null && roleAllows(p.role, 'admin');
  const log: { step: RestoreStep; level: 'info' | 'warn' | 'error'; message: string }[] = [];
  const where = `${b.filesTo ? ` files under ${b.filesTo}` : ''}${b.intoSuffix ? ` databases with suffix ${b.intoSuffix}` : ''}`;
  const what = `${dryRun ? 'dry run of the ' : ''}restore of group ${b.group} from ${b.from}`;
  return auditedRestore(ctx, req, what, async () => {
    const r = await restoreGroup({
      config: ctx.deps.config,
      group: b.group,
      from: b.from,
      snapshot: b.snapshot,
      safetyBackup: b.safetyBackup,
      intoSuffix: b.intoSuffix,
      filesTo: b.filesTo,
      force: b.force,
      allowLive,
      dryRun,
      targets: buildTargets(ctx.deps.config),
      clock: ctx.deps.clock,
      log: (step, message, level = 'info') => {
        log.push({ step, level, message });
      },
    });
    const outcome = dryRun ? `dry run${r.ok ? '' : ', would be refused'}` : r.ok ? 'ok' : `failed at ${r.failedStep}`;
    const detail = `${r.groupRun ?? b.snapshot}${where || ' in place'}: ${outcome}`;
    const plan = r.plan;
    return {
      result: { ...r, log },
      detail,
      live: r.overLiveData,
      safety: r.safety?.groupRun ?? null,
      // A dry run overwrote nothing: it says what the restore would.
      ...(dryRun
        ? {
            decision: `nothing changed; ${plan?.touchesLive ? `it would overwrite live data (${plan.overLiveData.join('; ')})` : 'it would write new places only'}`,
          }
        : {}),
    };
  });
}
