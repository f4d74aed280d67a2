// The restore page: the mode (a consistency group, or a single unit, see
// restore-unit.tsx) and the group restore wizard (S7 safe group restore) on
// the shared scaffold of components/restore-wizard.tsx: 1. the group and the
// repository it was backed up to; 2. the snapshot (latest, or one group run);
// 3. where to (files under a directory, databases under a name suffix, or in
// place — admins only), force and the safety backup; 4. confirm, with the
// API's dry run of the request (restore-group-plan.tsx) → POST
// /api/restores, and the result with what became of the safety backup.

import { useCallback, useMemo, useState } from 'react';
import { api, qs } from '../api.ts';
import { Link } from '../router.tsx';
import { useApi } from '../use-api.ts';
import { time, unitName } from '../format.ts';
import type { GroupRestoreRequest, Page, Plan, PlanList, RestoreResult, Role, Run } from '../types.ts';
import { Badge, PageHeader } from '../components/status.tsx';
import { Facts, yesNo } from '../components/facts.tsx';
import { Choice, RestoreWizard } from '../components/restore-wizard.tsx';
import type { ResultView } from '../components/restore-wizard.tsx';
import { UnitRestore } from './restore-unit.tsx';
import { GroupPlanPreview, safetyText } from './restore-group-plan.tsx';

interface GroupChoice {
  key: string;
  group: string;
  from: string;
  plans: string[];
}

export function RestorePage({ role }: { role: Role }) {
  const [mode, setMode] = useState<'group' | 'unit'>('group');
  return (
    <>
      <PageHeader title="Restore" />
      <div className="restore-mode" role="radiogroup" aria-label="Restore mode">
        <label className="check">
          <input type="radio" name="mode" value="group" checked={mode === 'group'} onChange={() => setMode('group')} />{' '}
          Consistency group (safe restore)
        </label>
        <label className="check">
          <input type="radio" name="mode" value="unit" checked={mode === 'unit'} onChange={() => setMode('unit')} />{' '}
          Single unit (one snapshot)
        </label>
      </div>
      {mode === 'unit' ? <UnitRestore role={role} /> : <GroupRestore role={role} />}
    </>
  );
}

