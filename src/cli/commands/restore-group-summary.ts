// The words of a group restore's plan (plans/restore/group-restore-plan.ts)
// on the command line: what would be stopped, saved by the safety backup,
// replaced, removed and which hooks run. `--dry-run` prints it; the typed
// confirmation shows it before asking. Also the result's one line on the
// safety backup, which says what really became of it.

import type { GroupRestorePlan, GroupRestoreResult } from '../../plans/restore/restore-flow.ts';

const unitName = (target: string, unit: string | null) => `${target}/${unit ?? ''}`;
const entries = (n: number) => `${n} ${n === 1 ? 'entry' : 'entries'}`;

export function planSummary(p: GroupRestorePlan): string[] {
  const out = [
    `group ${p.group} from ${p.from}: group run ${p.groupRun} (taken ${p.takenAt}, ${p.snapshots.length} snapshot(s))`,
    p.touchesLive
      ? `live data: YES, this restore overwrites: ${p.overLiveData.join('; ')}`
      : 'live data: no, everything goes to new database names and new places',
  ];
  if (p.refusal) out.push(`refused: ${p.refusal}`);
  out.push('hooks:');
  for (const h of p.hooks) out.push(`  ${h.step}${h.hook ? ` (${h.hook})` : ''}: ${h.runs ? `runs, ${h.why}` : h.why}`);
  const s = p.safetyBackup;
  out.push(s.runs ? `safety backup: ${s.why}: ${s.saves.join('; ')}` : `safety backup: ${s.why}`);
  if (p.databases.length > 0) out.push('databases:');
  for (const d of p.databases) {
    const what = d.physical ? 'the server, unpacked into the new data directory' : 'into database';
    out.push(
      `  ${unitName(d.target, d.unit)} ${what} ${d.into}: ${d.replaces ? 'REPLACED (it exists now)' : 'new'} (snapshot ${d.snapshot.slice(0, 8)})`,
    );
  }
  if (p.files.length > 0) out.push('files:');
  for (const f of p.files) {
    out.push(
      `  ${unitName(f.target, f.unit)}: ${f.places.join(', ')} emptied, then restored from snapshot ${f.snapshot.slice(0, 8)}: ${entries(f.writes)} written, ${f.replaces} of them replacing what exists now`,
    );
    if (f.deleteCount > 0) {
      out.push(`    removed (exist now, not in the snapshot): ${entries(f.deleteCount)}`);
      for (const d of f.deletes) out.push(`      ${d}`);
      if (f.deletes.length < f.deleteCount) out.push('      …');
    } else out.push('    removed: nothing (everything there now is in the snapshot)');
  }
  return out;
}

/** What became of the safety backup, in words (never "none" for one that was asked for). */
export function safetyLine(r: GroupRestoreResult): string {
  switch (r.safetyState) {
    case 'taken':
      return `safety backup ${r.safety?.groupRun} (${r.safety?.snapshots.length} snapshot(s))`;
    case 'not-needed':
      return 'safety backup not needed (nothing that existed was overwritten)';
    case 'off':
      return 'no safety backup (--no-safety-backup)';
    case 'not-reached':
      return 'no safety backup taken (the restore stopped before that step)';
  }
}
