// The restore wizard (S7 safe group restore): 1. the group and the
// repository it was backed up to; 2. the snapshot (latest, or one group run);
// 3. where to (files under a directory, databases under a name suffix, or in
// place — admins only), force and the safety backup; 4. confirm → POST
// /api/restores, and the result with the safety backup made first.

import { useMemo, useState } from 'react';
import { api, qs, roleAllows } from '../api.ts';
import type { Role } from '../api.ts';
import { Link } from '../router.tsx';
import { useApi } from '../use-api.ts';
import { time, unitName } from '../format.ts';
import type { Page, Plan, RestoreResult, Run } from '../types.ts';
import { Badge, ErrorNote, PageHeader, WizardSteps } from '../components/status.tsx';
import { UnitRestore } from './restore-unit.tsx';

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
        <label className="check"><input type="radio" name="mode" value="group" checked={mode === 'group'} onChange={() => setMode('group')} /> Consistency group (safe restore)</label>
        <label className="check"><input type="radio" name="mode" value="unit" checked={mode === 'unit'} onChange={() => setMode('unit')} /> Single unit (one snapshot)</label>
      </div>
      {mode === 'unit' ? <UnitRestore role={role} /> : <GroupRestore role={role} />}
    </>
  );
}

function GroupRestore({ role }: { role: Role }) {
  const plans = useApi<{ items: Plan[] }>('/api/plans');
  const groups = useMemo(() => groupChoices(plans.data?.items ?? []), [plans.data]);
  const [step, setStep] = useState(1);
  const [choice, setChoice] = useState<GroupChoice | null>(null);
  const [snapshot, setSnapshot] = useState('latest');
  const [filesTo, setFilesTo] = useState('');
  const [intoSuffix, setIntoSuffix] = useState('');
  const [force, setForce] = useState(false);
  const [safetyBackup, setSafetyBackup] = useState(true);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<RestoreResult | null>(null);
  const runs = useApi<Page<Run>>(choice ? `/api/runs${qs({ plan: choice.plans[0], limit: 30 })}` : null);
  const inPlace = filesTo.trim() === '' && intoSuffix.trim() === '';
  const isAdmin = roleAllows(role, 'admin');

  const submit = async () => {
    if (!choice) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api<RestoreResult>('/api/restores', {
        method: 'POST',
        body: { group: choice.group, from: choice.from, snapshot, filesTo: filesTo.trim() || null, intoSuffix: intoSuffix.trim() || null, force, safetyBackup },
      });
      setResult(r);
      setStep(5);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const restart = () => { setStep(1); setResult(null); setError(null); };
  const usableRuns = (runs.data?.items ?? []).filter((r) => r.status === 'succeeded' || r.status === 'partial');

  return (
    <>
      <WizardSteps names={['Group', 'Snapshot', 'Target', 'Confirm', 'Result']} step={step} />
      <ErrorNote error={plans.error ?? error} />

      {step === 1 ? (
        <section className="card wizard" id="step-group">
          <h2>Which group?</h2>
          {groups.length === 0 && plans.data ? <p className="muted">No plan backs up a group: group restores need an activity with a group.</p> : null}
          {groups.map((g) => (
            <label key={g.key} className="choice">
              <input type="radio" name="group" value={g.key} checked={choice?.key === g.key} onChange={() => { setChoice(g); setSnapshot('latest'); }} />
              <span><b>{g.group}</b> from <b>{g.from}</b> <span className="muted small">(plan {g.plans.join(', ')})</span></span>
            </label>
          ))}
          <div className="buttons"><button type="button" disabled={!choice} onClick={() => setStep(2)}>Next</button></div>
        </section>
      ) : null}

      {step === 2 && choice ? (
        <section className="card wizard" id="step-snapshot">
          <h2>Which snapshot of {choice.group}?</h2>
          <label className="choice">
            <input type="radio" name="snapshot" value="latest" checked={snapshot === 'latest'} onChange={() => setSnapshot('latest')} />
            <span><b>The latest</b> complete group backup</span>
          </label>
          {usableRuns.map((r) => (
            <label key={r.id} className="choice">
              <input type="radio" name="snapshot" value={r.id} checked={snapshot === r.id} onChange={() => setSnapshot(r.id)} />
              <span>run <span className="mono">{r.id}</span> of {time(r.startedAt)} <Badge value={r.status} /></span>
            </label>
          ))}
          <label>
            or a group run id
            <input name="snapshot-id" value={snapshot === 'latest' ? '' : snapshot} placeholder="run id or unique prefix" onChange={(e) => setSnapshot(e.target.value.trim() || 'latest')} />
          </label>
          <div className="buttons"><button type="button" className="secondary" onClick={() => setStep(1)}>Back</button><button type="button" onClick={() => setStep(3)}>Next</button></div>
        </section>
      ) : null}

      {step === 3 ? (
        <section className="card wizard" id="step-target">
          <h2>Where to?</h2>
          <label>
            Files into this directory (on the server)
            <input name="filesTo" value={filesTo} placeholder="/srv/restore" onChange={(e) => setFilesTo(e.target.value)} />
          </label>
          <label>
            Databases under their name plus this suffix
            <input name="intoSuffix" value={intoSuffix} placeholder="_restored" onChange={(e) => setIntoSuffix(e.target.value)} />
          </label>
          {inPlace ? (
            <p className={isAdmin ? 'warning' : 'error'} role="note">
              {isAdmin ? 'Both empty: the restore goes IN PLACE, over the live data.' : 'A restore in place needs the admin role: give a directory or a suffix.'}
            </p>
          ) : null}
          <label className="check"><input type="checkbox" name="force" checked={force} onChange={(e) => setForce(e.target.checked)} /> Force: restore even when the check hook says the application runs</label>
          <label className="check"><input type="checkbox" name="safetyBackup" checked={safetyBackup} onChange={(e) => setSafetyBackup(e.target.checked)} /> Safety backup of what is overwritten first</label>
          <div className="buttons"><button type="button" className="secondary" onClick={() => setStep(2)}>Back</button><button type="button" disabled={inPlace && !isAdmin} onClick={() => setStep(4)}>Next</button></div>
        </section>
      ) : null}

      {step === 4 && choice ? (
        <section className="card wizard" id="step-confirm">
          <h2>Confirm</h2>
          <dl className="facts">
            <dt>Group</dt><dd>{choice.group}</dd>
            <dt>From</dt><dd>{choice.from}</dd>
            <dt>Snapshot</dt><dd className="mono">{snapshot}</dd>
            <dt>Files to</dt><dd>{filesTo.trim() || (inPlace ? 'in place' : '—')}</dd>
            <dt>Database suffix</dt><dd>{intoSuffix.trim() || (inPlace ? 'in place' : '—')}</dd>
            <dt>Force</dt><dd>{force ? 'yes' : 'no'}</dd>
            <dt>Safety backup</dt><dd>{safetyBackup ? 'yes' : 'no'}</dd>
          </dl>
          <div className="buttons">
            <button type="button" className="secondary" onClick={() => setStep(3)} disabled={busy}>Back</button>
            <button type="button" className={inPlace ? 'danger' : ''} onClick={submit} disabled={busy}>{busy ? 'Restoring…' : inPlace ? 'Restore in place' : 'Restore'}</button>
          </div>
        </section>
      ) : null}

      {step === 5 && result ? (
        <section className="card wizard" id="restore-result" data-ok={String(result.ok)}>
          <h2>{result.ok ? 'Restored' : 'Restore failed'} <Badge value={result.ok ? 'succeeded' : 'failed'} /></h2>
          {result.reason ? <p className={result.ok ? 'muted' : 'error'}>{result.failedStep ? `${result.failedStep}: ` : ''}{result.reason}</p> : null}
          <dl className="facts">
            <dt>Group run</dt><dd className="mono">{result.groupRun ?? '—'}</dd>
            <dt>Safety backup</dt>
            <dd id="safety">{result.safety ? <>group run <span className="mono">{result.safety.groupRun}</span>, {result.safety.snapshots.length} snapshot(s)</> : 'none'}</dd>
            {result.rollback ? <><dt>Rollback</dt><dd>{result.rollback}</dd></> : null}
          </dl>
          {result.restored.length ? (
            <div className="table-wrap">
              <table id="restored">
                <thead><tr><th>Unit</th><th>Snapshot</th><th>Into</th></tr></thead>
                <tbody>{result.restored.map((r) => <tr key={`${r.target}/${r.unit}`}><td>{unitName(r.target, r.unit)}</td><td className="mono">{r.snapshot.slice(0, 12)}</td><td>{r.into}</td></tr>)}</tbody>
              </table>
            </div>
          ) : null}
          <details open={!result.ok}>
            <summary>Log ({result.log.length} lines)</summary>
            <div className="log">{result.log.map((l, i) => <div key={i} className={`log-line log-${l.level}`}><span className="muted">{l.step}</span> {l.message}</div>)}</div>
          </details>
          <div className="buttons"><button type="button" className="secondary" onClick={restart}>Another restore</button> <Link to="/">Dashboard</Link></div>
        </section>
      ) : null}
    </>
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
