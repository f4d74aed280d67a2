// The runbooks: each with its description, steps and variables; operators
// can see a dry run (what each step would change, every precondition
// evaluated; nothing changes) or start a run with its variables (a
// destructive runbook needs its name typed). Below, the recent runs, polled
// while one is going.

import { useState } from 'react';
import { dryRunRunbook, roleAllows, startRunbook } from '../api.ts';
import { Link, navigate } from '../router.tsx';
import { useApi } from '../use-api.ts';
import { duration, time } from '../format.ts';
import type { Role, Runbook, RunbookDryRun, RunbookList, RunbookRunList, RunbookSummary } from '../types.ts';
import { Badge, Empty, ErrorNote, Loading, PageHeader } from '../components/status.tsx';

const GOING = new Set(['running', 'waiting']);

export function RunbooksPage({ role }: { role: Role }) {
  const list = useApi<RunbookList>('/api/runbooks');
  const runs = useApi<RunbookRunList>('/api/runbook-runs?limit=30', {
    pollMs: 2000,
    pollWhile: (d) => d.items.some((r) => GOING.has(r.status)),
  });
  const [open, setOpen] = useState<string | null>(null);
  const canRun = roleAllows(role, 'operator');

  return (
    <>
      <PageHeader title="Runbooks" />
      <ErrorNote error={list.error} />
      <Loading when={list.loading && !list.data} />
      <div className="cards">
        {list.data?.items.map((r) => (
          <RunbookCard
            key={r.name}
            summary={r}
            open={open === r.name}
            onOpen={() => setOpen(open === r.name ? null : r.name)}
            canRun={canRun}
          />
        ))}
      </div>
      <Empty when={list.data !== null && list.data.items.length === 0}>
        No runbooks configured (runbooks: in the configuration, or runbooks/*.yaml beside it).
      </Empty>
      <section className="card">
        <h2>Recent runs</h2>
        <ErrorNote error={runs.error} />
        <div className="table-wrap">
          <table id="runbook-runs">
            <thead>
              <tr>
                <th>Run</th>
                <th>Runbook</th>
                <th>Status</th>
                <th>Now at</th>
                <th>Started by</th>
                <th>Started</th>
                <th>Duration</th>
              </tr>
            </thead>
            <tbody>
              {runs.data?.items.map((r) => (
                <tr key={r.id} data-status={r.status}>
                  <td>
                    <Link to={`/runbooks/runs/${r.id}`} className="mono">
                      {r.id}
                    </Link>
                    {r.dryRun ? <span className="muted small"> dry run</span> : null}
                  </td>
                  <td>{r.runbook}</td>
                  <td>
                    <Badge value={r.status} /> {r.waiting ? <Badge value="approval" /> : null}
                  </td>
                  <td>{r.current ?? '—'}</td>
                  <td>{r.startedBy}</td>
                  <td>{time(r.startedAt)}</td>
                  <td>{r.finishedAt ? duration(r.finishedAt - r.startedAt) : '…'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <Empty when={runs.data !== null && runs.data.items.length === 0}>No runs yet.</Empty>
      </section>
    </>
  );
}

function RunbookCard(props: { summary: RunbookSummary; open: boolean; onOpen(): void; canRun: boolean }) {
  const { summary: s, open, onOpen, canRun } = props;
  return (
    <section
      className="card runbook"
      data-runbook={s.name}
      id={`runbook-${s.name}`}
      // Open, it takes the whole row: its form and dry run need the room.
      style={open ? { gridColumn: '1 / -1' } : undefined}
    >
      <div className="plan-head">
        <h2>{s.name}</h2>
        {s.destructive ? <Badge value="destructive" /> : null}
      </div>
      {s.description ? <p>{s.description}</p> : null}
      <p className="muted small">
        {s.steps} step{s.steps === 1 ? '' : 's'} · {s.source}
      </p>
      <button type="button" className="secondary small open-runbook" onClick={onOpen}>
        {open ? 'Close' : canRun ? 'Details, dry run, start…' : 'Details'}
      </button>
      {open ? <RunbookDetail name={s.name} canRun={canRun} /> : null}
    </section>
  );
}

function RunbookDetail({ name, canRun }: { name: string; canRun: boolean }) {
  const rb = useApi<Runbook>(`/api/runbooks/${encodeURIComponent(name)}`);
  const [vars, setVars] = useState<Record<string, string>>({});
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [plan, setPlan] = useState<RunbookDryRun | null>(null);
  const r = rb.data;
  if (!r) return <ErrorNote error={rb.error} />;
  const values = Object.fromEntries(
    r.vars.map((v) => [v.name, vars[v.name] ?? v.default ?? ''] as const).filter(([, x]) => x !== ''),
  );
  const missing = r.vars.filter((v) => v.default === null && !values[v.name]).map((v) => v.name);

  const act = async (what: 'dry-run' | 'start') => {
    setBusy(true);
    setError(null);
    try {
      if (what === 'dry-run') setPlan(await dryRunRunbook(name, values));
      else {
        const started = await startRunbook(name, values, r.destructive ? confirm : undefined);
        navigate(`/runbooks/runs/${started.runId}`);
      }
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="runbook-detail">
      <ol className="runbook-steps">
        {r.steps.map((s) => (
          <li key={s.name}>
            <b>{s.name}</b> <span className="muted small">{s.kind}</span>
            {s.description ? ` — ${s.description}` : ''}
          </li>
        ))}
      </ol>
      {canRun ? (
        <form
          className="runbook-start"
          style={{ maxWidth: '40rem' }}
          onSubmit={(e) => {
            e.preventDefault();
            void act('start');
          }}
        >
          {r.vars.map((v) => (
            <label key={v.name}>
              {v.name}
              {v.default === null ? ' (required)' : ''}
              {v.description ? <span className="muted small">{v.description}</span> : null}
              <input
                name={`var-${v.name}`}
                value={vars[v.name] ?? v.default ?? ''}
                onChange={(e) => setVars({ ...vars, [v.name]: e.target.value })}
              />
            </label>
          ))}
          {r.destructive ? (
            <label>
              <span>
                This runbook is destructive: type <b className="mono">{name}</b> to start it
              </span>
              <input name="confirm" value={confirm} autoComplete="off" onChange={(e) => setConfirm(e.target.value)} />
            </label>
          ) : null}
          <ErrorNote error={error} />
          {missing.length > 0 ? <p className="muted small">Needs a value: {missing.join(', ')}</p> : null}
          <div className="buttons">
            <button type="button" className="secondary dry-run" disabled={busy} onClick={() => act('dry-run')}>
              Dry run
            </button>
            <button
              type="submit"
              className={r.destructive ? 'danger start' : 'start'}
              disabled={busy || missing.length > 0 || (r.destructive && confirm !== name)}
            >
              {busy ? 'Working…' : 'Start'}
            </button>
          </div>
        </form>
      ) : null}
      {plan ? <DryRunPlan plan={plan} /> : null}
    </div>
  );
}

function DryRunPlan({ plan }: { plan: RunbookDryRun }) {
  return (
    <div className="dry-run-plan" id="dry-run-plan">
      <h3>Dry run: nothing was changed</h3>
      <ol>
        {plan.steps.map((s) => (
          <li key={s.name}>
            <b>{s.name}</b> <span className="muted small">{s.kind}</span>
            <ul>
              {s.preconditions.map((c) => (
                <li key={c.text}>
                  <span
                    className={`chip ${c.holds === true ? 'chip-ok' : c.holds === false ? 'chip-bad' : 'chip-off'}`}
                  >
                    {c.holds === true ? 'holds' : c.holds === false ? 'fails' : 'later'}
                  </span>
                  {c.text}
                  {c.why ? <span className="muted small"> — {c.why}</span> : null}
                </li>
              ))}
              {s.changes.map((c) => (
                <li key={c} className="change">
                  {c}
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ol>
    </div>
  );
}
