// The dashboard: last run of each plan, failures in the last 24 hours,
// running runs with their tasks, locks held, the last alerts, and the
// protection state of every unit (GET /api/dashboard, refreshed every 5 s).

import { Link } from '../router.tsx';
import { useApi } from '../use-api.ts';
import { ago, time, unitName } from '../format.ts';
import type { Dashboard } from '../types.ts';
import { Badge, Empty, ErrorNote, Loading, PageHeader } from '../components/status.tsx';

export function DashboardPage() {
  const { data, error, loading } = useApi<Dashboard>('/api/dashboard', { pollMs: 5000 });
  const d = data;
  return (
    <>
      <PageHeader title="Dashboard" />
      <ErrorNote error={error} />
      <Loading when={loading && !d} />
      {d ? (
        <>
          <section className="stats">
            <Stat
              label="Failures (24 h)"
              value={d.failures24h}
              tone={d.failures24h > 0 ? 'bad' : 'ok'}
              id="failures24h"
            />
            <Stat label="Running" value={d.running.length} tone={d.running.length ? 'run' : 'muted'} id="running" />
            <Stat label="Locks held" value={d.locks.length} tone="muted" id="locks" />
            <Stat
              label="Units not protected"
              value={d.protection.filter((p) => p.state !== 'ok').length}
              tone={d.protection.some((p) => p.state !== 'ok') ? 'warn' : 'ok'}
              id="unprotected"
            />
          </section>

          <section className="card">
            <h2>Plans</h2>
            <div className="table-wrap">
              <table id="dashboard-plans">
                <thead>
                  <tr>
                    <th>Plan</th>
                    <th>Last run</th>
                    <th>Started</th>
                    <th>Last success</th>
                    <th>Next due</th>
                  </tr>
                </thead>
                <tbody>
                  {d.plans.map((p) => (
                    <tr key={p.name}>
                      <td>
                        <Link to={`/plans#${p.name}`}>{p.name}</Link>
                        {p.schedule ? <div className="muted small">{p.schedule}</div> : null}
                      </td>
                      <td>
                        {p.lastRun ? (
                          <Link to={`/runs/${p.lastRun.id}`}>
                            <Badge value={p.lastRun.status} />
                          </Link>
                        ) : (
                          <span className="muted">never run</span>
                        )}
                        {p.lastRun?.reason ? <div className="muted small">{p.lastRun.reason}</div> : null}
                      </td>
                      <td>{p.lastRun ? time(p.lastRun.startedAt) : '—'}</td>
                      <td>{ago(p.lastSuccessAt)}</td>
                      <td>{p.nextDue ? time(p.nextDue) : <span className="muted">on demand</span>}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Empty when={d.plans.length === 0}>No plans configured.</Empty>
          </section>

          <div className="grid-2">
            <section className="card">
              <h2>Running</h2>
              <Empty when={d.running.length === 0}>Nothing is running.</Empty>
              {d.running.map((r) => (
                <div key={r.runId} className="running">
                  <Link to={`/runs/${r.runId}`}>{r.plan}</Link>{' '}
                  <span className="muted small">since {time(r.startedAt)}</span>
                  <ul className="tasks">
                    {r.tasks.map((t) => (
                      <li key={t.seq}>
                        <Badge value={t.status} /> {unitName(t.target, t.unit)}
                      </li>
                    ))}
                  </ul>
                </div>
              ))}
            </section>
            <section className="card">
              <h2>Locks held</h2>
              <Empty when={d.locks.length === 0}>No locks are held.</Empty>
              {d.locks.length ? (
                <div className="table-wrap">
                  <table>
                    <thead>
                      <tr>
                        <th>Scope</th>
                        <th>Kind</th>
                        <th>Holder</th>
                        <th>Heartbeat</th>
                      </tr>
                    </thead>
                    <tbody>
                      {d.locks.map((l) => (
                        <tr key={l.scope}>
                          <td>{l.scope}</td>
                          <td>{l.kind}</td>
                          <td>{l.runId ? <Link to={`/runs/${l.runId}`}>{l.holder}</Link> : l.holder}</td>
                          <td>{ago(l.heartbeatAt)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              ) : null}
            </section>
          </div>

          <section className="card">
            <h2>Protection</h2>
            <div className="table-wrap">
              <table id="protection">
                <thead>
                  <tr>
                    <th>Unit</th>
                    <th>Plan</th>
                    <th>State</th>
                    <th>Last snapshot</th>
                  </tr>
                </thead>
                <tbody>
                  {d.protection.map((p) => (
                    <tr key={`${p.plan}/${p.target}/${p.unit ?? ''}`}>
                      <td>{unitName(p.target, p.unit)}</td>
                      <td>{p.plan}</td>
                      <td>
                        <Badge value={p.state} />
                        {p.reason ? <div className="muted">{p.reason}</div> : null}
                      </td>
                      <td>{p.lastSnapshotAt ? `${time(p.lastSnapshotAt)} (${ago(p.lastSnapshotAt)})` : '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Empty when={d.protection.length === 0}>No units to protect.</Empty>
          </section>

          <section className="card">
            <h2>Last alerts</h2>
            <Empty when={d.alerts.length === 0}>No alerts.</Empty>
            <ul className="alerts">
              {d.alerts.map((a) => (
                <li key={a.id}>
                  <Badge value={a.severity} /> <span className="muted small">{time(a.at)}</span> {a.summary}
                </li>
              ))}
            </ul>
            {d.alerts.length ? <Link to="/alerts">All alerts →</Link> : null}
          </section>
        </>
      ) : null}
    </>
  );
}

function Stat({ label, value, tone, id }: { label: string; value: number; tone: string; id: string }) {
  return (
    <div className={`stat stat-${tone}`} id={`stat-${id}`}>
      <div className="stat-value">{value}</div>
      <div className="stat-label">{label}</div>
    </div>
  );
}
