// The safe group restore of src/plans/restore/restore-flow.ts. The flow decides on
// the real places and databases it would write whether that overwrites live
// data; an operator is refused there (403), an admin may (the safety backup
// is then always taken). The audit log records the decision.

import { restoreGroup } from '../../plans/restore/restore-flow.ts';
import type { RestoreStep } from '../../plans/restore/restore-flow.ts';
import { buildTargets } from '../../drivers/target/targets.ts';
import { roleAllows } from '../auth/types.ts';
import { auditedRestore } from './restore-audit.ts';
import { groupRestoreBodySchema, restoreResultSchema } from './schemas.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

export function restoreRoutes(app: ApiApp, ctx: RouteContext): void {
  app.post(
    '/api/restores',
    {
      schema: {
        ...op(
          'restoreGroup',
          'restores',
          'operator',
          'safe restore of a group; over live data (in place, or into names and places that exist) needs admin',
        ),
        'x-safehold-role-in-place': 'admin',
        body: groupRestoreBodySchema,
        response: { 200: restoreResultSchema, ...errorResponses },
      },
    },
    async (req) => {
      const b = req.body;
      const p = ctx.principalOf(req);
      const allowLive = p !== null && roleAllows(p.role, 'admin');
      const log: { step: RestoreStep; level: 'info' | 'warn' | 'error'; message: string }[] = [];
      const where = `${b.filesTo ? ` files under ${b.filesTo}` : ''}${b.intoSuffix ? ` databases with suffix ${b.intoSuffix}` : ''}`;
      return auditedRestore(ctx, req, `restore of group ${b.group} from ${b.from}`, async () => {
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
          targets: buildTargets(ctx.deps.config),
          clock: ctx.deps.clock,
          log: (step, message, level = 'info') => {
            log.push({ step, level, message });
          },
        });
        const detail = `${r.groupRun ?? b.snapshot}${where || ' in place'}: ${r.ok ? 'ok' : `failed at ${r.failedStep}`}`;
        return { result: { ...r, log }, detail, live: r.overLiveData, safety: r.safety?.groupRun ?? null };
      });
    },
  );
}
