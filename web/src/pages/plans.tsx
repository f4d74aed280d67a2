// The plans: schedule, destination, activities, last run, and "Run now"
// (operators): POST /api/plans/:name/run?wait=false, then the run's page.

import { useState } from 'react';
import { api, roleAllows } from '../api.ts';
import { Link, navigate } from '../router.tsx';
import { useApi } from '../use-api.ts';
import { ago, time } from '../format.ts';
import type { PlanList, Role, RunStarted } from '../types.ts';
import { Badge, Empty, ErrorNote, Loading, PageHeader } from '../components/status.tsx';

export function PlansPage({ role }: { role: Role }) {
  const { data, error, loading } = useApi<PlanList>('/api/plans');
  const [busy, setBusy] = useState<string | null>(null);
  const [runError, setRunError] = useState<string | null>(null);
  const canRun = roleAllows(role, 'operator');

  const run = async (name: string) => {
    setBusy(name);
    setRunError(null);
    try {
      const r = await api<RunStarted>(`/api/plans/${encodeURIComponent(name)}/run?wait=false`, { method: 'POST' });
      navigate(`/runs/${r.runId}`);
    } catch (e) {
      setRunError(`${name}: ${(e as Error).message}`);
      setBusy(null);
    }
  };

  return (
    <>
      <PageHeader title="Plans">
        <Link to="/runs">All runs →</Link>
      </PageHeader>
      <ErrorNote error={error ?? runError} />
      <Loading when={loading && !data} />
      <div className="cards">
        {data?.items.map((p) => (
          <section className="card plan" key={p.name} id={p.name} data-plan={p.name}>
            <div className="plan-head">
              <h2>{p.name}</h2>
              {canRun ? (
                <button type="button" className="run-now" onClick={() => run(p.name)} disabled={busy !== null}>
                  {busy === p.name ? 'Starting…' : 'Run now'}
                </button>
              ) : null}
            </div>
            {p.description ? <p>{p.description}</p> : null}
            <dl className="facts">
              <dt>Schedule</dt>
              <dd>{p.schedule ? `${p.schedule.cron} (${p.schedule.timezone})` : 'on demand'}</dd>
              <dt>Next due</dt>
              <dd>{p.nextDue ? time(p.nextDue) : '—'}</dd>
              <dt>Destination</dt>
              <dd>{p.destination}</dd>
              <dt>Last run</dt>
              <dd>
                {p.lastRun ? (
                  <>
                    <Link to={`/runs/${p.lastRun.id}`}>
                      <Badge value={p.lastRun.status} />
                    </Link>{' '}
                    {time(p.lastRun.startedAt)}
                  </>
                ) : (
                  'never'
                )}
              </dd>
              <dt>Last success</dt>
              <dd>{ago(p.lastSuccessAt)}</dd>
            </dl>
            <details>
              <summary>
                {p.activities.length} activit{p.activities.length === 1 ? 'y' : 'ies'}
              </summary>
              <ul>
                {p.activities.map((a) => (
                  <li key={a.name}>
                    <b>{a.name}</b>: {a.kind}{' '}
                    {a.group ? `group ${a.group}` : `${a.targets}${a.units ? ` / ${a.units}` : ''}`}
                  </li>
                ))}
              </ul>
            </details>
            <p className="links">
              <Link to={`/runs?plan=${encodeURIComponent(p.name)}`}>Runs</Link> ·{' '}
              <Link to={`/charts?plan=${encodeURIComponent(p.name)}`}>Charts</Link>
            </p>
          </section>
        ))}
      </div>
      <Empty when={data !== null && data.items.length === 0}>No plans configured.</Empty>
    </>
  );
}
