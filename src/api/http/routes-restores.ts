// The safe group restore of src/plans/restore/restore-flow.ts. The flow decides on
// the real places and databases it would write whether that overwrites live
// data; an operator is refused there (403), an admin may (the safety backup
// is then always taken). The audit log records the decision.

import { z } from 'zod';
import { restoreGroup } from '../../plans/restore/restore-flow.ts';
import type { RestoreStep } from '../../plans/restore/restore-flow.ts';
import { buildTargets } from '../../drivers/target/targets.ts';
import { roleAllows } from '../auth/types.ts';
import { auditedRestore } from './restore-audit.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

const bodySchema = z.object({
  group: z.string().min(1).describe('the consistency group to restore'),
  from: z.string().min(1).describe('the repository destination it was backed up to'),
  snapshot: z.string().min(1).default('latest').describe("'latest' or a group run id (or unique prefix)"),
  intoSuffix: z.string().min(1).nullable().default(null).describe('restore databases under <name><suffix> instead of in place'),
  filesTo: z.string().min(1).nullable().default(null).describe('restore files under this directory instead of in place'),
  force: z.boolean().default(false).describe('restore even when the check hook says the application runs'),
  safetyBackup: z.boolean().default(true).describe('back up what is overwritten first'),
}).strict();

const resultSchema = z.object({
  ok: z.boolean(),
  groupRun: z.string().nullable(),
  failedStep: z.string().nullable(),
  reason: z.string().nullable(),
  safety: z.object({ groupRun: z.string(), snapshots: z.array(z.string()) }).nullable(),
  restored: z.array(z.object({ target: z.string(), unit: z.string().nullable(), snapshot: z.string(), into: z.string() })),
  rollback: z.string().nullable(),
  overLiveData: z.array(z.string()).describe('the live data this restore overwrote, and why it counts as live'),
  log: z.array(z.object({ step: z.string(), level: z.enum(['info', 'warn', 'error']), message: z.string() })),
}).meta({ id: 'RestoreResult' });

export function restoreRoutes(app: ApiApp, ctx: RouteContext): void {
  app.post('/api/restores', {
    schema: {
      ...op('restoreGroup', 'restores', 'operator', 'safe restore of a group; over live data (in place, or into names and places that exist) needs admin'),
      'x-safehold-role-in-place': 'admin',
      body: bodySchema,
      response: { 200: resultSchema, ...errorResponses },
    },
  }, async (req) => {
    const b = req.body;
    const p = ctx.principalOf(req);
    const allowLive = p !== null && roleAllows(p.role, 'admin');
    const log: { step: RestoreStep; level: 'info' | 'warn' | 'error'; message: string }[] = [];
    const where = `${b.filesTo ? ` files under ${b.filesTo}` : ''}${b.intoSuffix ? ` databases with suffix ${b.intoSuffix}` : ''}`;
    return auditedRestore(ctx, req, `restore of group ${b.group} from ${b.from}`, async () => {
      const r = await restoreGroup({
        config: ctx.deps.config, group: b.group, from: b.from, snapshot: b.snapshot, safetyBackup: b.safetyBackup, intoSuffix: b.intoSuffix,
        filesTo: b.filesTo, force: b.force, allowLive, targets: buildTargets(ctx.deps.config), clock: ctx.deps.clock,
        log: (step, message, level = 'info') => { log.push({ step, level, message }); },
      });
      const detail = `${r.groupRun ?? b.snapshot}${where || ' in place'}: ${r.ok ? 'ok' : `failed at ${r.failedStep}`}`;
      return { result: { ...r, log }, detail, live: r.overLiveData, safety: r.safety?.groupRun ?? null };
    });
  });
}
