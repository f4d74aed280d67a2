// Step S4.8 for backups and exports: one unit's data into the plan's
// destination. A repository gets a snapshot (files units through the
// archiver with the unit's previous snapshot as parent; command and device
// units as one stream); a directory destination gets a new closed generation
// (a .tar.zst of a files unit, the raw stream of other kinds), written under
// a temporary name and renamed (engine/directory/generations.ts). A retry first looks
// for what the run it retries already saved (completedEarlier).

import path from 'node:path';
import type { Readable } from 'node:stream';
import type { DirectoryDestination } from '../../config/types.ts';
import { SafeholdError, isSafeholdError } from '../../core/errors.ts';
import { backup } from '../../engine/backup/archiver.ts';
import { backupStream } from '../../engine/backup/stream-archiver.ts';
import { GROUP_BYTES } from '../../engine/backup/ordered-saver.ts';
import { closedGenerations, cleanTemporaries, writeGeneration } from '../../engine/directory/generations.ts';
import type { GenerationScheme } from '../../engine/directory/generations.ts';
import { tarStream } from '../../engine/directory/tar-writer.ts';
import { findSnapshot, listSnapshots } from '../../repo/snapshot.ts';
import { isOfUnit, originOf } from '../../repo/snapshot-tags.ts';
import type { BlobCompression } from '../../repo/compression.ts';
import type { SnapshotMeta } from '../../repo/snapshot.ts';
import { physicalBackupOf } from './physical.ts';
import type { ExpandedTask } from '../run/expand.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';
import type { TaskEnv } from './task-env.ts';
import { TaskStop } from './task-env.ts';

export async function backupOne(
  env: TaskEnv,
  task: ExpandedTask,
  target: PlanTarget,
  state: 'persisted' | 'running',
  tags: string[],
): Promise<{ id: string; bytes: number }> {
  if (env.destination.type === 'directory') return writeDirectory(env, env.destination, task, target, state);
  const repo = env.repo!;
  const t = target.config;
  const before = repo.added.bytes;
  if (t.kind === 'files') {
    const unit = t.units[task.unit!]!;
    const parent = await findSnapshot(repo, 'latest', { paths: [...unit.paths] }).catch((e: unknown) => {
      if (isSafeholdError(e, 'NOT_FOUND')) return null;
      throw e;
    });
    const group = task.activity.group ? env.config.groups[task.activity.group] : undefined;
    const meta: SnapshotMeta | undefined = group
      ? {
          group: `${group.name}/${env.rootRunId}`,
          online: group.mode !== 'quiesced',
          consistent: group.mode !== 'independent',
        }
      : undefined;
    const r = await backup(repo, {
      paths: [...unit.paths],
      excludes: [...unit.exclude],
      tags,
      parent,
      signal: env.signal,
      ...(meta ? { meta } : {}),
    });
    if (r.errors.length > 0)
      throw new TaskStop(
        'failed',
        `${r.errors.length} file(s) could not be read, e.g. ${r.errors[0]!.path}: ${r.errors[0]!.message} (snapshot ${r.id.slice(0, 8)} saved)`,
      );
    return { id: r.id, bytes: repo.added.bytes - before };
  }
  if (target.db) {
    const d = await dbBackup(env, task, target);
    try {
      const r = await backupStream(repo, d.stream, {
        filename: streamName(task, target, state),
        tags,
        signal: env.signal,
        meta: d.meta,
        chunker: DUMP_CHUNKER,
        compression: DUMP_COMPRESSION,
        groupBytes: DUMP_GROUP_BYTES,
        ...(d.lateMeta ? { lateMeta: d.lateMeta } : {}),
      });
      return { id: r.id, bytes: repo.added.bytes - before };
    } catch (e) {
      d.stream.destroy(); // a dump never read ends (and so does its digest's transaction)
      throw e;
    }
  }
  const r = await backupStream(repo, await sourceStream(task, target, state, env.signal), {
    filename: streamName(task, target, state),
    tags,
    signal: env.signal,
  });
  return { id: r.id, bytes: repo.added.bytes - before };
}

/**
 * Chunk sizes for database dumps: much smaller than the repository's 1 MiB
 * average, so a day's changed rows re-store about 64 KiB around each change
 * instead of a megabyte; the smaller blobs are compressed with the 'dump'
 * profile (zstd's optimal parser on text that compresses well) to keep them as
 * small as restic's 1 MiB blobs (bench/databases.sh measures both).
 */
export const DUMP_CHUNKER = { minSize: 16 * 1024, avgSize: 64 * 1024, maxSize: 512 * 1024 };
export const DUMP_COMPRESSION: BlobCompression = 'dump';
/** New dump chunks are stored in groups of about 1 MiB, compressed together (as well as restic's 1 MiB blobs), yet deduplicated one by one. */
export const DUMP_GROUP_BYTES = GROUP_BYTES;

/**
 * A database unit's dump and what its snapshot records: format, online or
 * not, its group run, and the digest: of exactly the dumped state where the
 * driver can (postgres), else taken just before the dump.
 */
