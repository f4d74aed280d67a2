// Plan runs, newest first (GET /api/runs, filtered by plan and status, with
// "more" for the next page).

import { useEffect, useState } from 'react';
import { api, qs } from '../api.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import { duration, time } from '../format.ts';
import type { Page, Run } from '../types.ts';
import { Badge, Empty, ErrorNote, PageHeader } from '../components/status.tsx';

const STATUSES = ['', 'running', 'succeeded', 'partial', 'failed', 'refused', 'skipped', 'cancelled'];

export function RunsPage() {
  const { query } = useLocation();
  const plan = query.get('plan') ?? '';
  const status = query.get('status') ?? '';
  const [items, setItems] = useState<Run[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = async (after: string | null) => {
    try {
      const p = await api<Page<Run>>(`/api/runs${qs({ plan, status, limit: 50, cursor: after })}`);
      setItems((old) => (after ? [...old, ...p.items] : p.items));
      setCursor(p.nextCursor);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  useEffect(() => {
    void load(null);
  }, [plan, status]);

  return (
    <>
      <PageHeader title={plan ? `Runs of ${plan}` : 'Runs'}>
        <select
          aria-label="status"
          value={status}
          onChange={(e) => navigate(`/runs${qs({ plan, status: e.target.value })}`, { replace: true })}
        >
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s || 'any status'}
            </option>
          ))}
        </select>
      </PageHeader>
      <ErrorNote error={error} />
      <div className="table-wrap card">
        <table>
          <thead>
            <tr>
              <th>Run</th>
              <th>Plan</th>
              <th>Status</th>
              <th>Trigger</th>
              <th>Started</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {items.map((r) => (
              <tr key={r.id}>
                <td>
                  <Link to={`/runs/${r.id}`} className="mono">
                    {r.id}
                  </Link>
                </td>
                <td>{r.plan}</td>
                <td>
                  <Badge value={r.status} />
                </td>
                <td>{r.trigger}</td>
                <td>{time(r.startedAt)}</td>
                <td>{r.finishedAt ? duration(r.finishedAt - r.startedAt) : '…'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Empty when={items.length === 0 && !error}>No runs.</Empty>
      {cursor ? (
        <button type="button" className="secondary" onClick={() => load(cursor)}>
          More
        </button>
      ) : null}
    </>
  );
}
