// Sending an alert: store it in the catalog, then deliver it on every
// configured channel that takes it (channel-filter.ts) at once (a slow or
// failing channel does not hold up the others) and record each outcome:
// delivered, failed with its reason, or suppressed by the channel's filters.
// Never throws: an alert matters most when things are broken, so even when
// the catalog cannot store it, it is sent. An opt-in event (run-started,
// run-succeeded) that no channel takes is neither stored nor sent.

import { randomBytes } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.ts';
import type { Clock } from '../core/clock.ts';
import { systemClock } from '../core/clock.ts';
import type { AlertEvent, AlertPayload } from './events.ts';
import { toPayload } from './events.ts';
import { channelVerdict, isOptIn } from './channel-filter.ts';
import type { ChannelFilters } from './channel-filter.ts';
import { runAlertCommand } from './command.ts';
import type { CommandConfig } from './command.ts';
import { sendEmail } from './email.ts';
import type { EmailConfig } from './email.ts';
import { sendSnmpTrap } from './snmp.ts';
import type { SnmpConfig } from './snmp.ts';
import { sendWebhook } from './webhook.ts';
import type { DeliveryResult, WebhookConfig } from './webhook.ts';
import { sendHealthchecksPing } from './healthchecks.ts';
import type { HealthchecksConfig } from './healthchecks.ts';
import { sendNtfy } from './ntfy.ts';
import type { NtfyConfig } from './ntfy.ts';
import { sendChat } from './chat.ts';
import type { ChatConfig } from './chat.ts';

export type AlertChannel = { name: string } & ChannelFilters &
  (
    | { type: 'webhook'; webhook: WebhookConfig }
    | { type: 'command'; command: CommandConfig }
    | { type: 'email'; email: EmailConfig }
    | { type: 'snmp'; snmp: SnmpConfig }
    | { type: 'healthchecks'; healthchecks: HealthchecksConfig }
    | { type: 'ntfy'; ntfy: NtfyConfig }
    | { type: 'chat'; chat: ChatConfig }
  );

export interface ChannelOutcome extends DeliveryResult {
  channel: string;
  /** Set when the channel's filters kept the alert off it (ok is then false, attempts 0). */
  suppressed?: true;
}

export interface SentAlert {
  /** Null when no channel takes this opt-in event: it was neither stored nor sent. */
  id: string | null;
  /** False when the catalog could not store the alert (it was still sent). */
  recorded: boolean;
  recordError?: string;
  /** Outcomes that could not be recorded in the catalog, one line each. */
  outcomeErrors?: string[];
  deliveries: ChannelOutcome[];
}

/** Records `event`, delivers it to each channel that takes it, records every outcome; resolves once all are recorded. */
export async function sendAlert(
  catalog: Catalog,
  event: AlertEvent,
  channels: AlertChannel[],
  clock: Clock = systemClock,
): Promise<SentAlert> {
  const verdicts = channels.map((ch) => ({ ch, v: channelVerdict(ch.type, ch, event) }));
  if (isOptIn(event.event) && !verdicts.some((x) => x.v.take)) return { id: null, recorded: false, deliveries: [] };
  const store = safely(() => catalog.alerts());
  let id: string;
  let recorded = false;
  let recordError: string | undefined;
  try {
    if (!store.ok) throw store.error;
    id = store.value.record(event);
    recorded = true;
  } catch (e) {
    id = randomBytes(8).toString('hex');
    recordError = message(e);
  }
  const outcomeErrors: string[] = [];
  const note = (channel: string, ok: boolean | 'suppressed', detail: string) => {
    if (!recorded || !store.ok) return;
    const r = safely(() => store.value.markDelivered(id, channel, ok, detail));
    if (!r.ok) outcomeErrors.push(`cannot record the outcome on channel ${channel}: ${message(r.error)}`);
  };
  const stored = recorded && store.ok ? safely(() => store.value.get(id)) : undefined;
  const at = stored?.ok && stored.value ? stored.value.at : clock.now();
  const payload = toPayload(id, at, event);
  const deliveries = await Promise.all(
    verdicts.map(async ({ ch, v }): Promise<ChannelOutcome | null> => {
      if (!v.take) {
        if (v.suppressed === null) return null;
        note(ch.name, 'suppressed', v.suppressed);
        return { channel: ch.name, ok: false, suppressed: true, detail: v.suppressed, attempts: 0 };
      }
      let r: DeliveryResult;
      try {
        r = await deliver(ch, payload, clock);
      } catch (e) {
        r = { ok: false, detail: `channel failed: ${message(e)}`, attempts: 0 };
      }
      note(ch.name, r.ok, r.detail);
      return { channel: ch.name, ...r };
    }),
  );
  return {
    id,
    recorded,
    ...(recordError !== undefined ? { recordError } : {}),
    ...(outcomeErrors.length ? { outcomeErrors } : {}),
    deliveries: deliveries.filter((d) => d !== null),
  };
}

function deliver(ch: AlertChannel, payload: AlertPayload, clock: Clock): Promise<DeliveryResult> {
  switch (ch.type) {
    case 'webhook':
      return sendWebhook(payload, ch.webhook, clock);
    case 'command':
      return runAlertCommand(payload, ch.command);
    case 'email':
      return sendEmail(payload, ch.email, clock);
    case 'snmp':
      return sendSnmpTrap(payload, ch.snmp);
    case 'healthchecks':
      return sendHealthchecksPing(payload, ch.healthchecks, clock);
    case 'ntfy':
      return sendNtfy(payload, ch.ntfy, clock);
    case 'chat':
      return sendChat(payload, ch.chat, clock);
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function safely<T>(fn: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}
