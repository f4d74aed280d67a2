// The restore wizard's single-unit mode, on the shared scaffold of
// components/restore-wizard.tsx: 1. a unit (target/unit and the repository
// its snapshots are in, from GET /api/snapshots); 2. one of its snapshots;
// 3. the place — a directory for a files snapshot, a database name for a
// dump (in place, '/' or the unit's own name, is for admins); 4. confirm →
// POST /api/restores/unit, and the result.

import { useMemo, useState } from 'react';
import { api } from '../api.ts';
import { useApi } from '../use-api.ts';
import { bytes, time, unitName } from '../format.ts';
import type { Page, Role, Snapshot, UnitRestoreRequest, UnitRestoreResult } from '../types.ts';
import { Facts, yesNo } from '../components/facts.tsx';
import { Choice, RestoreWizard } from '../components/restore-wizard.tsx';
import type { ResultView } from '../components/restore-wizard.tsx';

interface UnitChoice {
  key: string;
  target: string;
  unit: string | null;
  destination: string;
  snapshots: Snapshot[];
}

type PlaceKind = UnitRestoreResult['kind'];

export function UnitRestore({ role }: { role: Role }) {
  const snaps = useApi<Page<Snapshot>>('/api/snapshots?limit=500');
  const units = useMemo(() => unitChoices(snaps.data?.items ?? []), [snaps.data]);
  const [choice, setChoice] = useState<UnitChoice | null>(null);
  const [snapshot, setSnapshot] = useState('');
  const [kind, setKind] = useState<PlaceKind>('files');
  const [dir, setDir] = useState('');
  const [into, setInto] = useState('');
  const [clean, setClean] = useState(false);
  const place = kind === 'files' ? dir.trim() : into.trim() || choice?.unit || '';
  const inPlace = kind === 'files' ? /^\/+$/.test(place) : place === (choice?.unit ?? '');
  const pick = (u: UnitChoice) => {
    setChoice(u);
    setSnapshot(u.snapshots[0]?.snapshot ?? '');
  };
  const request = (c: UnitChoice): UnitRestoreRequest =>
    kind === 'files'
      ? { destination: c.destination, snapshot, target: place, clean }
      : { destination: c.destination, snapshot, ...(into.trim() ? { into: into.trim() } : {}), clean };

  return (
    <RestoreWizard
      role={role}
      names={['Unit', 'Snapshot', 'Place']}
      loadError={snaps.error}
      choice={choice}
      inPlace={inPlace}
      choose={{
        id: 'step-unit',
        title: 'Which unit?',
        body: <UnitList units={units} loaded={snaps.data !== null} chosen={choice} onPick={pick} />,
      }}
      snapshot={(c) => ({
        id: 'step-unit-snapshot',
        title: `Which snapshot of ${unitName(c.target, c.unit)}?`,
        body: <UnitSnapshot snapshots={c.snapshots} snapshot={snapshot} onChange={setSnapshot} />,
        canNext: snapshot !== '',
      })}
      place={(c) => ({
        id: 'step-unit-place',
        title: 'Where to?',
        body: (
          <UnitPlace unit={c.unit} kind={kind} dir={dir} into={into} onKind={setKind} onDir={setDir} onInto={setInto} />
        ),
        canNext: !(kind === 'files' && place === ''),
        inPlaceNote: {
          admin: 'This restore goes IN PLACE, over the live data.',
          other: 'A restore in place needs the admin role: give another directory or database name.',
        },
        options: <UnitClean clean={clean} onChange={setClean} />,
      })}
      confirm={(c) => ({
        id: 'step-unit-confirm',
        facts: [
          { term: 'Unit', value: unitName(c.target, c.unit) },
          { term: 'From', value: c.destination },
          { term: 'Snapshot', value: snapshot, className: 'mono' },
          { term: kind === 'files' ? 'Directory' : 'Database', value: `${place}${inPlace ? ' (in place)' : ''}` },
          { term: 'Clean', value: yesNo(clean) },
        ],
      })}
      restore={(c) => api<UnitRestoreResult>('/api/restores/unit', { method: 'POST', body: request(c) })}
      result={unitResult}
    />
  );
}

