// The scaffold both restore wizards share (the group restore of
// pages/restore.tsx and the single-unit one of pages/restore-unit.tsx): the
// five steps — what to restore, its snapshot, where to, confirm, result —
// with their Back and Next buttons, the note when the restore goes over live
// data (and Next refused there without the admin role), the Restore button
// (a danger button in place), the request's error and "Another restore".
// A page supplies only its own fields, facts, request and result.

import { useState } from 'react';
import type { ChangeEventHandler, ReactNode } from 'react';
import { roleAllows } from '../api.ts';
import type { Role } from '../types.ts';
import { Badge, ErrorNote, WizardSteps } from './status.tsx';
import { Facts } from './facts.tsx';
import type { Fact } from './facts.tsx';

/** One step's section: its id, heading and fields. */
export interface StepView {
  id: string;
  title: ReactNode;
  body: ReactNode;
  /** Whether Next may be pressed (default: yes). */
  canNext?: boolean;
}

/** The "where to" step: its fields, then the in-place note (in this wording), then its options. */
export interface PlaceView extends StepView {
  options: ReactNode;
  inPlaceNote: { admin: string; other: string };
}

export interface ConfirmView {
  id: string;
  facts: readonly (Fact | null | false)[];
  /** Shown below the facts (the group restore's plan). */
  extra?: ReactNode;
  /** Whether the Restore button may be pressed (default: yes). */
  canRestore?: boolean;
}

export interface ResultView {
  id: string;
  ok: boolean;
  body: ReactNode;
  /** Shown beside "Another restore". */
  links?: ReactNode;
}

export interface RestoreWizardProps<C, R> {
  role: Role;
  /** The names of the first three steps; Confirm and Result follow. */
  names: readonly [string, string, string];
  /** Why what the first step offers could not be loaded. */
  loadError: string | null;
  /** What the first step chose: the later steps need it, Next waits for it. */
  choice: C | null;
  choose: Omit<StepView, 'canNext'>;
  snapshot(c: C): StepView;
  place(c: C): PlaceView;
  /** Whether the restore, as set up, goes over live data. */
  inPlace: boolean;
  confirm(c: C): ConfirmView;
  restore(c: C): Promise<R>;
  result(r: R): ResultView;
}

export function RestoreWizard<C, R>(p: RestoreWizardProps<C, R>) {
  const [step, setStep] = useState(1);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<R | null>(null);
  const c = p.choice;

  const submit = async () => {
    if (!c) return;
    setBusy(true);
    setError(null);
    try {
      setResult(await p.restore(c));
      setStep(5);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const restart = () => {
    setStep(1);
    setResult(null);
    setError(null);
  };

  return (
    <>
      <WizardSteps names={[...p.names, 'Confirm', 'Result']} step={step} />
      <ErrorNote error={p.loadError ?? error} />
      {step === 1 ? <Step view={{ ...p.choose, canNext: c !== null }} onNext={() => setStep(2)} /> : null}
      {step === 2 && c ? <Step view={p.snapshot(c)} onBack={() => setStep(1)} onNext={() => setStep(3)} /> : null}
      {step === 3 && c ? (
        <PlaceStep
          view={p.place(c)}
          inPlace={p.inPlace}
          isAdmin={roleAllows(p.role, 'admin')}
          onBack={() => setStep(2)}
          onNext={() => setStep(4)}
        />
      ) : null}
      {step === 4 && c ? (
        <ConfirmStep view={p.confirm(c)} inPlace={p.inPlace} busy={busy} onBack={() => setStep(3)} onRestore={submit} />
      ) : null}
      {step === 5 && result !== null ? <ResultStep view={p.result(result)} onRestart={restart} /> : null}
    </>
  );
}

interface StepProps {
  view: StepView;
  onBack?: () => void;
  onNext: () => void;
  children?: ReactNode;
}

function Step({ view, onBack, onNext, children }: StepProps) {
  return (
    <section className="card wizard" id={view.id}>
      <h2>{view.title}</h2>
      {view.body}
      {children}
      <div className="buttons">
        {onBack ? (
          <button type="button" className="secondary" onClick={onBack}>
            Back
          </button>
        ) : null}
        <button type="button" disabled={view.canNext === false} onClick={onNext}>
          Next
        </button>
      </div>
    </section>
  );
}

interface PlaceStepProps {
  view: PlaceView;
  inPlace: boolean;
  isAdmin: boolean;
  onBack: () => void;
  onNext: () => void;
}

/** In place only admins may go on; the note says so (or warns an admin). */
function PlaceStep({ view, inPlace, isAdmin, onBack, onNext }: PlaceStepProps) {
  const canNext = view.canNext !== false && !(inPlace && !isAdmin);
  return (
    <Step view={{ ...view, canNext }} onBack={onBack} onNext={onNext}>
      {inPlace ? (
        <p className={isAdmin ? 'warning' : 'error'} role="note">
          {isAdmin ? view.inPlaceNote.admin : view.inPlaceNote.other}
        </p>
      ) : null}
      {view.options}
    </Step>
  );
}

interface ConfirmStepProps {
  view: ConfirmView;
  inPlace: boolean;
  busy: boolean;
  onBack: () => void;
  onRestore: () => void;
}

function ConfirmStep({ view, inPlace, busy, onBack, onRestore }: ConfirmStepProps) {
  return (
    <section className="card wizard" id={view.id}>
      <h2>Confirm</h2>
      <Facts items={view.facts} />
      {view.extra}
      <div className="buttons">
        <button type="button" className="secondary" onClick={onBack} disabled={busy}>
          Back
        </button>
        <button
          type="button"
          className={inPlace ? 'danger' : ''}
          onClick={onRestore}
          disabled={busy || view.canRestore === false}
        >
          {busy ? 'Restoring…' : inPlace ? 'Restore in place' : 'Restore'}
        </button>
      </div>
    </section>
  );
}

function ResultStep({ view, onRestart }: { view: ResultView; onRestart: () => void }) {
  return (
    <section className="card wizard" id={view.id} data-ok={String(view.ok)}>
      <h2>
        {view.ok ? 'Restored' : 'Restore failed'} <Badge value={view.ok ? 'succeeded' : 'failed'} />
      </h2>
      {view.body}
      <div className="buttons">
        <button type="button" className="secondary" onClick={onRestart}>
          Another restore
        </button>
        {view.links ? <> {view.links}</> : null}
      </div>
    </section>
  );
}

interface ChoiceProps {
  name: string;
  value: string;
  checked: boolean;
  onChange: ChangeEventHandler<HTMLInputElement>;
  children: ReactNode;
}

/** One radio choice of a step: the input and what it stands for. */
export function Choice({ name, value, checked, onChange, children }: ChoiceProps) {
  return (
    <label className="choice">
      <input type="radio" name={name} value={value} checked={checked} onChange={onChange} />
      <span>{children}</span>
    </label>
  );
}
