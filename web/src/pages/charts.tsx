// Charts of one plan over the last N days: bytes added and duration per run
// (GET /api/charts), and the size of the plan's repository over time
// (GET /api/charts/repository).

import { qs } from '../api.ts';
import { navigate, useLocation } from '../router.tsx';
import { useApi } from '../use-api.ts';
import { bytes, duration } from '../format.ts';
import type { PlanList, RepoChart, RunChart } from '../types.ts';
import { ErrorNote, PageHeader } from '../components/status.tsx';
import { LineChart } from '../components/line-chart.tsx';

export function ChartsPage() {
  const { query } = useLocation();
  const plans = useApi<PlanList>('/api/plans');
  const planName = query.get('plan') ?? plans.data?.items[0]?.name ?? null;
  const days = Number(query.get('days') ?? '30') || 30;
  const plan = plans.data?.items.find((p) => p.name === planName) ?? null;
  const runs = useApi<RunChart>(planName ? `/api/charts${qs({ plan: planName, days })}` : null);
  const repo = useApi<RepoChart>(plan ? `/api/charts/repository${qs({ destination: plan.destination })}` : null);
  const go = (p: string, d: number) =>
    navigate(`/charts${qs({ plan: p, days: d === 30 ? undefined : d })}`, { replace: true });
  const points = runs.data?.points ?? [];

  return (
    <>
      <PageHeader title={planName ? `Charts: ${planName}` : 'Charts'}>
        <select aria-label="plan" value={planName ?? ''} onChange={(e) => go(e.target.value, days)}>
          {(plans.data?.items ?? []).map((p) => (
            <option key={p.name} value={p.name}>
              {p.name}
            </option>
          ))}
        </select>
        <select aria-label="days" value={days} onChange={(e) => go(planName ?? '', Number(e.target.value))}>
          {[7, 30, 90, 365].map((d) => (
            <option key={d} value={d}>
              {d} days
            </option>
          ))}
        </select>
      </PageHeader>
      <ErrorNote error={plans.error ?? runs.error ?? repo.error} />
      <div className="charts">
        <section className="card" id="chart-bytes">
          <LineChart
            title="Bytes added per run"
            formatY={bytes}
            points={points.map((p) => ({ x: p.at, y: p.bytesAdded, label: p.status }))}
          />
        </section>
        <section className="card" id="chart-duration">
          <LineChart
            title="Run duration"
            formatY={duration}
            points={points.map((p) => ({ x: p.at, y: p.durationMs, label: p.status }))}
          />
        </section>
        <section className="card" id="chart-repo">
          <LineChart
            title={`Repository size${plan ? ` (${plan.destination})` : ''}`}
            formatY={bytes}
            points={(repo.data?.points ?? []).map((p) => ({ x: p.at, y: p.bytes }))}
          />
        </section>
      </div>
    </>
  );
}
