// Checks of a plan's destination before and during a run: reachable and
// initialised (S3 step 3; with requireMount, the path must be a mount
// point), and free space above the threshold (S3 step 4, S4 step 2). A
// directory destination needs only to exist (and be mounted when required).
// A remote repository (s3:, sftp:) is checked through its backend (reached,
// initialised); mount points and free space apply to local ones only (the
// configuration refuses requireMount and minFree on a remote one).

import fs from 'node:fs';
import path from 'node:path';
import type { Destination, RepositoryDestination } from '../../config/types.ts';
import type { Backend } from '../../repo/backend/backend.ts';
import { formatBytes } from '../../core/format.ts';
import type { AlertEvent } from '../../core/alert-event.ts';
import { initCommandFor, openDestinationBackend } from './destination-repo.ts';

export type CheckOutcome = { ok: true } | { ok: false; reason: string; space?: { free: number; need: number } };

/** True when `p` is a mount point: its device differs from its parent's, or it is '/'. */
export function isMountPoint(p: string): boolean {
  const abs = path.resolve(p);
  if (abs === '/') return true;
  const here = fs.statSync(abs);
  const parent = fs.statSync(path.dirname(abs));
  return here.dev !== parent.dev || here.ino === parent.ino;
}

/** `configFile` (the configuration's file) goes into the hint to initialise a repository. */
export async function checkReachable(d: Destination, configFile: string): Promise<CheckOutcome> {
  if (d.type === 'repository' && d.remote !== null) return checkRemoteRepository(d, configFile);
  return checkLocal(d, configFile);
}

/** A remote repository: its backend opens and its config file is there. */
async function checkRemoteRepository(d: RepositoryDestination, configFile: string): Promise<CheckOutcome> {
  let backend: Backend | null = null;
  try {
    backend = openDestinationBackend(d);
    if (!(await backend.exists())) return notInitialised(d, configFile);
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: `destination ${d.name} (${d.path}) is not reachable: ${(e as Error).message}` };
  } finally {
    await backend?.close().catch(() => {});
  }
}

function notInitialised(d: Destination, configFile: string): CheckOutcome {
  return {
    ok: false,
    reason: `destination ${d.name} (${d.path}) is not initialised: run '${initCommandFor(configFile, d.name)}'`,
  };
}

function checkLocal(d: Destination, configFile: string): CheckOutcome {
  let st: fs.Stats;
  try {
    st = fs.statSync(d.path);
  } catch (e) {
    return {
      ok: false,
      reason: `destination ${d.name} (${d.path}) is not reachable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    };
  }
  if (!st.isDirectory()) return { ok: false, reason: `destination ${d.name} (${d.path}) is not a directory` };
  if (d.requireMount) {
    // The repository may be the mount point itself or live directly below one.
    const mounted = isMountPoint(d.path) || isMountPoint(path.dirname(path.resolve(d.path)));
    if (!mounted)
      return { ok: false, reason: `destination ${d.name} (${d.path}) is not mounted (requireMount is set)` };
  }
  if (d.type === 'repository' && !fs.existsSync(path.join(d.path, 'config'))) return notInitialised(d, configFile);
  return { ok: true };
}

export function freeSpace(p: string): { free: number; total: number } {
  const s = fs.statfsSync(p);
  return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
}

export function checkFreeSpace(d: Destination): CheckOutcome {
  // A remote repository has no file system to measure (the configuration refuses minFree on one).
  if (!d.minFree || (d.type === 'repository' && d.remote !== null)) return { ok: true };
  let space: { free: number; total: number };
  try {
    space = freeSpace(d.path);
  } catch (e) {
    return { ok: false, reason: `cannot read the free space of ${d.path}: ${(e as Error).message}` };
  }
  const need = 'bytes' in d.minFree ? d.minFree.bytes : Math.ceil(d.minFree.fraction * space.total);
  if (space.free < need) {
    const want =
      'bytes' in d.minFree ? formatBytes(need) : `${(d.minFree.fraction * 100).toFixed(0)} % (${formatBytes(need)})`;
    return {
      ok: false,
      reason: `destination ${d.name} has ${formatBytes(space.free)} free, below the threshold of ${want}`,
      space: { free: space.free, need },
    };
  }
  return { ok: true };
}

/** The 'low-space' alert for a failed free-space check. */
export function lowSpaceAlert(d: Destination, space: { free: number; need: number }, reason: string): AlertEvent {
  return {
    event: 'low-space',
    severity: 'warning',
    summary: reason,
    details: { destination: d.name, path: d.path, freeBytes: space.free, thresholdBytes: space.need },
  };
}