function GroupRestore({ role }: { role: Role }) {
  const plans = useApi<PlanList>('/api/plans');
  const groups = useMemo(() => groupChoices(plans.data?.items ?? []), [plans.data]);
  const [choice, setChoice] = useState<GroupChoice | null>(null);
  const [snapshot, setSnapshot] = useState('latest');
  const [filesTo, setFilesTo] = useState('');
  const [intoSuffix, setIntoSuffix] = useState('');
  const [force, setForce] = useState(false);
  const [safetyBackup, setSafetyBackup] = useState(true);
  const [planned, setPlanned] = useState<{ plan: RestoreResult['plan']; request: string } | null>(null);
  const onPlan = useCallback((plan: RestoreResult['plan'], request: string) => setPlanned({ plan, request }), []);
  const runs = useApi<Page<Run>>(choice ? `/api/runs${qs({ plan: choice.plans[0], limit: 30 })}` : null);
  const usableRuns = (runs.data?.items ?? []).filter((r) => r.status === 'succeeded' || r.status === 'partial');
  const request = (c: GroupChoice): GroupRestoreRequest => ({
    group: c.group,
    from: c.from,
    snapshot,
    filesTo: filesTo.trim() || null,
    intoSuffix: intoSuffix.trim() || null,
    force,
    safetyBackup,
  });
  // The dry run's plan of the request as it is set up now (none while it loads, or after a change).
  const plan = choice && planned?.request === JSON.stringify(request(choice)) ? planned.plan : null;
  // In place as set up, or (the dry run says) over live data all the same.
  const inPlace = (filesTo.trim() === '' && intoSuffix.trim() === '') || plan?.touchesLive === true;
  const pick = (g: GroupChoice) => {
    setChoice(g);
    setSnapshot('latest');
  };
  const orInPlace = (v: string) => v.trim() || (inPlace ? 'in place' : '—');

  return (
    <RestoreWizard
      role={role}
      names={['Group', 'Snapshot', 'Target']}
      loadError={plans.error}
      choice={choice}
      inPlace={inPlace}
      choose={{
        id: 'step-group',
        title: 'Which group?',
        body: <GroupList groups={groups} loaded={plans.data !== null} chosen={choice} onPick={pick} />,
      }}
      snapshot={(c) => ({
        id: 'step-snapshot',
        title: `Which snapshot of ${c.group}?`,
        body: <GroupSnapshot runs={usableRuns} snapshot={snapshot} onChange={setSnapshot} />,
      })}
      place={() => ({
        id: 'step-target',
        title: 'Where to?',
        body: (
          <GroupTarget filesTo={filesTo} intoSuffix={intoSuffix} onFilesTo={setFilesTo} onIntoSuffix={setIntoSuffix} />
        ),
        inPlaceNote: {
          admin: 'Both empty: the restore goes IN PLACE, over the live data.',
          other: 'A restore in place needs the admin role: give a directory or a suffix.',
        },
        options: (
          <GroupOptions force={force} safetyBackup={safetyBackup} onForce={setForce} onSafety={setSafetyBackup} />
        ),
      })}
      confirm={(c) => ({
        id: 'step-confirm',
        facts: [
          { term: 'Group', value: c.group },
          { term: 'From', value: c.from },
          { term: 'Snapshot', value: snapshot, className: 'mono' },
          { term: 'Files to', value: orInPlace(filesTo) },
          { term: 'Database suffix', value: orInPlace(intoSuffix) },
          { term: 'Force', value: yesNo(force) },
          { term: 'Safety backup', value: yesNo(safetyBackup) },
        ],
        extra: <GroupPlanPreview request={request(c)} onPlan={onPlan} />,
        canRestore: plan !== null && plan.refusal === null,
      })}
      restore={(c) => api<RestoreResult>('/api/restores', { method: 'POST', body: request(c) })}
      result={groupResult}
    />
  );
}

interface GroupListProps {
  groups: GroupChoice[];
  loaded: boolean;
  chosen: GroupChoice | null;
  onPick: (g: GroupChoice) => void;
}

function GroupList({ groups, loaded, chosen, onPick }: GroupListProps) {
  return (
    <>
      {groups.length === 0 && loaded ? (
        <p className="muted">No plan backs up a group: group restores need an activity with a group.</p>
      ) : null}
      {groups.map((g) => (
        <Choice key={g.key} name="group" value={g.key} checked={chosen?.key === g.key} onChange={() => onPick(g)}>
          <b>{g.group}</b> from <b>{g.from}</b> <span className="muted small">(plan {g.plans.join(', ')})</span>
        </Choice>
      ))}
    </>
  );
}

function GroupSnapshot({ runs, snapshot, onChange }: { runs: Run[]; snapshot: string; onChange: (s: string) => void }) {
  return (
    <>
      <Choice name="snapshot" value="latest" checked={snapshot === 'latest'} onChange={() => onChange('latest')}>
        <b>The latest</b> complete group backup
      </Choice>
      {runs.map((r) => (
        <Choice key={r.id} name="snapshot" value={r.id} checked={snapshot === r.id} onChange={() => onChange(r.id)}>
          run <span className="mono">{r.id}</span> of {time(r.startedAt)} <Badge value={r.status} />
        </Choice>
      ))}
      <label>
        or a group run id
        <input
          name="snapshot-id"
          value={snapshot === 'latest' ? '' : snapshot}
          placeholder="run id or unique prefix"
          onChange={(e) => onChange(e.target.value.trim() || 'latest')}
        />
      </label>
    </>
  );
}

