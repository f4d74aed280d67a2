// One runbook run, polled every second while it runs or waits: its steps
// with status, attempt, duration, outputs and errors; a step waiting for an
// approval shows the Approve button (with the typed name of a destructive
// runbook), an interrupted step that is not idempotent Rerun and Mark done.
// Operators may abort a going run and resume an interrupted one.

import { useState } from 'react';
import { abortRunbookRun, approveRunbookStep, resumeRunbookRun, roleAllows } from '../api.ts';
import { Link } from '../router.tsx';
import { useApi } from '../use-api.ts';
import { duration, time } from '../format.ts';
import type { Role, RunbookRun, RunbookStepView } from '../types.ts';
import { Badge, ErrorNote, PageHeader } from '../components/status.tsx';
import { Facts } from '../components/facts.tsx';

const GOING = new Set(['running', 'waiting']);
/** A plan run's id (a safehold step's runId; a group restore's is a group run, which has no page). */
const PLAN_RUN_ID = /^[0-9a-f]{16}$/;

export function RunbookRunPage({ id, role }: { id: string; role: Role }) {
  const run = useApi<RunbookRun>(`/api/runbook-runs/${encodeURIComponent(id)}`, {
    pollMs: 1000,
    pollWhile: (r) => GOING.has(r.status),
  });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const r = run.data;
  const operator = roleAllows(role, 'operator');

  const act = async (f: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
      run.reload();
    }
  };

  return (
    <>
      <PageHeader title={`Runbook run ${id}`}>
        {r ? <Badge value={r.status} /> : null}
        {r && operator && GOING.has(r.status) ? (
          <button
            type="button"
            className="danger small abort"
            disabled={busy}
            onClick={() => act(() => abortRunbookRun(id))}
          >
            Abort
          </button>
        ) : null}
        {r && operator && r.status === 'interrupted' ? (
          <button
            type="button"
            className="small resume"
            disabled={busy}
            onClick={() => act(() => resumeRunbookRun(id))}
          >
            Resume
          </button>
        ) : null}
      </PageHeader>
      <ErrorNote error={run.error ?? error} />
      {r ? (
        <section className="card">
          <Facts
            items={[
              { term: 'Runbook', value: <Link to="/runbooks">{r.runbook}</Link> },
              {
                term: 'Status',
                id: 'runbook-run-status',
                value: (
                  <span data-status={r.status}>
                    {r.status}
                    {r.dryRun ? ' (dry run)' : ''}
                  </span>
                ),
              },
              r.error ? { term: 'Error', value: r.error, className: 'reason' } : null,
              { term: 'Started by', value: r.startedBy },
              { term: 'Started', value: time(r.startedAt) },
              { term: 'Duration', value: r.finishedAt ? duration(r.finishedAt - r.startedAt) : 'going…' },
              Object.keys(r.vars).length > 0
                ? {
                    term: 'Variables',
                    value: (
                      <span className="mono">
                        {Object.entries(r.vars)
                          .map(([k, v]) => `${k}=${v}`)
                          .join('  ')}
                      </span>
                    ),
                  }
                : null,
            ]}
          />
        </section>
      ) : null}
      <section className="card">
        <h2>Steps {r && GOING.has(r.status) ? <span className="live">live</span> : null}</h2>
        <div className="table-wrap">
          <table id="runbook-steps">
            <thead>
              <tr>
                <th>#</th>
                <th>Step</th>
                <th>Status</th>
                <th>Attempt</th>
                <th>Duration</th>
                <th>Outputs</th>
                <th>Error</th>
              </tr>
            </thead>
            <tbody>
              {r?.steps.map((s) => (
                // Steps not reached yet all have seq 0: the name keeps the keys apart.
                <tr key={`${s.phase}-${s.seq}-${s.name}`} data-step={s.name} data-status={s.status}>
                  <td>{s.seq || ''}</td>
                  <td>
                    {s.name} <span className="muted small">{s.kind}</span>
                    {s.phase === 'rollback' ? <span className="muted small"> (rollback)</span> : null}
                    {s.approval ? (
                      <StepApproval
                        step={s}
                        runbook={r.runbook}
                        role={role}
                        busy={busy}
                        onAct={(action, confirm) => act(() => approveRunbookStep(id, s.name, action, confirm))}
                      />
                    ) : null}
                  </td>
                  <td>
                    <Badge value={s.status} />
                  </td>
                  <td>{s.attempt}</td>
                  <td>
                    {s.startedAt && s.finishedAt ? duration(s.finishedAt - s.startedAt) : s.startedAt ? '…' : '—'}
                  </td>
                  <td className="mono small outputs">
                    {s.outputs
                      ? Object.entries(s.outputs).map(([k, v]) => (
                          <div key={k}>
                            {k}=
                            {s.kind === 'safehold' && k === 'runId' && typeof v === 'string' && PLAN_RUN_ID.test(v) ? (
                              <Link to={`/runs/${encodeURIComponent(v)}`}>{v}</Link>
                            ) : v === null ? (
                              '—'
                            ) : (
                              String(v)
                            )}
                          </div>
                        ))
                      : null}
                  </td>
                  <td className="reason">{s.error ?? ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
    </>
  );
}

/** The approval of a waiting step, or rerun / mark done of an interrupted one; refused by the server to a lower role. */
function StepApproval(props: {
  step: RunbookStepView;
  runbook: string;
  role: Role;
  busy: boolean;
  onAct(action: 'approve' | 'rerun' | 'mark-done', confirm?: string): void;
}) {
  const { step, runbook, role, busy, onAct } = props;
  const [confirm, setConfirm] = useState('');
  const need = step.approval!;
  const allowed = ['viewer', 'operator', 'admin'].includes(need.role) ? roleAllows(role, need.role as Role) : false;
  const typed = !need.needsConfirm || confirm === runbook;
  const interrupted = step.status === 'interrupted';
  return (
    <div className="approval">
      <p className="notice">
        {interrupted
          ? `Interrupted and not safe to run twice: rerun it, or mark it done (needs ${need.role}).`
          : `Waiting for an approval by ${need.role}.`}
        {allowed ? '' : ` You are ${role}.`}
      </p>
      {need.needsConfirm ? (
        <label>
          <span>
            Type <b className="mono">{runbook}</b> to confirm
          </span>
          <input
            name={`confirm-${step.name}`}
            value={confirm}
            autoComplete="off"
            onChange={(e) => setConfirm(e.target.value)}
          />
        </label>
      ) : null}
      <div className="buttons">
        {interrupted ? (
          <>
            <button
              type="button"
              className="rerun"
              disabled={busy || !typed}
              onClick={() => onAct('rerun', need.needsConfirm ? confirm : undefined)}
            >
              Rerun
            </button>
            <button
              type="button"
              className="secondary mark-done"
              disabled={busy || !typed}
              onClick={() => onAct('mark-done', need.needsConfirm ? confirm : undefined)}
            >
              Mark done
            </button>
          </>
        ) : (
          <button
            type="button"
            className="approve"
            disabled={busy || !typed}
            onClick={() => onAct('approve', need.needsConfirm ? confirm : undefined)}
          >
            Approve
          </button>
        )}
      </div>
    </div>
  );
}
