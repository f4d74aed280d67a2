// The safety backup of S7: before a group restore overwrites anything, the
// current state of every database and path it is about to replace is backed
// up into the same repository, as a group run of its own
// (`<group>/safety-<id>`), so one command can roll the restore back.

import fs from 'node:fs';
import path from 'node:path';
import type { Group } from '../config/types.ts';
import type { Repository } from '../repo/repository.ts';
import type { SnapshotWithId } from '../repo/snapshot.ts';
import { backup } from '../engine/archiver.ts';
import { backupStream } from '../engine/stream-archiver.ts';
import type { GroupRestoreOptions } from './restore-flow.ts';
import { intoName, newSafetyRun } from './restore-flow.ts';
import { DUMP_CHUNKER, DUMP_COMPRESSION, DUMP_GROUP_BYTES } from './task-backup.ts';

/** Backs up what the restore of `snaps` would overwrite; null when nothing would be. */
export async function safetyBackup(repo: Repository, group: Group, snaps: SnapshotWithId[], o: GroupRestoreOptions): Promise<{ groupRun: string; snapshots: string[] } | null> {
  const groupRun = newSafetyRun(group.name);
  const meta = { group: groupRun, online: false, consistent: true };
  const made: string[] = [];
  for (const s of snaps) {
    const targetName = s.tags.find((t) => t.startsWith('target:'))!.slice(7);
    const unit = s.tags.find((t) => t.startsWith('unit:'))?.slice(5) ?? null;
    const tags = ['safety', `group:${group.name}`, `target:${targetName}`, ...(unit ? [`unit:${unit}`] : [])];
    const target = o.targets.find((t) => t.name === targetName)!;
    if (s.kind === 'stream') {
      if (!target.db || unit === null) continue;
      const into = intoName(unit, o.intoSuffix);
      if (!(await target.db.exists(into))) continue;
      const digest = await target.db.digest(into);
      const b = await target.db.backup(into);
      const r = await backupStream(repo, b.stream, { filename: `${targetName}-${into}.bak`, tags, meta: { ...meta, format: b.format, digest: { tables: { ...digest.tables } } }, chunker: DUMP_CHUNKER, compression: DUMP_COMPRESSION, groupBytes: DUMP_GROUP_BYTES });
      made.push(r.id);
      o.log('safety-backup', `${targetName}/${into} saved as snapshot ${r.id.slice(0, 8)}`);
    } else {
      const root = o.filesTo ?? '/';
      const paths = s.paths.map((p) => path.join(root, p)).filter((p) => fs.existsSync(p));
      if (paths.length === 0) continue;
      const r = await backup(repo, { paths, tags, meta });
      made.push(r.id);
      o.log('safety-backup', `${paths.join(', ')} saved as snapshot ${r.id.slice(0, 8)}`);
    }
  }
  return made.length > 0 ? { groupRun, snapshots: made } : null;
}
