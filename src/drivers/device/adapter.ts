// The contract between Safehold and a `device` target (an appliance such as a
// DataPower gateway with domains): what the plan's task flow (SPEC S3 step 5,
// S4 steps 3-9) asks of a device, and nothing else. Two adapters implement it
// over a wire protocol documented in docs/adapters.md: HTTP (http-adapter.ts)
// and a program with subcommands (command-adapter.ts). Both share the wire
// layer here: the same JSON answers, validated the same way (`wireAdapter`),
// and the same error messages (`deviceError`).

import type { Readable } from 'node:stream';
import { SafeholdError } from '../../core/errors.ts';
import { probe } from '../availability.ts';
import type { Availability } from '../availability.ts';

/**
 * Quiesce state of a unit or of the whole device. 'quiescing' and
 * 'unquiescing' are transitions in progress; a unit whose own state is
 * 'active' takes the device's state while the whole device is quiesced.
 */
export type QuiesceState = 'active' | 'quiescing' | 'quiesced' | 'unquiescing';

export const QUIESCE_STATES: readonly QuiesceState[] = ['active', 'quiescing', 'quiesced', 'unquiescing'];

/** What to stream: the whole device's backup, or one unit's export of its persisted or running state. */
export interface BackupRequest {
  /** null with kind 'backup' (the whole device); a unit name with kind 'export'. */
  readonly unit: string | null;
  readonly kind: 'backup' | 'export';
  /** 'persisted': the saved configuration; 'running': including unsaved changes (S4 step 4). */
  readonly state: 'persisted' | 'running';
}

/**
 * One device. Every method but `available` rejects with a SafeholdError of
 * code 'IO' whose message names the device, its address (never a secret) and
 * the operation; `retryable` is true for transport failures, timeouts and
 * device-side failures, false for refused requests (HTTP 4xx, exit code 2)
 * and malformed answers.
 */
export interface DeviceAdapter {
  /** How the device is reached, for messages and logs: a URL without credentials or a program name. */
  readonly address: string;
  /** Live availability probe (S3 step 5: an unavailable device yields a skipped task). Never throws: unavailable, with why, on any failure or timeout. */
  available(): Promise<Availability>;
  /** Names of the device's units (domains), in the device's order. */
  listUnits(): Promise<string[]>;
  /** Quiesce state of one unit, or of the whole device when unit is null. */
  quiesceState(unit: string | null): Promise<QuiesceState>;
  /** Units whose state is not 'active' (S4 step 3: any of them fails a whole-device quiesce task). */
  quiescedUnits(): Promise<string[]>;
  /**
   * Asks the device to quiesce a unit (or the whole device when null), with the
   * device-side timeout in seconds, and returns at once; the state then moves
   * 'quiescing' → 'quiesced'. Idempotent when already quiescing or quiesced.
   */
  quiesce(unit: string | null, timeoutSec: number): Promise<void>;
  /** Asks for an unquiesce; the state moves 'unquiescing' → 'active'. Also cancels a quiesce in progress. Idempotent when active. */
  unquiesce(unit: string | null, timeoutSec: number): Promise<void>;
  /** S4 step 4: does the unit have unsaved (running-only) changes? */
  unsavedChanges(unit: string): Promise<boolean>;
  /** S4 step 5: free bytes on the device for staging a whole-device backup. */
  freeSpace(): Promise<number>;
  /** Bytes a whole-device backup needs on the device (an estimate). */
  backupSize(): Promise<number>;
  /**
   * The backup stream. Resolves once the device has started sending (a refusal
   * rejects the promise); a failure after that, including an idle timeout or a
   * truncated transfer, destroys the stream with a SafeholdError 'IO', so a
   * stream that ends normally is complete. Destroying the stream early cancels
   * the transfer on the device side.
   */
  backup(req: BackupRequest): Promise<Readable>;
}

/** Default per-call timeout of both adapters, ms. */
export const DEFAULT_DEVICE_TIMEOUT_MS = 30_000;

/** Throws unless `req` is one of the two shapes the contract allows. */
export function checkBackupRequest(req: BackupRequest): void {
  const ok =
    (req.kind === 'backup' && req.unit === null) ||
    (req.kind === 'export' && typeof req.unit === 'string' && req.unit !== '');
  if (!ok || (req.state !== 'persisted' && req.state !== 'running')) {
    throw new SafeholdError(
      'INTERNAL',
      `invalid device backup request ${JSON.stringify(req)}: kind 'backup' takes no unit, kind 'export' needs one`,
    );
  }
}

/** The label used in messages: `device QA1 (http://dp1:5554)`. */
export function deviceLabel(name: string, address: string): string {
  return `device ${name} (${address})`;
}

/** A SafeholdError 'IO' for a failed device operation: `device QA1 (http://dp1:5554): quiesce unit DOMAIN1 failed: HTTP 500: ...`. */
export function deviceError(
  name: string,
  address: string,
  what: string,
  detail: string,
  opts: { retryable: boolean; cause?: unknown; details?: Record<string, unknown> },
): SafeholdError {
  return new SafeholdError('IO', `${deviceLabel(name, address)}: ${what} failed: ${detail}`, {
    retryable: opts.retryable,
    cause: opts.cause,
    details: { device: name, address, operation: what, ...opts.details },
  });
}

