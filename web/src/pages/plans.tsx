// The plans: schedule (in words), window, destination with its repository
// size, offsite copy, activities, the last run that ran, the last full and
// partial successes; "Run now" and, for plans with drill activities, "Run
// drill now" (operators). A refused click (another run holds the scope,
// outside the window) is a notice: it does not colour the plan as failed.

import { useState } from 'react';
import { api, roleAllows } from '../api.ts';
import { Link, navigate } from '../router.tsx';
import { useApi } from '../use-api.ts';
import { ago, bytes, time } from '../format.ts';
import { cronWords } from '../cron-words.ts';
import type { Plan, PlanList, Role, RunStarted, RunWithTasks } from '../types.ts';
import { Badge, Empty, ErrorNote, Loading, PageHeader } from '../components/status.tsx';

/** Waits briefly for the run to be refused or under way: a refusal stays on this page as a notice. */
async function refusalOf(runId: string): Promise<string | null> {
  for (let i = 0; i < 10; i++) {
    const r = await api<RunWithTasks>(`/api/runs/${encodeURIComponent(runId)}`);
    if (r.run.status === 'refused') return r.run.reason ?? 'refused';
    if (r.run.status !== 'running' || r.tasks.length > 0) return null;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return null;
}

export function PlansPage({ role }: { role: Role }) {
  const { data, error, loading, reload } = useApi<PlanList>('/api/plans');
  const [busy, setBusy] = useState<string | null>(null);
  const [runError, setRunError] = useState<string | null>(null);
  const canRun = roleAllows(role, 'operator');

  const start = async (name: string, what: 'run' | 'drill') => {
    setBusy(`${what}:${name}`);
    setRunError(null);
    try {
      const r = await api<RunStarted>(`/api/plans/${encodeURIComponent(name)}/${what}?wait=false`, {
        method: 'POST',
      });
      const refused = r.status === 'refused' ? 'refused' : await refusalOf(r.runId);
      if (refused === null) return navigate(`/runs/${r.runId}`);
      setBusy(null);
      reload();
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
                <span className="plan-actions">
                  {p.activities.some((a) => a.kind === 'drill') ? (
                    <button
                      type="button"
                      className="secondary drill-now"
                      onClick={() => start(p.name, 'drill')}
                      disabled={busy !== null}
                    >
                      {busy === `drill:${p.name}` ? 'Starting…' : 'Run drill now'}
                    </button>
                  ) : null}
                  <button
                    type="button"
                    className="run-now"
                    onClick={() => start(p.name, 'run')}
                    disabled={busy !== null}
                  >
                    {busy === `run:${p.name}` ? 'Starting…' : 'Run now'}
                  </button>
                </span>
              ) : null}
            </div>
            {p.description ? <p>{p.description}</p> : null}
            {p.lastRefusal ? (
              <p className="notice refusal" role="status">
                <Link to={`/runs/${p.lastRefusal.id}`}>Refused</Link> {ago(p.lastRefusal.startedAt)}:{' '}
                {p.lastRefusal.reason ?? 'no reason recorded'}
              </p>
            ) : null}
            <PlanFacts p={p} />
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

function PlanFacts({ p }: { p: Plan }) {
  const words = p.schedule ? cronWords(p.schedule.cron) : null;
  return (
    <dl className="facts">
      <dt>Schedule</dt>
      <dd className="schedule">
        {p.schedule ? (
          <>
            {words ? <span className="cron-words">{words}</span> : null} <code>{p.schedule.cron}</code> (
            {p.schedule.timezone})
          </>
        ) : (
          'on demand'
        )}
      </dd>
      <dt>Window</dt>
      <dd className="window">
        {p.window.text} <span className="muted small">({p.window.open ? 'open now' : 'closed now'})</span>
      </dd>
      <dt>Next due</dt>
      <dd>{p.nextDue ? time(p.nextDue) : '—'}</dd>
      <dt>Destination</dt>
      <dd>
        {p.destination}
        {p.repoSize ? (
          <span className="muted small repo-size">
            {' '}
            {bytes(p.repoSize.bytes)} (measured {ago(p.repoSize.at)})
          </span>
        ) : null}
      </dd>
      {p.offsite ? (
        <>
          <dt>Offsite copy</dt>
          <dd className="offsite">
            to {p.offsite.to.join(', ')}:{' '}
            {p.offsite.last ? (
              <>
                <Link to={`/runs/${p.offsite.last.runId}`}>
                  <Badge value={p.offsite.last.status} />
                </Link>{' '}
                {ago(p.offsite.last.at)}
              </>
            ) : (
              'never copied'
            )}
          </dd>
        </>
      ) : null}
      <dt>Last run</dt>
      <dd className="last-run">
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
      <dt>Last full success</dt>
      <dd className="last-success">{ago(p.lastSuccessAt)}</dd>
      {p.lastPartialAt !== null ? (
        <>
          <dt>Last partial</dt>
          <dd className="last-partial">{ago(p.lastPartialAt)}</dd>
        </>
      ) : null}
    </dl>
  );
}
