// Restore of ONE snapshot of a unit (no group hooks, no safety backup): a
// files snapshot is recreated under a directory (like `safehold restore
// --target`), a database dump snapshot is restored through its target's
// driver into a database name. In place (target '/', or a dump into its own
// unit's name) overwrites live data and needs an admin; into another place an
// operator may. The repository's shared lock is held throughout.

import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Config, RepositoryDestination } from '../../config/types.ts';
import type { Clock } from '../../core/clock.ts';
import { SafeholdError } from '../../core/errors.ts';
import { restore as restoreTree } from '../../engine/restorer.ts';
import { openStreamSnapshot } from '../../engine/stream-reader.ts';
import { buildTargets } from '../../plans/targets.ts';
import { LocalBackend } from '../../repo/backend/local-backend.ts';
import { RepoLock } from '../../repo/lock.ts';
import { Repository } from '../../repo/repository.ts';
import { findSnapshot } from '../../repo/snapshot.ts';
import type { SnapshotWithId } from '../../repo/snapshot.ts';
import type { Principal } from '../auth/types.ts';
import { roleAllows } from '../auth/types.ts';
import { HttpError } from './errors.ts';
import { errorResponses, op } from './route-def.ts';
import type { ApiApp, RouteContext } from './route-def.ts';

const bodySchema = z.object({
  destination: z.string().min(1).describe('the repository destination holding the snapshot'),
  snapshot: z.string().min(1).describe('snapshot id or unique prefix'),
  into: z.string().min(1).optional().describe('database dumps: the database (unit) name to restore into; default the original (in place, admin)'),
  target: z.string().min(1).optional().describe("files snapshots: the absolute directory the paths are recreated under; '/' is in place (admin)"),
  clean: z.boolean().default(false).describe('files: remove the snapshot\'s paths under target first; dumps: replace an existing database'),
}).strict();

const resultSchema = z.object({
  snapshot: z.string().describe('the full snapshot id'),
  kind: z.enum(['files', 'database']),
  into: z.string().describe('the directory (files) or database name (dumps) restored into'),
  target: z.string().nullable().describe('the configured target the snapshot is of (its target: tag)'),
  unit: z.string().nullable(),
  inPlace: z.boolean(),
  files: z.number().optional(),
  bytes: z.number().optional(),
}).meta({ id: 'UnitRestoreResult' });

type Body = z.infer<typeof bodySchema>;
type Result = z.infer<typeof resultSchema>;

export function unitRestoreRoutes(app: ApiApp, ctx: RouteContext): void {
  app.post('/api/restores/unit', {
    schema: {
      ...op('restoreUnit', 'restores', 'operator', 'restore one snapshot of a unit: files under a directory, a database dump into a database name; in place needs admin'),
      'x-safehold-role-in-place': 'admin',
      body: bodySchema,
      response: { 200: resultSchema, ...errorResponses },
    },
  }, async (req) => {
    const b = req.body;
    const r = await restoreUnit(ctx.deps.config, ctx.deps.clock, b, ctx.principalOf(req));
    ctx.auditDetail(req, `restore of snapshot ${r.snapshot.slice(0, 8)} (${r.kind}${r.target ? ` ${r.target}/${r.unit ?? ''}` : ''}) from ${b.destination} ${r.inPlace ? 'in place' : 'into'} ${r.into}`);
    return r;
  });
}

/** Opens the destination's repository, takes its shared lock, and restores the one snapshot. */
export async function restoreUnit(config: Config, clock: Clock, b: Body, who: Principal | null): Promise<Result> {
  const dest = repositoryDestination(config, b.destination);
  const repo = await Repository.open(new LocalBackend(dest.path), dest.password.value, clock);
  try {
    const lock = await RepoLock.acquire(repo, false);
    try {
      const snap = await findSnapshot(repo, b.snapshot);
      return snap.kind === 'stream' ? await restoreDump(config, repo, snap, b, who) : await restoreFiles(repo, snap, b, who);
    } finally {
      await lock.release().catch(() => {});
    }
  } finally {
    await repo.close().catch(() => {});
  }
}

