// Sending an alert: store it in the catalog, then deliver it on every
// configured channel (webhook, command, email, SNMP trap) at once (a slow or
// failing channel does not hold up the others) and record each outcome.
// Never throws: an alert matters most when things are broken, so even when
// the catalog cannot store it, it is sent.

import { randomBytes } from 'node:crypto';
import type { Catalog } from '../catalog/catalog.ts';
import type { Clock } from '../core/clock.ts';
import { systemClock } from '../core/clock.ts';
import type { AlertEvent, AlertPayload } from './events.ts';
import { toPayload } from './events.ts';
import { runAlertCommand } from './command.ts';
import type { CommandConfig } from './command.ts';
import { sendEmail } from './email.ts';
import type { EmailConfig } from './email.ts';
import { sendSnmpTrap } from './snmp.ts';
import type { SnmpConfig } from './snmp.ts';
import { sendWebhook } from './webhook.ts';
import type { DeliveryResult, WebhookConfig } from './webhook.ts';

export type AlertChannel =
  | { name: string; type: 'webhook'; webhook: WebhookConfig; events?: string[] }
  | { name: string; type: 'command'; command: CommandConfig; events?: string[] }
  | { name: string; type: 'email'; email: EmailConfig; events?: string[] }
  | { name: string; type: 'snmp'; snmp: SnmpConfig; events?: string[] };

export interface ChannelOutcome extends DeliveryResult {
  channel: string;
}

export interface SentAlert {
  id: string;
  /** False when the catalog could not store the alert (it was still sent). */
  recorded: boolean;
  recordError?: string;
  deliveries: ChannelOutcome[];
}

/** Records `event`, delivers it to each channel that accepts it (`events` unset: all), records the outcomes. */
export async function sendAlert(
  catalog: Catalog,
  event: AlertEvent,
  channels: AlertChannel[],
  clock: Clock = systemClock,
): Promise<SentAlert> {
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
    recordError = e instanceof Error ? e.message : String(e);
  }
  const stored = recorded && store.ok ? safely(() => store.value.get(id)) : undefined;
  const at = stored?.ok && stored.value ? stored.value.at : clock.now();
  const payload = toPayload(id, at, event);
  const chosen = channels.filter((c) => !c.events || c.events.includes(event.event));
  const deliveries = await Promise.all(
    chosen.map(async (ch): Promise<ChannelOutcome> => {
      let r: DeliveryResult;
      try {
        r = await deliver(ch, payload, clock);
      } catch (e) {
        r = { ok: false, detail: `channel failed: ${e instanceof Error ? e.message : String(e)}`, attempts: 0 };
      }
      if (recorded && store.ok) safely(() => store.value.markDelivered(id, ch.name, r.ok, r.detail));
      return { channel: ch.name, ...r };
    }),
  );
  return { id, recorded, ...(recordError !== undefined ? { recordError } : {}), deliveries };
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
  }
}

function safely<T>(fn: () => T): { ok: true; value: T } | { ok: false; error: unknown } {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}