interface GroupTargetProps {
  filesTo: string;
  intoSuffix: string;
  onFilesTo: (v: string) => void;
  onIntoSuffix: (v: string) => void;
}

function GroupTarget({ filesTo, intoSuffix, onFilesTo, onIntoSuffix }: GroupTargetProps) {
  return (
    <>
      <label>
        Files into this directory (on the server)
        <input name="filesTo" value={filesTo} placeholder="/srv/restore" onChange={(e) => onFilesTo(e.target.value)} />
      </label>
      <label>
        Databases under their name plus this suffix
        <input
          name="intoSuffix"
          value={intoSuffix}
          placeholder="_restored"
          onChange={(e) => onIntoSuffix(e.target.value)}
        />
      </label>
    </>
  );
}

interface GroupOptionsProps {
  force: boolean;
  safetyBackup: boolean;
  onForce: (v: boolean) => void;
  onSafety: (v: boolean) => void;
}

function GroupOptions({ force, safetyBackup, onForce, onSafety }: GroupOptionsProps) {
  return (
    <>
      <label className="check">
        <input type="checkbox" name="force" checked={force} onChange={(e) => onForce(e.target.checked)} /> Force:
        restore even when the check hook says the application runs
      </label>
      <label className="check">
        <input
          type="checkbox"
          name="safetyBackup"
          checked={safetyBackup}
          onChange={(e) => onSafety(e.target.checked)}
        />{' '}
        Safety backup of what is overwritten first
      </label>
    </>
  );
}

function groupResult(r: RestoreResult): ResultView {
  return { id: 'restore-result', ok: r.ok, body: <GroupResult r={r} />, links: <Link to="/">Dashboard</Link> };
}

/** What the restore did: its reason when it failed, the safety backup, the units restored and the log. */
function GroupResult({ r }: { r: RestoreResult }) {
  const safety = safetyText(r);
  return (
    <>
      {r.reason ? (
        <p className={r.ok ? 'muted' : 'error'}>
          {r.failedStep ? `${r.failedStep}: ` : ''}
          {r.reason}
        </p>
      ) : null}
      <Facts
        items={[
          { term: 'Group run', value: r.groupRun ?? '—', className: 'mono' },
          { term: 'Safety backup', value: safety, id: 'safety' },
          r.rollback ? { term: 'Rollback', value: r.rollback } : null,
        ]}
      />
      {r.restored.length ? <RestoredTable restored={r.restored} /> : null}
      <details open={!r.ok}>
        <summary>Log ({r.log.length} lines)</summary>
        <div className="log">
          {r.log.map((l, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: log lines are append-only
            <div key={i} className={`log-line log-${l.level}`}>
              <span className="muted">{l.step}</span> {l.message}
            </div>
          ))}
        </div>
      </details>
    </>
  );
}

function RestoredTable({ restored }: { restored: RestoreResult['restored'] }) {
  return (
    <div className="table-wrap">
      <table id="restored">
        <thead>
          <tr>
            <th>Unit</th>
            <th>Snapshot</th>
            <th>Into</th>
          </tr>
        </thead>
        <tbody>
          {restored.map((r) => (
            <tr key={`${r.target}/${r.unit}`}>
              <td>{unitName(r.target, r.unit)}</td>
              <td className="mono">{r.snapshot.slice(0, 12)}</td>
              <td>{r.into}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** The groups plans back up, with the repository each goes to. */
function groupChoices(plans: Plan[]): GroupChoice[] {
  const m = new Map<string, GroupChoice>();
  for (const p of plans) {
    for (const a of p.activities) {
      if (!a.group || (a.kind !== 'backup' && a.kind !== 'export')) continue;
      const key = `${a.group}@${p.destination}`;
      const c = m.get(key) ?? { key, group: a.group, from: p.destination, plans: [] };
      if (!c.plans.includes(p.name)) c.plans.push(p.name);
      m.set(key, c);
    }
  }
  return [...m.values()];
}
