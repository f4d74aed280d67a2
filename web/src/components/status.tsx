// Small shared pieces: a status badge, the error and loading notes, a page header.

import type { ReactNode } from 'react';

const TONE: Record<string, string> = {
  succeeded: 'ok',
  ok: 'ok',
  passed: 'ok',
  info: 'info',
  running: 'run',
  waiting: 'warn',
  approval: 'warn',
  interrupted: 'warn',
  aborted: 'muted',
  destructive: 'bad',
  'rolled-back': 'warn',
  pending: 'muted',
  skipped: 'muted',
  cancelled: 'muted',
  never: 'muted',
  partial: 'warn',
  stale: 'warn',
  warning: 'warn',
  refused: 'warn',
  failed: 'bad',
  failing: 'bad',
  critical: 'bad',
};

export function Badge({ value }: { value: string }) {
  return (
    <span className={`badge badge-${TONE[value] ?? 'muted'}`} data-status={value}>
      {value}
    </span>
  );
}

export function ErrorNote({ error }: { error: string | null }) {
  return error ? (
    <p className="error" role="alert">
      {error}
    </p>
  ) : null;
}

export function Loading({ when }: { when: boolean }) {
  return when ? <p className="muted">Loading…</p> : null;
}

export function PageHeader({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="page-header">
      <h1>{title}</h1>
      {children ? <div className="page-actions">{children}</div> : null}
    </div>
  );
}

export function Empty({ when, children }: { when: boolean; children: ReactNode }) {
  return when ? <p className="muted empty">{children}</p> : null;
}

/** The numbered steps of a wizard, the current one marked, earlier ones done. */
export function WizardSteps({ names, step }: { names: readonly string[]; step: number }) {
  return (
    <ol className="steps">
      {names.map((s, i) => (
        <li key={s} className={step === i + 1 ? 'current' : step > i + 1 ? 'done' : ''}>
          {s}
        </li>
      ))}
    </ol>
  );
}
