// The SNMP alert channel: one SNMPv2-Trap (v2c, not an inform) per alert,
// defined by deploy/SAFEHOLD-MIB.txt: snmpTrapOID.0 names the event
// (safeholdRetriesExhausted, ...), then the alert's id, event, severity,
// summary, time and details, then plan / run / target / unit / scope when the
// alert has them, all as UTF-8 OctetStrings with instance .0. A trap is
// unacknowledged UDP: "sent" is all a sender can know, so there is one
// attempt. The community never appears in results.

import { isIPv6 } from 'node:net';
import snmp from 'net-snmp';
import type { Session, Varbind } from 'net-snmp';
import type { AlertEventType, AlertPayload } from './events.ts';
import type { DeliveryResult } from './webhook.ts';

export interface SnmpConfig {
  host: string;
  /** UDP port of the trap receiver; default 162. */
  port?: number;
  /** The v2c community string (a secret). */
  community: string;
  /** Limit for sending the datagram (name lookup included); default 5 s. */
  timeoutMs?: number;
}

/**
 * PLACEHOLDER private enterprise number (not assigned to Safehold): replace it
 * here and in deploy/SAFEHOLD-MIB.txt once an IANA PEN is registered.
 */
export const SAFEHOLD_ENTERPRISE_OID = '1.3.6.1.4.1.59999';

const NOTIFICATIONS = `${SAFEHOLD_ENTERPRISE_OID}.0`;
const OBJECTS = `${SAFEHOLD_ENTERPRISE_OID}.1`;

/** Each event's NOTIFICATION-TYPE in SAFEHOLD-MIB: name and sub-identifier under safeholdNotifications. */
export const TRAP_TYPES: Readonly<Record<AlertEventType, { name: string; oid: string }>> = {
  'run-failed': { name: 'safeholdRunFailed', oid: `${NOTIFICATIONS}.1` },
  'retries-exhausted': { name: 'safeholdRetriesExhausted', oid: `${NOTIFICATIONS}.2` },
  'stale-lock-cleared': { name: 'safeholdStaleLockCleared', oid: `${NOTIFICATIONS}.3` },
  'low-space': { name: 'safeholdLowSpace', oid: `${NOTIFICATIONS}.4` },
  'quiesce-repaired': { name: 'safeholdQuiesceRepaired', oid: `${NOTIFICATIONS}.5` },
  'protection-violation': { name: 'safeholdProtectionViolation', oid: `${NOTIFICATIONS}.6` },
  'runbook-approval': { name: 'safeholdRunbookApproval', oid: `${NOTIFICATIONS}.7` },
  'runbook-failed': { name: 'safeholdRunbookFailed', oid: `${NOTIFICATIONS}.8` },
  'run-incomplete': { name: 'safeholdRunIncomplete', oid: `${NOTIFICATIONS}.9` },
  'run-started': { name: 'safeholdRunStarted', oid: `${NOTIFICATIONS}.10` },
  'run-succeeded': { name: 'safeholdRunSucceeded', oid: `${NOTIFICATIONS}.11` },
  'runbook-notice': { name: 'safeholdRunbookNotice', oid: `${NOTIFICATIONS}.12` },
};

/**
 * The OBJECT-TYPEs under safeholdAlertObjects, in the order a trap carries
 * them: the first six always (the NOTIFICATION-TYPEs' OBJECTS), then each
 * context object whose `details` member is a non-empty string. Sizes in octets.
 */
