// A list of facts: the `dl.facts` of terms and values the restore wizards
// show on their confirm and result steps. A null or false item is left out,
// so a list can hold facts that only sometimes apply.

import { Fragment } from 'react';
import type { ReactNode } from 'react';

export interface Fact {
  term: string;
  value: ReactNode;
  /** The value's element id (tests and links find it by id). */
  id?: string;
  className?: string;
}

export function Facts({ items }: { items: readonly (Fact | null | false)[] }) {
  return (
    <dl className="facts">
      {items
        .filter((f): f is Fact => Boolean(f))
        .map((f) => (
          <Fragment key={f.term}>
            <dt>{f.term}</dt>
            <dd id={f.id} className={f.className}>
              {f.value}
            </dd>
          </Fragment>
        ))}
    </dl>
  );
}

export const yesNo = (b: boolean) => (b ? 'yes' : 'no');
