// Whether a restore would touch live data, decided on what the restore will
// really write, never on how a request spells it: file system places are
// compared as real paths (symlinks resolved, `/proc/self/root` is `/`)
// against every place the configuration knows (the paths of every files
// unit, every SQLite directory, every destination, the data directory), and
// anything that already exists where the restore writes counts as live too.
// A database name is live when that database exists on the target's server.
// Only a caller allowed to restore over live data (an admin, or the local
// CLI) may go on; such a restore always takes a safety backup first.

import path from 'node:path';
import type { Config } from '../../config/types.ts';
import { SafeholdError } from '../../core/errors.ts';
import { existsNoFollow, realTarget } from '../../engine/restore/no-follow.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';

/** One reason a restore touches live data, in words for logs, errors and the audit log. */
export type LiveHit = string;

interface KnownPlace {
  real: string;
  what: string;
}

/** Every file system place the configuration names as live, resolved to real paths. */
export function knownLivePlaces(config: Config): KnownPlace[] {
  const out: KnownPlace[] = [];
  const add = (p: string, what: string) => out.push({ real: realTarget(p), what });
  for (const t of Object.values(config.targets)) {
    if (t.kind === 'files') {
      for (const [unit, u] of Object.entries(t.units)) for (const p of u.paths) add(p, `files of ${t.name}/${unit}`);
    } else if (t.kind === 'sqlite') add(t.dir, `the SQLite databases of ${t.name}`);
  }
  for (const d of Object.values(config.destinations)) {
    if (d.type === 'repository' && d.remote !== null) continue; // not on this machine's file system
    add(d.path, `the ${d.type} of destination ${d.name}`);
  }
  if (config.settings.dataDir) add(config.settings.dataDir, "Safehold's data directory");
  return out;
}

/** `a` is `b` or lies below it (both absolute, normalised paths). */
export function within(a: string, b: string): boolean {
  return a === b || b === '/' || a.startsWith(`${b}/`);
}

/**
 * What live data writing at each of `places` (real, absolute paths) would
 * touch: a known place it lies in or contains, or something already there.
 */
export function filesLiveHits(config: Config, places: readonly string[]): LiveHit[] {
  const known = knownLivePlaces(config);
  const hits: LiveHit[] = [];
  for (const p of new Set(places)) {
    const why = known.filter((k) => within(p, k.real) || within(k.real, p)).map((k) => k.what);
    if (existsNoFollow(p)) why.push('exists already');
    if (why.length > 0) hits.push(`${p} (${[...new Set(why)].join('; ')})`);
  }
  return hits;
}

/** The real places a files restore writes: `root` itself, or `root` + each path. */
export function writtenPlaces(root: string, paths: readonly string[] | null): string[] {
  const real = realTarget(root);
  if (!paths || paths.includes('/')) return [real];
  return paths.map((p) => path.join(real, p));
}

/** Whether restoring into database `name` of `target` would overwrite one that exists. */
export async function databaseLiveHits(target: PlanTarget, name: string): Promise<LiveHit[]> {
  if (!target.db) return [];
  return (await target.db.exists(name)) ? [`database ${name} of ${target.name} (exists already)`] : [];
}

/**
 * Refuses (FORBIDDEN) a restore that touches live data when the caller may
 * not, and one that would skip the safety backup when it may.
 */
export function requireLiveAllowed(
  hits: readonly LiveHit[],
  o: { allowLive: boolean; safetyBackup: boolean; what: string },
): void {
  if (hits.length === 0) return;
  const list = hits.join('; ');
  if (!o.allowLive) {
    throw new SafeholdError(
      'FORBIDDEN',
      `${o.what} would overwrite live data (${list}): that needs the admin role; restore into a new directory or database name instead`,
      {
        details: { live: [...hits] },
      },
    );
  }
  if (!o.safetyBackup) {
    throw new SafeholdError(
      'USAGE',
      `${o.what} would overwrite live data (${list}): such a restore always takes a safety backup first; do not turn it off`,
      {
        details: { live: [...hits] },
      },
    );
  }
}