export const TRAP_OBJECTS: readonly {
  name: string;
  oid: string;
  max: number;
  value: (p: AlertPayload) => string | undefined;
}[] = [
  { name: 'safeholdAlertId', oid: `${OBJECTS}.1`, max: 64, value: (p) => p.id },
  { name: 'safeholdAlertEvent', oid: `${OBJECTS}.2`, max: 64, value: (p) => p.event },
  { name: 'safeholdAlertSeverity', oid: `${OBJECTS}.3`, max: 16, value: (p) => p.severity },
  { name: 'safeholdAlertSummary', oid: `${OBJECTS}.4`, max: 255, value: (p) => p.summary },
  { name: 'safeholdAlertTime', oid: `${OBJECTS}.5`, max: 24, value: (p) => p.at },
  { name: 'safeholdAlertDetails', oid: `${OBJECTS}.6`, max: 1024, value: (p) => JSON.stringify(p.details) },
  { name: 'safeholdAlertPlan', oid: `${OBJECTS}.7`, max: 255, value: (p) => context(p, 'plan') },
  { name: 'safeholdAlertRun', oid: `${OBJECTS}.8`, max: 255, value: (p) => context(p, 'runId') },
  { name: 'safeholdAlertTarget', oid: `${OBJECTS}.9`, max: 255, value: (p) => context(p, 'target') },
  { name: 'safeholdAlertUnit', oid: `${OBJECTS}.10`, max: 255, value: (p) => context(p, 'unit') },
  { name: 'safeholdAlertScope', oid: `${OBJECTS}.11`, max: 255, value: (p) => context(p, 'scope') },
];

function context(p: AlertPayload, key: string): string | undefined {
  const v = p.details[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

const DEFAULT_PORT = 162;
const DEFAULT_TIMEOUT_MS = 5000;
const ELLIPSIS = '…';

/** The trap for an alert: its snmpTrapOID and the varbinds after sysUpTime.0 and snmpTrapOID.0. */
export function trapFor(payload: AlertPayload): { oid: string; varbinds: Varbind[] } {
  const varbinds: Varbind[] = [];
  for (const o of TRAP_OBJECTS) {
    const v = o.value(payload);
    if (v !== undefined)
      varbinds.push({ oid: `${o.oid}.0`, type: snmp.ObjectType.OctetString, value: fitUtf8(v, o.max) });
  }
  return { oid: TRAP_TYPES[payload.event].oid, varbinds };
}

/** Sends the alert as one trap. Never throws: failures are in the result. */
export function sendSnmpTrap(payload: AlertPayload, cfg: SnmpConfig): Promise<DeliveryResult> {
  const port = cfg.port ?? DEFAULT_PORT;
  const shown = isIPv6(cfg.host) ? `[${cfg.host}]:${port}` : `${cfg.host}:${port}`;
  if (!cfg.host) return Promise.resolve({ ok: false, detail: 'SNMP trap receiver host is empty', attempts: 0 });
  const timeoutMs = cfg.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const { oid, varbinds } = trapFor(payload);
  const name = TRAP_TYPES[payload.event].name;
  return new Promise((resolve) => {
    let session: Session | undefined;
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const done = (error: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        session?.close();
      } catch {
        /* already closed */
      }
      resolve(
        error === null
          ? { ok: true, detail: `trap ${name} sent to ${shown}`, attempts: 1 }
          : { ok: false, detail: `cannot send trap ${name} to ${shown}: ${reason(error, timeoutMs)}`, attempts: 1 },
      );
    };
    try {
      session = snmp.createSession(cfg.host, cfg.community, {
        version: snmp.Version2c,
        trapPort: port,
        transport: isIPv6(cfg.host) ? 'udp6' : 'udp4',
      });
      session.on('error', (e) => done(e));
      timer = setTimeout(() => done(new TimeoutError()), timeoutMs);
      session.trap(oid, varbinds, {}, (error) => done(error ?? null));
    } catch (e) {
      done(e);
    }
  });
}

class TimeoutError extends Error {}

function reason(e: unknown, timeoutMs: number): string {
  if (e instanceof TimeoutError) return `not sent within ${timeoutMs} ms`;
  const code = typeof e === 'object' && e !== null && 'code' in e ? (e as { code: unknown }).code : undefined;
  if (typeof code === 'string') return code;
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ').trim();
}

/** `text` as UTF-8 of at most `max` octets: cut at a character boundary and ended with '…' when longer. */
export function fitUtf8(text: string, max: number): Buffer {
  const whole = Buffer.from(text, 'utf8');
  if (whole.length <= max) return whole;
  const room = max - Buffer.byteLength(ELLIPSIS);
  let used = 0;
  let cut = '';
  for (const ch of text) {
    const n = Buffer.byteLength(ch);
    if (used + n > room) break;
    used += n;
    cut += ch;
  }
  return Buffer.from(cut + ELLIPSIS, 'utf8');
}
