// Which channels get an alert: a channel's own kind of events (a heartbeat
// channel such as healthchecks takes only run events, and only of its
// plans), its `events` list and its `minSeverity`. Events that say all is
// well (run-started, run-succeeded) go only to channels that ask for them.
// An alert kept off a channel by the channel's filters is recorded as
// suppressed there, with the reason; one that is not its kind at all is not.

import { OPT_IN_EVENTS, SEVERITIES } from '../core/alert-event.ts';
import type { AlertEvent, AlertEventType, Severity } from '../core/alert-event.ts';
import { HEALTHCHECKS_PINGS } from './healthchecks.ts';

/** The filters every channel may have. */
export interface ChannelFilters {
  /** The events it gets (unset: every event but the opt-in ones). */
  events?: readonly string[];
  /** Events less severe than this are kept off it (unset: every severity). */
  minSeverity?: Severity;
  /** Run events of these plans only (healthchecks). */
  plans?: readonly string[];
}

export type Verdict = { take: true } | { take: false; suppressed: string | null };

const SKIP: Verdict = { take: false, suppressed: null };

/** Whether a channel of kind `type` with `filters` takes `e`; when not, why (null: not its kind of event). */
export function channelVerdict(type: string, filters: ChannelFilters, e: AlertEvent): Verdict {
  const optIn = OPT_IN_EVENTS.includes(e.event);
  if (type === 'healthchecks') {
    if (!(e.event in HEALTHCHECKS_PINGS)) return SKIP;
    if (filters.plans && !filters.plans.includes(String(e.details.plan))) return SKIP;
  } else if (filters.events) {
    if (!filters.events.includes(e.event))
      return optIn ? SKIP : { take: false, suppressed: `${e.event} is not in the channel's events` };
  } else if (optIn) return SKIP;
  if (filters.minSeverity && rank(e.severity) < rank(filters.minSeverity))
    return { take: false, suppressed: `${e.severity} is below the channel's minSeverity ${filters.minSeverity}` };
  return { take: true };
}

function rank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** True when an event of this kind is stored and sent only if some channel takes it. */
export function isOptIn(event: AlertEventType): boolean {
  return OPT_IN_EVENTS.includes(event);
}
