// The restore wizard's single-unit mode: 1. a unit (target/unit and the
// repository its snapshots are in, from GET /api/snapshots); 2. one of its
// snapshots; 3. the place — a directory for a files snapshot, a database
// name for a dump (in place, '/' or the unit's own name, is for admins);
// 4. confirm → POST /api/restores/unit, and the result.

import { useMemo, useState } from 'react';
import { api, roleAllows } from '../api.ts';
import type { Role } from '../api.ts';
import { useApi } from '../use-api.ts';
import { bytes, time, unitName } from '../format.ts';
import type { Page, Snapshot } from '../types.ts';
import { Badge, ErrorNote, WizardSteps } from '../components/status.tsx';

interface UnitChoice {
  key: string;
  target: string;
  unit: string | null;
  destination: string;
  snapshots: Snapshot[];
}

interface UnitRestoreResult {
  snapshot: string;
  kind: 'files' | 'database';
  into: string;
  target: string | null;
  unit: string | null;
  inPlace: boolean;
  overLiveData: string[];
  safety: string | null;
  files?: number;
  bytes?: number;
}

type PlaceKind = 'files' | 'database';

export function UnitRestore({ role }: { role: Role }) {
  const snaps = useApi<Page<Snapshot>>('/api/snapshots?limit=500');
  const units = useMemo(() => unitChoices(snaps.data?.items ?? []), [snaps.data]);
  const [step, setStep] = useState(1);
  const [choice, setChoice] = useState<UnitChoice | null>(null);
  const [snapshot, setSnapshot] = useState('');
  const [kind, setKind] = useState<PlaceKind>('files');
  const [dir, setDir] = useState('');
  const [into, setInto] = useState('');
  const [clean, setClean] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<UnitRestoreResult | null>(null);
  const isAdmin = roleAllows(role, 'admin');
  const place = kind === 'files' ? dir.trim() : (into.trim() || choice?.unit || '');
  const inPlace = kind === 'files' ? /^\/+$/.test(place) : place === (choice?.unit ?? '');
  const placeMissing = kind === 'files' && place === '';

  const pick = (u: UnitChoice) => { setChoice(u); setSnapshot(u.snapshots[0]?.snapshot ?? ''); };

  const submit = async () => {
    if (!choice) return;
    setBusy(true);
    setError(null);
    try {
      const body = kind === 'files'
        ? { destination: choice.destination, snapshot, target: place, clean }
        : { destination: choice.destination, snapshot, ...(into.trim() ? { into: into.trim() } : {}), clean };
      setResult(await api<UnitRestoreResult>('/api/restores/unit', { method: 'POST', body }));
      setStep(5);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const restart = () => { setStep(1); setResult(null); setError(null); };

  return (
    <>
      <WizardSteps names={['Unit', 'Snapshot', 'Place', 'Confirm', 'Result']} step={step} />
      <ErrorNote error={snaps.error ?? error} />

      {step === 1 ? (
        <section className="card wizard" id="step-unit">
          <h2>Which unit?</h2>
          {units.length === 0 && snaps.data ? <p className="muted">No snapshots made by plan runs yet.</p> : null}
          {units.map((u) => (
            <label key={u.key} className="choice">
              <input type="radio" name="unit" value={u.key} checked={choice?.key === u.key} onChange={() => pick(u)} />
              <span><b>{unitName(u.target, u.unit)}</b> in <b>{u.destination}</b> <span className="muted small">({u.snapshots.length} snapshot(s))</span></span>
            </label>
          ))}
          <div className="buttons"><button type="button" disabled={!choice} onClick={() => setStep(2)}>Next</button></div>
        </section>
      ) : null}

      {step === 2 && choice ? (
        <section className="card wizard" id="step-unit-snapshot">
          <h2>Which snapshot of {unitName(choice.target, choice.unit)}?</h2>
          {choice.snapshots.map((s) => (
            <label key={s.snapshot} className="choice">
              <input type="radio" name="unit-snapshot" value={s.snapshot} checked={snapshot === s.snapshot} onChange={() => setSnapshot(s.snapshot)} />
              <span><span className="mono">{s.snapshot.slice(0, 12)}</span> of {time(s.time)} <span className="muted small">(plan {s.plan}, {bytes(s.bytes)} added)</span></span>
            </label>
          ))}
          <div className="buttons"><button type="button" className="secondary" onClick={() => setStep(1)}>Back</button><button type="button" disabled={!snapshot} onClick={() => setStep(3)}>Next</button></div>
        </section>
      ) : null}

      {step === 3 && choice ? (
        <section className="card wizard" id="step-unit-place">
          <h2>Where to?</h2>
          <label className="choice">
            <input type="radio" name="unit-kind" value="files" checked={kind === 'files'} onChange={() => setKind('files')} />
            <span><b>Files</b>: recreate the snapshot's paths under a directory</span>
          </label>
          <label className="choice">
            <input type="radio" name="unit-kind" value="database" checked={kind === 'database'} onChange={() => setKind('database')} />
            <span><b>Database dump</b>: restore into a database of the same target</span>
          </label>
          {kind === 'files' ? (
            <label>
              Directory (on the server; / is in place)
              <input name="unit-target" value={dir} placeholder="/srv/restore" onChange={(e) => setDir(e.target.value)} />
            </label>
          ) : (
            <label>
              Database name (empty: its own name, in place)
              <input name="unit-into" value={into} placeholder={choice.unit ? `${choice.unit}_restored` : 'name'} onChange={(e) => setInto(e.target.value)} />
            </label>
          )}
          {inPlace ? (
            <p className={isAdmin ? 'warning' : 'error'} role="note">
              {isAdmin ? 'This restore goes IN PLACE, over the live data.' : 'A restore in place needs the admin role: give another directory or database name.'}
            </p>
          ) : null}
          <label className="check"><input type="checkbox" name="unit-clean" checked={clean} onChange={(e) => setClean(e.target.checked)} /> Clean: replace what is there (files: remove the paths first; databases: replace an existing one)</label>
          <div className="buttons"><button type="button" className="secondary" onClick={() => setStep(2)}>Back</button><button type="button" disabled={placeMissing || (inPlace && !isAdmin)} onClick={() => setStep(4)}>Next</button></div>
        </section>
      ) : null}

      {step === 4 && choice ? (
        <section className="card wizard" id="step-unit-confirm">
          <h2>Confirm</h2>
          <dl className="facts">
            <dt>Unit</dt><dd>{unitName(choice.target, choice.unit)}</dd>
            <dt>From</dt><dd>{choice.destination}</dd>
            <dt>Snapshot</dt><dd className="mono">{snapshot}</dd>
            <dt>{kind === 'files' ? 'Directory' : 'Database'}</dt><dd>{place}{inPlace ? ' (in place)' : ''}</dd>
            <dt>Clean</dt><dd>{clean ? 'yes' : 'no'}</dd>
          </dl>
          <div className="buttons">
            <button type="button" className="secondary" onClick={() => setStep(3)} disabled={busy}>Back</button>
            <button type="button" className={inPlace ? 'danger' : ''} onClick={submit} disabled={busy}>{busy ? 'Restoring…' : inPlace ? 'Restore in place' : 'Restore'}</button>
          </div>
        </section>
      ) : null}

      {step === 5 && result ? (
        <section className="card wizard" id="unit-restore-result" data-ok="true">
          <h2>Restored <Badge value="succeeded" /></h2>
          <dl className="facts">
            <dt>Snapshot</dt><dd className="mono">{result.snapshot}</dd>
            <dt>Unit</dt><dd id="unit-restored">{result.target ? unitName(result.target, result.unit) : '—'}</dd>
            <dt>Into</dt><dd id="unit-into">{result.into}{result.inPlace ? ' (in place)' : ''}</dd>
            {result.overLiveData.length > 0 ? <><dt>Overwrote</dt><dd id="unit-live">{result.overLiveData.join('; ')}</dd></> : null}
            {result.safety ? <><dt>Safety backup</dt><dd className="mono" id="unit-safety">{result.safety}</dd></> : null}
            {result.files !== undefined ? <><dt>Files</dt><dd>{result.files}</dd></> : null}
            {result.bytes !== undefined ? <><dt>Size</dt><dd>{bytes(result.bytes)}</dd></> : null}
          </dl>
          <div className="buttons"><button type="button" className="secondary" onClick={restart}>Another restore</button></div>
        </section>
      ) : null}
    </>
  );
}

/** The units with snapshots, each with its repository and snapshots newest first (the API's order). */
function unitChoices(items: Snapshot[]): UnitChoice[] {
  const m = new Map<string, UnitChoice>();
  for (const s of items) {
    if (s.destination === null) continue;
    const key = `${unitName(s.target, s.unit)}@${s.destination}`;
    const c = m.get(key) ?? { key, target: s.target, unit: s.unit, destination: s.destination, snapshots: [] };
    if (!c.snapshots.some((x) => x.snapshot === s.snapshot)) c.snapshots.push(s);
    m.set(key, c);
  }
  return [...m.values()];
}