interface UnitListProps {
  units: UnitChoice[];
  loaded: boolean;
  chosen: UnitChoice | null;
  onPick: (u: UnitChoice) => void;
}

function UnitList({ units, loaded, chosen, onPick }: UnitListProps) {
  return (
    <>
      {units.length === 0 && loaded ? <p className="muted">No snapshots made by plan runs yet.</p> : null}
      {units.map((u) => (
        <Choice key={u.key} name="unit" value={u.key} checked={chosen?.key === u.key} onChange={() => onPick(u)}>
          <b>{unitName(u.target, u.unit)}</b> in <b>{u.destination}</b>{' '}
          <span className="muted small">({u.snapshots.length} snapshot(s))</span>
        </Choice>
      ))}
    </>
  );
}

interface UnitSnapshotProps {
  snapshots: Snapshot[];
  snapshot: string;
  onChange: (s: string) => void;
}

function UnitSnapshot({ snapshots, snapshot, onChange }: UnitSnapshotProps) {
  return snapshots.map((s) => (
    <Choice
      key={s.snapshot}
      name="unit-snapshot"
      value={s.snapshot}
      checked={snapshot === s.snapshot}
      onChange={() => onChange(s.snapshot)}
    >
      <span className="mono">{s.snapshot.slice(0, 12)}</span> of {time(s.time)}{' '}
      <span className="muted small">
        (plan {s.plan}, {bytes(s.bytes)} added)
      </span>
    </Choice>
  ));
}

interface UnitPlaceProps {
  unit: string | null;
  kind: PlaceKind;
  dir: string;
  into: string;
  onKind: (k: PlaceKind) => void;
  onDir: (v: string) => void;
  onInto: (v: string) => void;
}

/** Files under a directory, or a dump into a database name. */
function UnitPlace({ unit, kind, dir, into, onKind, onDir, onInto }: UnitPlaceProps) {
  return (
    <>
      <Choice name="unit-kind" value="files" checked={kind === 'files'} onChange={() => onKind('files')}>
        <b>Files</b>: recreate the snapshot's paths under a directory
      </Choice>
      <Choice name="unit-kind" value="database" checked={kind === 'database'} onChange={() => onKind('database')}>
        <b>Database dump</b>: restore into a database of the same target
      </Choice>
      {kind === 'files' ? (
        <label>
          Directory (on the server; / is in place)
          <input name="unit-target" value={dir} placeholder="/srv/restore" onChange={(e) => onDir(e.target.value)} />
        </label>
      ) : (
        <label>
          Database name (empty: its own name, in place)
          <input
            name="unit-into"
            value={into}
            placeholder={unit ? `${unit}_restored` : 'name'}
            onChange={(e) => onInto(e.target.value)}
          />
        </label>
      )}
    </>
  );
}

function UnitClean({ clean, onChange }: { clean: boolean; onChange: (v: boolean) => void }) {
  return (
    <label className="check">
      <input type="checkbox" name="unit-clean" checked={clean} onChange={(e) => onChange(e.target.checked)} /> Clean:
      replace what is there (files: remove the paths first; databases: replace an existing one)
    </label>
  );
}

/** A unit restore either succeeds with this answer or fails with an error (shown by the wizard). */
function unitResult(r: UnitRestoreResult): ResultView {
  return {
    id: 'unit-restore-result',
    ok: true,
    body: (
      <Facts
        items={[
          { term: 'Snapshot', value: r.snapshot, className: 'mono' },
          { term: 'Unit', value: r.target ? unitName(r.target, r.unit) : '—', id: 'unit-restored' },
          { term: 'Into', value: `${r.into}${r.inPlace ? ' (in place)' : ''}`, id: 'unit-into' },
          r.overLiveData.length > 0 ? { term: 'Overwrote', value: r.overLiveData.join('; '), id: 'unit-live' } : null,
          r.safety ? { term: 'Safety backup', value: r.safety, id: 'unit-safety', className: 'mono' } : null,
          r.files !== undefined ? { term: 'Files', value: r.files } : null,
          r.bytes !== undefined ? { term: 'Size', value: bytes(r.bytes) } : null,
        ]}
      />
    ),
  };
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
