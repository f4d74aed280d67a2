// The safety backup: before a restore overwrites live data, the current
// state of every database and path it is about to replace is backed up into
// the same repository, so one command can roll the restore back. A group
// restore saves its items as a group run of its own (`<group>/safety-<id>`);
// a unit restore saves its one item.

import { randomBytes } from 'node:crypto';
import type { Group } from '../../config/types.ts';
import type { Repository } from '../../repo/repository.ts';
import type { SnapshotMeta } from '../../repo/snapshot.ts';
import { groupTag, unitTags } from '../../repo/snapshot-tags.ts';
import { backup } from '../../engine/backup/archiver.ts';
import { backupStream } from '../../engine/backup/stream-archiver.ts';
import { existsNoFollow } from '../../engine/restore/no-follow.ts';
import type { PlanTarget } from '../../drivers/target/targets.ts';
import { DUMP_CHUNKER, DUMP_COMPRESSION, DUMP_GROUP_BYTES } from '../task/task-backup.ts';

/** One live thing a restore is about to replace. */
export type SafetyItem =
  | { kind: 'database'; target: PlanTarget; unit: string; into: string }
  | { kind: 'files'; target: string; unit: string | null; paths: readonly string[] };

export type SafetyLog = (msg: string) => void;

export function newSafetyRun(group: string): string {
  return `${group}/safety-${randomBytes(6).toString('hex')}`;
}

/** Backs up each item that exists now; null when none does. */
export async function safetyBackup(
  repo: Repository,
  items: readonly SafetyItem[],
  group: Group | null,
  log: SafetyLog,
): Promise<{ groupRun: string | null; snapshots: string[] } | null> {
  const groupRun = group ? newSafetyRun(group.name) : null;
  const meta: SnapshotMeta = { online: false, consistent: true, ...(groupRun ? { group: groupRun } : {}) };
  const made: string[] = [];
  for (const item of items) {
    const id = await saveItem(repo, item, group, meta, log);
    if (id) made.push(id);
  }
  return made.length > 0 ? { groupRun, snapshots: made } : null;
}

async function saveItem(
  repo: Repository,
  item: SafetyItem,
  group: Group | null,
  meta: SnapshotMeta,
  log: SafetyLog,
): Promise<string | null> {
  // Tagged with the unit restored (a rollback restores it under the same name or suffix).
  const unit = item.unit;
  const targetName = item.kind === 'database' ? item.target.name : item.target;
  const tags = ['safety', ...(group ? [groupTag(group.name)] : []), ...unitTags(targetName, unit || null)];
  if (item.kind === 'database') {
    const db = item.target.db;
    if (!db || !(await db.exists(item.into))) return null;
    const digest = await db.digest(item.into);
    const b = await db.backup(item.into);
    const r = await backupStream(repo, b.stream, {
      filename: `${targetName}-${item.into}.bak`,
      tags,
      meta: { ...meta, format: b.format, digest: { tables: { ...digest.tables } } },
      chunker: DUMP_CHUNKER,
      compression: DUMP_COMPRESSION,
      groupBytes: DUMP_GROUP_BYTES,
    });
    log(`${targetName}/${item.into} saved as snapshot ${r.id.slice(0, 8)}`);
    return r.id;
  }
  const paths = item.paths.filter((p) => existsNoFollow(p));
  if (paths.length === 0) return null;
  const r = await backup(repo, { paths, tags, meta });
  log(`${paths.join(', ')} saved as snapshot ${r.id.slice(0, 8)}`);
  return r.id;
}
