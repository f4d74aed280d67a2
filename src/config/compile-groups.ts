// Compiles consistency groups (S6) and restore plans (S7): member targets and
// units checked against the inventory, hooks resolved, and the rules a mode
// needs (a quiesced group stops and starts the application; a physical group
// has its databases on one PostgreSQL server).

import nodePath from 'node:path';
import type { RawConfig } from './schema.ts';
import type { Destination, Group, RestorePlan, Target } from './types.ts';
import type { CompileContext } from './compile-context.ts';
import type { PathSegment } from './yaml-source.ts';

type Ctx = CompileContext & {
  targets: Record<string, Target>;
  destinations: Record<string, Destination>;
};

export function compileGroups(
  raw: NonNullable<RawConfig>,
  ctx: Ctx,
): { groups: Record<string, Group>; restorePlans: Record<string, RestorePlan> } {
  const groups: Record<string, Group> = {};
  for (const [name, g] of Object.entries(raw.groups ?? {})) {
    const path: PathSegment[] = ['groups', name];
    const mode = g.mode ?? 'quiesced';
    const members = g.members.map((m, i) => {
      ctx.reference([...path, 'members', i, 'target'], 'target', 'targets', m.target, ctx.targets);
      const t = ctx.targets[m.target];
      if (t && t.kind === 'device')
        ctx.problem(
          [...path, 'members', i, 'target'],
          `target '${m.target}' is a device: groups hold files, command and database targets`,
        );
      return { target: m.target, units: m.units ?? null };
    });
    const hook = (k: 'stop' | 'start' | 'check' | 'cleanup') => ctx.hookOf([...path, k], g[k]);
    const group: Group = {
      name,
      mode,
      members,
      stop: hook('stop'),
      start: hook('start'),
      check: hook('check'),
      cleanup: hook('cleanup'),
    };
    if (mode === 'quiesced' && (g.stop === undefined || g.start === undefined)) {
      ctx.problem(
        path,
        "a quiesced group needs a 'stop' and a 'start' hook (it stops the application, backs up all members, starts it again)",
      );
    }
    if (mode === 'physical') {
      const dbs = members.filter((m) => ['postgres', 'mariadb', 'sqlite'].includes(ctx.targets[m.target]?.kind ?? ''));
      const servers = new Set(dbs.map((m) => m.target));
      if (dbs.some((m) => ctx.targets[m.target]?.kind !== 'postgres') || servers.size !== 1) {
        ctx.problem(
          [...path, 'mode'],
          'a physical group needs its databases on one PostgreSQL target (pg_basebackup copies the whole server at one instant)',
        );
      }
    }
    groups[name] = group;
  }
  const restorePlans: Record<string, RestorePlan> = {};
  for (const [name, r] of Object.entries(raw.restorePlans ?? {})) {
    const path: PathSegment[] = ['restorePlans', name];
    ctx.reference([...path, 'group'], 'group', 'groups', r.group, groups);
    ctx.reference([...path, 'from'], 'destination', 'destinations', r.from, ctx.destinations);
    if (ctx.destinations[r.from]?.type === 'directory')
      ctx.problem([...path, 'from'], 'a group is restored from a repository destination');
    restorePlans[name] = {
      name,
      group: r.group,
      from: r.from,
      snapshot: r.snapshot ?? 'latest',
      safetyBackup: r.safetyBackup ?? true,
      intoSuffix: r.intoSuffix ?? null,
      filesTo: r.filesTo === undefined ? null : nodePath.resolve(ctx.baseDir, r.filesTo),
    };
  }
  return { groups, restorePlans };
}
