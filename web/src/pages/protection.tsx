// The protection report: one row per unit the plans back up, one column per
// rule (minCopies, minSites, rpo, drillWithin), green when it holds and red
// when not, with the reason in words; the copies per destination and site,
// the last passed drill, and the destinations that could not be read.

import { useEffect, useState } from 'react';
import { api } from '../api.ts';
import { time, unitName } from '../format.ts';
import { Empty, ErrorNote, Loading, PageHeader } from '../components/status.tsx';

interface RuleResult {
  rule: string;
  ok: boolean;
  expected: number;
  actual: number | null;
  why: string;
}

interface UnitProtection {
  plan: string;
  target: string;
  unit: string | null;
  ok: boolean;
  copies: { destination: string; site: string | null; count: number; newest: number | null; error: string | null }[];
  sites: { site: string; newest: number }[];
  newest: number | null;
  lastDrill: number | null;
  rules: RuleResult[];
}

interface ProtectionReport {
  evaluatedAt: number;
  ok: boolean;
  destinations: { name: string; type: string; site: string | null; error: string | null }[];
  units: UnitProtection[];
}

const RULES = ['minCopies', 'minSites', 'rpo', 'drillWithin'];

function RuleCell({ r }: { r: RuleResult | undefined }) {
  if (!r) return <td className="muted small">not checked</td>;
  return (
    <td data-rule={r.rule} data-ok={r.ok}>
      <span className={`chip ${r.ok ? 'chip-ok' : 'chip-bad'}`}>{r.ok ? 'ok' : 'violated'}</span>
      <div className="small">{r.why}</div>
    </td>
  );
}

export function ProtectionPage() {
  const [report, setReport] = useState<ProtectionReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(true);
  const load = async () => {
    setBusy(true);
    try {
      setReport((await api<{ report: ProtectionReport }>('/api/protection')).report);
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  useEffect(() => {
    void load();
  }, []);
  const rules = RULES.filter((n) => report?.units.some((u) => u.rules.some((r) => r.rule === n)));
  const bad = report?.units.filter((u) => !u.ok).length ?? 0;
  return (
    <>
      <PageHeader title="Protection">
        <button type="button" className="secondary small" onClick={() => void load()} disabled={busy}>
          Refresh
        </button>
      </PageHeader>
      <ErrorNote error={error} />
      <Loading when={busy && !report} />
      {report ? (
        <p className={bad ? 'error' : 'muted'}>
          {bad
            ? `${bad} of ${report.units.length} unit(s) in violation`
            : `all ${report.units.length} unit(s) protected`}
          {' · '}evaluated {time(report.evaluatedAt)}
        </p>
      ) : null}
      {report?.destinations
        .filter((d) => d.error)
        .map((d) => (
          <p key={d.name} className="error">
            {d.name}: {d.error}
          </p>
        ))}
      <Empty when={!!report && report.units.length === 0}>No units backed up yet.</Empty>
      {report?.units.length ? (
        <div className="table-wrap card">
          <table id="protection">
            <thead>
              <tr>
                <th>Plan</th>
                <th>Unit</th>
                {rules.map((r) => (
                  <th key={r}>{r}</th>
                ))}
                <th>Copies</th>
                <th>Newest per site</th>
                <th>Last drill</th>
              </tr>
            </thead>
            <tbody>
              {report.units.map((u) => (
                <tr key={`${u.plan}/${u.target}/${u.unit ?? ''}`} data-ok={u.ok}>
                  <td>{u.plan}</td>
                  <td>{unitName(u.target, u.unit)}</td>
                  {rules.map((n) => (
                    <RuleCell key={n} r={u.rules.find((r) => r.rule === n)} />
                  ))}
                  <td className="small">
                    {u.copies.map((c) => (
                      <div key={c.destination} title={c.error ?? ''}>
                        {c.destination}
                        {c.site ? ` (${c.site})` : ''}: {c.error ? 'unreadable' : c.count}
                      </div>
                    ))}
                  </td>
                  <td className="small">
                    {u.sites.length
                      ? u.sites.map((s) => (
                          <div key={s.site}>
                            {s.site}: {time(s.newest)}
                          </div>
                        ))
                      : '-'}
                  </td>
                  <td className="small">{u.lastDrill === null ? '-' : time(u.lastDrill)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
