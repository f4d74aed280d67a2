// The group restore wizard's summary before its confirm button: the API's
// dry run (POST /api/restores/preview, which changes nothing) of the
// request as set up — whether it overwrites live data, the hooks that run,
// what the safety backup saves, the databases and files replaced and what
// is removed. Also the result's words for the safety backup.

import { useEffect, useState } from 'react';
import { api } from '../api.ts';
import { unitName } from '../format.ts';
import type { GroupRestoreRequest, RestoreResult } from '../types.ts';

type Plan = NonNullable<RestoreResult['plan']>;

interface PreviewProps {
  request: GroupRestoreRequest;
  /** Told the plan once loaded (null while loading or when it could not be worked out), with the request it is of (JSON). */
  onPlan: (p: Plan | null, request: string) => void;
}

export function GroupPlanPreview({ request, onPlan }: PreviewProps) {
  const [plan, setPlan] = useState<Plan | null>(null);
  const [error, setError] = useState<string | null>(null);
  const key = JSON.stringify(request);
  useEffect(() => {
    let live = true;
    setPlan(null);
    setError(null);
    onPlan(null, key);
    api<RestoreResult>('/api/restores/preview', { method: 'POST', body: JSON.parse(key) })
      .then((r) => {
        if (!live) return;
        setPlan(r.plan);
        onPlan(r.plan, key);
      })
      .catch((e: Error) => live && setError(e.message));
    return () => {
      live = false;
    };
  }, [key, onPlan]);
  if (error) return <p className="error">The restore cannot be worked out: {error}</p>;
  if (!plan) return <p className="muted">Working out what the restore does…</p>;
  return <PlanSummary plan={plan} />;
}

function PlanSummary({ plan }: { plan: Plan }) {
  const s = plan.safetyBackup;
  return (
    <div id="restore-plan" data-live={String(plan.touchesLive)}>
      <h3>What the restore does</h3>
      {plan.touchesLive ? (
        <p className="warning">Overwrites live data: {plan.overLiveData.join('; ')}</p>
      ) : (
        <p className="muted">No live data: everything goes to new database names and new places.</p>
      )}
      {plan.refusal ? <p className="error">Refused: {plan.refusal}</p> : null}
      <ul id="plan-hooks">
        {plan.hooks.map((h) => (
          <li key={h.step} data-runs={String(h.runs)}>
            <b>{h.step}</b>
            {h.hook ? ` (${h.hook})` : ''}: {h.runs ? `runs, ${h.why}` : h.why}
          </li>
        ))}
        <li id="plan-safety">
          <b>safety backup</b>: {s.why}
          {s.runs ? `: ${s.saves.join('; ')}` : ''}
        </li>
        {plan.databases.map((d) => (
          <li key={`db ${d.target}/${d.unit}`}>
            <b>{unitName(d.target, d.unit)}</b> into {d.physical ? 'the new data directory' : 'database'}{' '}
            <span className="mono">{d.into}</span>: {d.replaces ? 'REPLACED (it exists now)' : 'new'}
          </li>
        ))}
        {plan.files.map((f) => (
          <li key={`files ${f.target}/${f.unit}`}>
            <b>{unitName(f.target, f.unit)}</b>: <span className="mono">{f.places.join(', ')}</span> emptied, then{' '}
            {f.writes} entries restored ({f.replaces} replacing what exists now)
            {f.deleteCount > 0 ? (
              <>
                ; removed, not in the snapshot ({f.deleteCount}): <span className="mono">{f.deletes.join(', ')}</span>
                {f.deletes.length < f.deleteCount ? ' …' : ''}
              </>
            ) : (
              '; nothing removed'
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** What became of the safety backup, in words: never "none" for one that was asked for. */
export function safetyText(r: RestoreResult): string {
  switch (r.safetyState) {
    case 'taken':
      return `group run ${r.safety?.groupRun}, ${r.safety?.snapshots.length} snapshot(s)`;
    case 'not-needed':
      return 'not needed: nothing that existed was overwritten';
    case 'off':
      return 'off';
    case 'not-reached':
      return 'not taken: the restore stopped before that step';
  }
}
