// Alerts (with each delivery: when it was delivered, or that it failed or
// was suppressed, the reason on hover) and restore drill reports, newest
// first, paged.

import { useEffect, useState } from 'react';
import { api, qs } from '../api.ts';
import { Link } from '../router.tsx';
import { duration, time, unitName } from '../format.ts';
import type { Alert, Drill, Page } from '../types.ts';
import { Badge, Empty, ErrorNote, PageHeader } from '../components/status.tsx';

function usePaged<T>(path: string) {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loaded, setLoaded] = useState(false);
  const load = async (after: string | null) => {
    try {
      const p = await api<Page<T>>(`${path}${qs({ limit: 50, cursor: after })}`);
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
  }, [path]);
  return { items, cursor, error, loaded, more: () => load(cursor) };
}

type Delivery = Alert['deliveries'][number];

const DELIVERY_CHIP: Record<Delivery['outcome'], string> = {
  delivered: 'chip-ok',
  failed: 'chip-bad',
  suppressed: 'chip-off',
};

/** The delivery's time of day (the alert's own date is in the first column). */
function clock(at: number): string {
  return time(at).slice(11);
}

/** The tooltip: what happened when, and the channel's answer or the reason. */
function deliveryTitle(d: Delivery): string {
  return `${d.outcome} ${time(d.at)}${d.detail ? `: ${d.detail}` : ''}`;
}

export function AlertsPage() {
  const p = usePaged<Alert>('/api/alerts');
  return (
    <>
      <PageHeader title="Alerts" />
      <ErrorNote error={p.error} />
      <Empty when={p.loaded && p.items.length === 0 && !p.error}>No alerts.</Empty>
      {p.items.length ? (
        <div className="table-wrap card">
          <table id="alerts">
            <thead>
              <tr>
                <th>Time</th>
                <th>Severity</th>
                <th>Event</th>
                <th>Summary</th>
                <th>Delivered</th>
              </tr>
            </thead>
            <tbody>
              {p.items.map((a) => (
                <tr key={a.id}>
                  <td>{time(a.at)}</td>
                  <td>
                    <Badge value={a.severity} />
                  </td>
                  <td>{a.event}</td>
                  <td>{a.summary}</td>
                  <td>
                    {a.deliveries.length === 0
                      ? 'none'
                      : a.deliveries.map((d) => (
                          <span
                            key={d.channel + d.at}
                            className={`chip ${DELIVERY_CHIP[d.outcome]}`}
                            title={deliveryTitle(d)}
                          >
                            {d.channel} {d.outcome === 'delivered' ? clock(d.at) : d.outcome}
                          </span>
                        ))}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {p.cursor ? (
        <button type="button" className="secondary" onClick={p.more}>
          More
        </button>
      ) : null}
    </>
  );
}

export function DrillsPage() {
  const p = usePaged<Drill>('/api/drills');
  return (
    <>
      <PageHeader title="Restore drills" />
      <ErrorNote error={p.error} />
      <Empty when={p.loaded && p.items.length === 0 && !p.error}>
        No drills yet: plans with a drill activity record them here.
      </Empty>
      {p.items.length ? (
        <div className="table-wrap card">
          <table id="drills">
            <thead>
              <tr>
                <th>Started</th>
                <th>Unit</th>
                <th>Status</th>
                <th>Restore</th>
                <th>Verify</th>
                <th>Summary</th>
              </tr>
            </thead>
            <tbody>
              {p.items.map((d) => (
                <tr key={d.id}>
                  <td>{d.runId ? <Link to={`/runs/${d.runId}`}>{time(d.startedAt)}</Link> : time(d.startedAt)}</td>
                  <td>{unitName(d.target, d.unit)}</td>
                  <td>
                    <Badge value={d.status} />
                  </td>
                  <td>{duration(d.restoreMs)}</td>
                  <td>{duration(d.verifyMs)}</td>
                  <td>{d.summary}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {p.cursor ? (
        <button type="button" className="secondary" onClick={p.more}>
          More
        </button>
      ) : null}
    </>
  );
}