function repositoryDestination(config: Config, name: string): RepositoryDestination {
  const d = config.destinations[name];
  if (!d) throw new SafeholdError('NOT_FOUND', `no destination '${name}' in ${config.file}`);
  if (d.type !== 'repository') throw new SafeholdError('USAGE', `'${name}' is not a repository destination`);
  return d;
}

function tag(s: SnapshotWithId, key: string): string | null {
  return s.tags.find((t) => t.startsWith(`${key}:`))?.slice(key.length + 1) ?? null;
}

function requireAdminInPlace(inPlace: boolean, who: Principal | null, what: string): void {
  if (inPlace && (!who || !roleAllows(who.role, 'admin'))) {
    throw new HttpError(403, 'FORBIDDEN', `${what} in place needs the admin role; an operator may restore into another place`);
  }
}

async function restoreFiles(repo: Repository, snap: SnapshotWithId, b: Body, who: Principal | null): Promise<Result> {
  if (b.target === undefined) throw new SafeholdError('USAGE', `snapshot ${snap.id.slice(0, 8)} is a files snapshot: give target (a directory)`);
  if (b.into !== undefined) throw new SafeholdError('USAGE', 'into is for database dumps; a files snapshot is restored under target');
  if (!path.isAbsolute(b.target)) throw new SafeholdError('USAGE', `target must be an absolute directory, not '${b.target}'`);
  const root = path.resolve(b.target);
  const inPlace = root === path.parse(root).root;
  requireAdminInPlace(inPlace, who, 'a files restore');
  if (b.clean) for (const p of snap.paths) fs.rmSync(path.join(root, p), { recursive: true, force: true });
  const res = await restoreTree(repo, snap.tree, { target: root });
  if (res.errors.length > 0) {
    const first = res.errors[0]!;
    throw new SafeholdError('IO', `restored ${res.files} file(s) under ${root}, but ${res.errors.length} failed (first: ${first.path}: ${first.message})`);
  }
  return { snapshot: snap.id, kind: 'files', into: root, target: tag(snap, 'target'), unit: tag(snap, 'unit'), inPlace, files: res.files, bytes: res.bytes };
}

async function restoreDump(config: Config, repo: Repository, snap: SnapshotWithId, b: Body, who: Principal | null): Promise<Result> {
  const format = snap.meta?.format;
  if (!format) throw new SafeholdError('USAGE', `snapshot ${snap.id.slice(0, 8)} is a stream without a dump format (a command or device backup): it cannot be restored into a database`);
  if (format === 'pg_basebackup-tar') throw new SafeholdError('USAGE', `snapshot ${snap.id.slice(0, 8)} is a physical backup: restore it with the group restore (filesTo)`);
  if (b.target !== undefined) throw new SafeholdError('USAGE', 'target is for files snapshots; a database dump is restored with into (a database name)');
  const targetName = tag(snap, 'target');
  const unit = tag(snap, 'unit');
  if (targetName === null || unit === null) throw new SafeholdError('USAGE', `snapshot ${snap.id.slice(0, 8)} has no target: and unit: tags: it was not made by a plan`);
  const target = buildTargets(config).find((t) => t.name === targetName);
  if (!target) throw new SafeholdError('CONFIG', `snapshot ${snap.id.slice(0, 8)} is of target '${targetName}', which is not configured`);
  if (!target.db) throw new SafeholdError('CONFIG', `${targetName} is not a database target`);
  const into = b.into ?? unit;
  const inPlace = into === unit;
  requireAdminInPlace(inPlace, who, 'a database restore');
  const { stream, size } = await openStreamSnapshot(repo, snap);
  try {
    await target.db.restore(unit, stream, format, { into, clean: b.clean });
  } catch (e) {
    stream.destroy();
    throw e;
  }
  return { snapshot: snap.id, kind: 'database', into, target: targetName, unit, inPlace, bytes: size };
}