async function dbBackup(
  env: TaskEnv,
  task: ExpandedTask,
  target: PlanTarget,
  withDigest = true,
): Promise<{ stream: Readable; meta: SnapshotMeta; lateMeta?: () => Promise<SnapshotMeta> }> {
  const db = target.db!;
  const group = task.activity.group ? env.config.groups[task.activity.group] : undefined;
  const meta: SnapshotMeta = {
    online: group?.mode !== 'quiesced',
    ...(group ? { group: `${group.name}/${env.rootRunId}`, consistent: group.mode !== 'independent' } : {}),
  };
  if (task.unit === null) {
    // A physical group: the whole PostgreSQL server at one instant.
    // With its WAL range, so that it is a base backup for point-in-time recovery too.
    const b = await physicalBackupOf(target, env.signal);
    const lateMeta = async (): Promise<SnapshotMeta> => {
      const pitr = await b.pitr();
      return pitr ? { pitr } : {};
    };
    return { stream: b.stream, meta: { ...meta, format: b.format }, lateMeta };
  }
  if (!withDigest) {
    const b = await db.backup(task.unit, { signal: env.signal });
    return { stream: b.stream, meta: { ...meta, format: b.format } };
  }
  const before = db.capabilities.snapshotDigest ? null : await db.digest(task.unit);
  const b = await db.backup(task.unit, { signal: env.signal, withDigest: true });
  const digested = b.digest;
  if (digested) {
    const lateMeta = async (): Promise<SnapshotMeta> => ({ digest: { tables: { ...(await digested).tables } } });
    return { stream: b.stream, meta: { ...meta, format: b.format }, lateMeta };
  }
  const digest = before ?? (await db.digest(task.unit));
  return { stream: b.stream, meta: { ...meta, format: b.format, digest: { tables: { ...digest.tables } } } };
}

/** The unit's backup stream; a device that has not started answering is given up on when `signal` fires. */
async function sourceStream(
  task: ExpandedTask,
  target: PlanTarget,
  state: 'persisted' | 'running',
  signal: AbortSignal,
): Promise<Readable> {
  if (!target.device) return target.commandStream(task.unit!);
  const pending = target.device.backup({ unit: task.unit, kind: task.unit === null ? 'backup' : 'export', state });
  signal.throwIfAborted();
  return new Promise<Readable>((resolve, reject) => {
    const onAbort = () => {
      reject(signal.reason);
      void pending.then(
        (s) => s.destroy(),
        () => {},
      );
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (s) => {
        signal.removeEventListener('abort', onAbort);
        resolve(s);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

function streamName(task: ExpandedTask, target: PlanTarget, state: string): string {
  return `${task.target}${task.unit ? `-${task.unit}` : ''}${target.device ? `-${state}` : ''}.bak`.replace(
    /[/\0]/g,
    '_',
  );
}

/** The generation scheme of one unit in a directory destination: `<dir>/<target>[-<unit>][-<state>].tar.zst|.bak`. */
export function unitScheme(
  d: DirectoryDestination,
  task: { target: string; unit: string | null },
  kind: 'files' | 'stream',
  state: string | null,
): GenerationScheme {
  const base = `${task.target}${task.unit ? `-${task.unit}` : ''}${state ? `-${state}` : ''}`.replace(/[/\0]/g, '_');
  return {
    dir: d.path,
    name: kind === 'files' ? `${base}.tar.zst` : `${base}.bak`,
    keep: d.generations.keep,
    naming: d.generations.naming,
  };
}

async function writeDirectory(
  env: TaskEnv,
  d: DirectoryDestination,
  task: ExpandedTask,
  target: PlanTarget,
  state: 'persisted' | 'running',
): Promise<{ id: string; bytes: number }> {
  const t = target.config;
  const scheme = unitScheme(d, task, t.kind === 'files' ? 'files' : 'stream', target.device ? state : null);
  await cleanTemporaries(scheme);
  const errors: string[] = [];
  let data: Readable;
  if (target.db) data = (await dbBackup(env, task, target, false)).stream;
  else if (t.kind === 'files') {
    const unit = t.units[task.unit!]!;
    data = tarStream([...unit.paths], {
      excludes: [...unit.exclude],
      onError: (p, e) => errors.push(`${p}: ${e.message}`),
    });
  } else data = await sourceStream(task, target, state, env.signal);
  const w = await writeGeneration(scheme, data, { clock: env.clock, signal: env.signal });
  const name = path.basename(w.file);
  if (errors.length > 0)
    throw new TaskStop(
      'failed',
      `${errors.length} file(s) could not be read, e.g. ${errors[0]} (generation ${name} written)`,
    );
  return { id: name, bytes: w.size };
}

/**
 * On a retry: the snapshots (repository) or generation (directory) that the
 * chain's first run already completed for this task, or null.
 */
export async function completedEarlier(
  env: TaskEnv,
  task: ExpandedTask,
  target: PlanTarget,
): Promise<{ snapshots: string[]; reason: string } | null> {
  const d = env.destination;
  if (d.type === 'directory') {
    const kind = target.config.kind === 'files' ? 'files' : 'stream';
    const scheme = unitScheme(d, task, kind, target.device ? 'persisted' : null);
    const newest = closedGenerations(scheme)[0];
    if (!newest || newest.mtime < env.rootStartedAt) return null;
    return {
      snapshots: [],
      reason: `already completed by run ${env.rootRunId.slice(0, 8)}: ${path.basename(newest.file)} (not repeated)`,
    };
  }
  if (!env.repo) throw new SafeholdError('INTERNAL', 'repository destination without a repository');
  const found = (await listSnapshots(env.repo)).filter((s) => {
    const o = originOf(s);
    return o.run === env.rootRunId && o.plan === env.plan.name && isOfUnit(s, task.target, task.unit);
  });
  if (found.length === 0) return null;
  return {
    snapshots: found.map((s) => s.id),
    reason: `already completed by run ${env.rootRunId.slice(0, 8)}: snapshot ${found.map((s) => s.id.slice(0, 8)).join(', ')} (not repeated)`,
  };
}
