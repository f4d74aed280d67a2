// Snapshots made by plan runs, grouped per unit (target/unit), newest first,
// with the bytes each task added (GET /api/snapshots, paged); a repository
// snapshot's id opens its file browser.

import { useEffect, useMemo, useState } from 'react';
import { api, qs } from '../api.ts';
import { Link } from '../router.tsx';
import { bytes, time, unitName } from '../format.ts';
import type { Page, Snapshot } from '../types.ts';
import { Empty, ErrorNote, PageHeader } from '../components/status.tsx';

export function SnapshotsPage() {
  const [items, setItems] = useState<Snapshot[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);

  const load = async (after: string | null) => {
    try {
      const p = await api<Page<Snapshot>>(`/api/snapshots${qs({ limit: 200, cursor: after })}`);
      setItems((old) => (after ? [...old, ...p.items] : p.items));
      setCursor(p.nextCursor);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setLoaded(true);
    }
  };
  useEffect(() => {
    void load(null);
  }, []);

  const units = useMemo(() => {
    const m = new Map<string, Snapshot[]>();
    for (const s of items) {
      const k = unitName(s.target, s.unit);
      m.set(k, [...(m.get(k) ?? []), s]);
    }
    return [...m.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  }, [items]);

  return (
    <>
      <PageHeader title="Snapshots" />
      <ErrorNote error={error} />
      <Empty when={loaded && items.length === 0 && !error}>No snapshots yet.</Empty>
      {units.map(([unit, snaps]) => (
        <section className="card" key={unit} data-unit={unit}>
          <h2>
            {unit}{' '}
            <span className="muted small">
              {snaps.length} snapshot{snaps.length === 1 ? '' : 's'},{' '}
              {bytes(snaps.reduce((n, s) => n + (s.bytes ?? 0), 0))} added
            </span>
          </h2>
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th>Snapshot</th>
                  <th>Time</th>
                  <th>Plan</th>
                  <th>Destination</th>
                  <th>Kind</th>
                  <th>Added</th>
                </tr>
              </thead>
              <tbody>
                {snaps.map((s) => (
                  <tr key={`${s.taskId}/${s.index}`}>
                    <td className="mono">
                      {s.destination !== null && /^[0-9a-f]{64}$/.test(s.snapshot) ? (
                        <Link
                          to={`/browse${qs({ destination: s.destination, snapshot: s.snapshot })}`}
                          title={`browse ${s.snapshot}`}
                        >
                          {s.snapshot.slice(0, 12)}…
                        </Link>
                      ) : s.snapshot.length > 24 ? (
                        `${s.snapshot.slice(0, 12)}…`
                      ) : (
                        s.snapshot
                      )}
                    </td>
                    <td>{time(s.time)}</td>
                    <td>
                      <Link to={`/runs/${s.runId}`}>{s.plan}</Link>
                    </td>
                    <td>{s.destination ?? '—'}</td>
                    <td>{s.kind}</td>
                    <td>{bytes(s.bytes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </section>
      ))}
      {cursor ? (
        <button type="button" className="secondary" onClick={() => load(cursor)}>
          More
        </button>
      ) : null}
    </>
  );
}