// ---- the wire layer shared by both adapters ----

/** The operations of the wire contract (docs/adapters.md); 'backup' streams, the others answer one JSON object. */
export type WireOp = 'health' | 'units' | 'state' | 'quiesced' | 'quiesce' | 'unquiesce' | 'unsaved' | 'space';

export interface WireParams {
  readonly unit?: string | null;
  /** quiesce/unquiesce: device-side timeout, seconds. */
  readonly timeout?: number;
}

/** How an adapter moves requests: one JSON call, or the backup stream. Both throw deviceError()s. */
export interface DeviceTransport {
  readonly name: string;
  readonly address: string;
  call(op: WireOp, params: WireParams, what: string): Promise<unknown>;
  stream(req: BackupRequest, what: string): Promise<Readable>;
}

/** A name for the operation in messages: `quiesce unit DOMAIN1`, `quiesce whole device`. */
function opLabel(op: string, unit: string | null): string {
  return unit === null ? `${op} whole device` : `${op} unit ${unit}`;
}

/** The DeviceAdapter over a transport: answer validation and messages are the same for every wire. */
export function wireAdapter(t: DeviceTransport): DeviceAdapter {
  async function json(op: WireOp, params: WireParams, what: string): Promise<Record<string, unknown>> {
    const v = await t.call(op, params, what);
    const problem = answerProblem(op, v);
    if (problem !== null)
      throw deviceError(t.name, t.address, what, `invalid answer: ${problem}`, { retryable: false });
    return v as Record<string, unknown>;
  }
  return {
    address: t.address,
    available: () =>
      probe(async () => {
        const v = await t.call('health', {}, 'health check');
        const problem = answerProblem('health', v);
        if (problem !== null) throw new Error(`${t.name}: invalid health answer: ${problem}`);
        if (!(v as { available: boolean }).available) throw new Error(`${t.name} answers that it is not available`);
      }),
    async listUnits() {
      return (await json('units', {}, 'list units')).units as string[];
    },
    async quiesceState(unit) {
      return (await json('state', { unit }, opLabel('quiesce state of', unit))).state as QuiesceState;
    },
    async quiescedUnits() {
      return (await json('quiesced', {}, 'list quiesced units')).units as string[];
    },
    async quiesce(unit, timeoutSec) {
      checkTimeoutSec(timeoutSec);
      await json('quiesce', { unit, timeout: timeoutSec }, opLabel('quiesce', unit));
    },
    async unquiesce(unit, timeoutSec) {
      checkTimeoutSec(timeoutSec);
      await json('unquiesce', { unit, timeout: timeoutSec }, opLabel('unquiesce', unit));
    },
    async unsavedChanges(unit) {
      return (await json('unsaved', { unit }, `unsaved-changes query of unit ${unit}`)).unsaved as boolean;
    },
    async freeSpace() {
      return (await json('space', {}, 'free space query')).free as number;
    },
    async backupSize() {
      return (await json('space', {}, 'backup size query')).backupSize as number;
    },
    async backup(req) {
      checkBackupRequest(req);
      const what =
        req.kind === 'backup'
          ? `backup of the whole device (${req.state})`
          : `export of unit ${req.unit} (${req.state})`;
      return t.stream(req, what);
    },
  };
}

/** Validates a parsed JSON answer; returns what was expected, or null when it is well-formed. */
export function answerProblem(op: WireOp, v: unknown): string | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'expected a JSON object';
  const o = v as Record<string, unknown>;
  switch (op) {
    case 'health':
      return typeof o.available === 'boolean' ? null : 'expected {"available": boolean}';
    case 'units':
    case 'quiesced':
      return Array.isArray(o.units) && o.units.every((u) => typeof u === 'string' && u !== '')
        ? null
        : 'expected {"units": [string, ...]}';
    case 'state':
      return QUIESCE_STATES.includes(o.state as QuiesceState)
        ? null
        : `expected {"state": ${QUIESCE_STATES.map((s) => `"${s}"`).join('|')}}`;
    case 'unsaved':
      return typeof o.unsaved === 'boolean' ? null : 'expected {"unsaved": boolean}';
    case 'space':
      return isBytes(o.free) && isBytes(o.backupSize) ? null : 'expected {"free": bytes, "backupSize": bytes}';
    case 'quiesce':
    case 'unquiesce':
      return null;
  }
}

function isBytes(n: unknown): boolean {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Checks a quiesce timeout before it goes on the wire. */
function checkTimeoutSec(timeoutSec: number): void {
  if (!Number.isSafeInteger(timeoutSec) || timeoutSec < 0) {
    throw new SafeholdError('INTERNAL', `invalid quiesce timeout ${timeoutSec}: expected whole seconds >= 0`);
  }
}

/** Removes every occurrence of the given secrets (4+ characters) from a text that may be shown. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join('***');
  return out;
}

/** The last non-empty line of a program's or server's error text, shortened for a message. */
export function lastLine(text: string, max = 300): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const l = lines.at(-1) ?? '';
  return l.length > max ? `${l.slice(0, max)}...` : l;
}
