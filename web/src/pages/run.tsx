// One run: its tasks with status, reason and the snapshots they saved (a
// short id linking to the file browser), and its log, polled every second
// (GET /api/runs/:id/log?after=N) while the run is running.

import { useEffect, useRef, useState } from 'react';
import { api, qs } from '../api.ts';
import { Link } from '../router.tsx';
import { useApi } from '../use-api.ts';
import { bytes, duration, time, unitName } from '../format.ts';
import type { LogLine, Plan, Run, RunLog, RunWithTasks, Task } from '../types.ts';
import { Badge, ErrorNote, PageHeader } from '../components/status.tsx';

export function RunPage({ id }: { id: string }) {
  const [run, setRun] = useState<Run | null>(null);
  const [tasks, setTasks] = useState<Task[]>([]);
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<string | null>(null);
  const logEnd = useRef<HTMLDivElement>(null);
  const plan = useApi<Plan>(run ? `/api/plans/${encodeURIComponent(run.plan)}` : null);

  useEffect(() => {
    let live = true;
    let after = 0;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setLines([]);
    const tick = async () => {
      try {
        for (;;) {
          const log = await api<RunLog>(`/api/runs/${encodeURIComponent(id)}/log?after=${after}`);
          if (!live) return;
          after = log.last;
          if (log.items.length) setLines((old) => [...old, ...log.items]);
          if (log.items.length < 1000) break;
        }
        const r = await api<RunWithTasks>(`/api/runs/${encodeURIComponent(id)}`);
        if (!live) return;
        setRun(r.run);
        setTasks(r.tasks);
        setError(null);
        if (r.run.status === 'running') timer = setTimeout(tick, 1000);
        else {
          // One more read: lines written between the last log read and the end.
          const log = await api<RunLog>(`/api/runs/${encodeURIComponent(id)}/log?after=${after}`);
          if (live && log.items.length) setLines((old) => [...old, ...log.items]);
        }
      } catch (e) {
        if (!live) return;
        setError((e as Error).message);
        timer = setTimeout(tick, 3000);
      }
    };
    void tick();
    return () => {
      live = false;
      if (timer) clearTimeout(timer);
    };
  }, [id]);

  useEffect(() => {
    if (run?.status === 'running') logEnd.current?.scrollIntoView({ block: 'nearest' });
  }, [lines.length, run?.status]);

  return (
    <>
      <PageHeader title={`Run ${id}`}>{run ? <Badge value={run.status} /> : null}</PageHeader>
      <ErrorNote error={error} />
      {run ? (
        <section className="card">
          <dl className="facts" id="run-facts">
            <dt>Plan</dt>
            <dd>
              <Link to={`/runs?plan=${encodeURIComponent(run.plan)}`}>{run.plan}</Link>
            </dd>
            <dt>Status</dt>
            <dd id="run-status" data-status={run.status}>
              {run.status}
              {run.reason ? ` — ${run.reason}` : ''}
            </dd>
            <dt>Trigger</dt>
            <dd>
              {run.trigger}
              {run.retryOf ? (
                <>
                  {' '}
                  (retry of <Link to={`/runs/${run.retryOf}`}>{run.retryOf}</Link>)
                </>
              ) : null}
            </dd>
            <dt>Started</dt>
            <dd>{time(run.startedAt)}</dd>
            <dt>Duration</dt>
            <dd>{run.finishedAt ? duration(run.finishedAt - run.startedAt) : 'running…'}</dd>
            {run.coalescedInto ? (
              <>
                <dt>Coalesced into</dt>
                <dd>
                  <Link to={`/runs/${run.coalescedInto}`}>{run.coalescedInto}</Link>
                </dd>
              </>
            ) : null}
          </dl>
        </section>
      ) : null}
      <section className="card">
        <h2>Tasks</h2>
        <div className="table-wrap">
          <table id="tasks">
            <thead>
              <tr>
                <th>#</th>
                <th>Activity</th>
                <th>Unit</th>
                <th>Status</th>
                <th>Reason</th>
                <th>Snapshot</th>
                <th>Size</th>
                <th>Duration</th>
              </tr>
            </thead>
            <tbody>
              {tasks.map((t) => (
                <tr key={t.id} data-status={t.status}>
                  <td>{t.seq}</td>
                  <td>
                    {t.activity} <span className="muted small">{t.kind}</span>
                  </td>
                  <td>{unitName(t.target, t.unit)}</td>
                  <td>
                    <Badge value={t.status} />
                  </td>
                  <td className="reason">{t.reason ?? ''}</td>
                  <td className="mono snapshots">
                    <SnapshotLinks task={t} destination={plan.data?.destination ?? null} />
                  </td>
                  <td>{bytes(t.bytes)}</td>
                  <td>
                    {t.startedAt && t.finishedAt ? duration(t.finishedAt - t.startedAt) : t.startedAt ? '…' : '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section className="card">
        <h2>Log {run?.status === 'running' ? <span className="live">live</span> : null}</h2>
        <div className="log" id="run-log">
          {lines.map((l) => (
            <div key={l.seq} className={`log-line log-${l.level}`}>
              <span className="muted">{time(l.at).slice(11)}</span> {l.message}
            </div>
          ))}
          <div ref={logEnd} />
        </div>
      </section>
    </>
  );
}

/** A repository snapshot id (a directory destination's generations have file names instead). */
const REPO_ID = /^[0-9a-f]{64}$/;

/** The snapshots a task saved: short ids, linking to the file browser when they are in the plan's repository. */
function SnapshotLinks({ task, destination }: { task: Task; destination: string | null }) {
  const browsable = destination !== null && (task.kind === 'backup' || task.kind === 'export');
  return (
    <>
      {task.snapshots.map((id, i) => (
        <span key={id}>
          {i > 0 ? ' ' : null}
          {browsable && REPO_ID.test(id) ? (
            <Link to={`/browse${qs({ destination, snapshot: id })}`} title={id} className="snapshot-link">
              {id.slice(0, 8)}
            </Link>
          ) : (
            <span title={id}>{REPO_ID.test(id) ? id.slice(0, 8) : id}</span>
          )}
        </span>
      ))}
    </>
  );
}
