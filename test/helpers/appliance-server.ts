// A small appliance simulator for tests of `device` targets: a DataPower-like
// device with units (domains), quiesce transitions that take real (or
// injected) time, unsaved changes, free space and deterministic backup bytes,
// with failures and latencies you can dial. `startAppliance` serves it over
// the HTTP contract of docs/adapters.md; appliance-cli.ts serves the same
// model as a program for the command adapter, keeping the state in a JSON
// file. Every call is recorded in `state.calls`, in order.

import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { QuiesceState } from '../../src/drivers/device/adapter.ts';

export type { QuiesceState };
export type ApplianceOp =
  | 'health'
  | 'units'
  | 'state'
  | 'quiesced'
  | 'quiesce'
  | 'unquiesce'
  | 'unsaved'
  | 'space'
  | 'backup';

export interface ApplianceCall {
  op: ApplianceOp;
  /** The unit asked about; null for the whole device or a device-wide call. */
  unit: string | null;
  /** quiesce/unquiesce: the device-side timeout in seconds. */
  timeout?: number;
  /** backup: the request. */
  kind?: string;
  state?: string;
  /** HTTP-like status of the answer: 200/202 ok, 4xx refused, 5xx failed (filled in once known). */
  status: number;
  /** The simulator's clock when the call arrived. */
  at: number;
  /** appliance-cli.ts: the process id that served the call (to check it was killed). */
  pid?: number;
}

interface Quiescible {
  quiesce: QuiesceState;
  /** When the current transition completes (ms on the simulator's clock); null: never. */
  until: number | null;
}

export interface ApplianceUnit extends Quiescible {
  unsaved: boolean;
}

/** The whole simulated device; plain JSON, so the CLI simulator can keep it in a file. Tests may change it at any time. */
export interface ApplianceState {
  name: string;
  available: boolean;
  /** Bearer token the HTTP server requires (the CLI: env SAFEHOLD_APPLIANCE_TOKEN); null: none. */
  token: string | null;
  device: Quiescible;
  /** Units in device order. */
  units: Record<string, ApplianceUnit>;
  quiesceDelayMs: number;
  unquiesceDelayMs: number;
  /** Quiesce requests are accepted but the state stays 'quiescing' forever. */
  neverQuiesce: boolean;
  /** Unquiesce requests are accepted but the state stays 'unquiescing' forever. */
  neverUnquiesce: boolean;
  failQuiesce: boolean;
  failUnquiesce: boolean;
  /** true: backup answers 500; 'midway': half the bytes are sent, then the connection (or the program) dies. */
  failBackup: boolean | 'midway';
  /** These operations answer 500. */
  failOps: ApplianceOp[];
  /** Delay before answering, per operation (a large value makes the device hang). */
  latencyMs: Partial<Record<ApplianceOp, number>>;
  freeBytes: number;
  /** What the device reports a whole-device backup needs, and the length of its stream. */
  backupBytes: number;
  /** Length of one unit's export stream. */
  exportBytes: number;
  /** When set, the simulator's clock (ms); otherwise real time. */
  fixedNow: number | null;
  calls: ApplianceCall[];
}

export interface ApplianceOptions {
  name?: string;
  available?: boolean;
  /** A string, null for no authentication, or absent for a random token. */
  token?: string | null;
  /** Unit names, or units with flags; default DOMAIN1, DOMAIN2. */
  units?: string[] | Record<string, { quiesced?: boolean; unsaved?: boolean }>;
  /** The whole device starts quiesced. */
  quiesced?: boolean;
  quiesceDelayMs?: number;
  unquiesceDelayMs?: number;
  neverQuiesce?: boolean;
  neverUnquiesce?: boolean;
  failQuiesce?: boolean;
  failUnquiesce?: boolean;
  failBackup?: boolean | 'midway';
  failOps?: ApplianceOp[];
  latencyMs?: Partial<Record<ApplianceOp, number>>;
  freeBytes?: number;
  backupBytes?: number;
  exportBytes?: number;
  fixedNow?: number | null;
}

export function createApplianceState(opts: ApplianceOptions = {}): ApplianceState {
  const units: Record<string, ApplianceUnit> = {};
  const given = opts.units ?? ['DOMAIN1', 'DOMAIN2'];
  const entries: [string, { quiesced?: boolean; unsaved?: boolean }][] = Array.isArray(given)
    ? given.map((n) => [n, {}])
    : Object.entries(given);
  for (const [name, f] of entries) {
    units[name] = { quiesce: f.quiesced ? 'quiesced' : 'active', until: null, unsaved: f.unsaved ?? false };
  }
  return {
    name: opts.name ?? 'DEVICE',
    available: opts.available ?? true,
    token: opts.token === undefined ? randomBytes(12).toString('hex') : opts.token,
    device: { quiesce: opts.quiesced ? 'quiesced' : 'active', until: null },
    units,
    quiesceDelayMs: opts.quiesceDelayMs ?? 0,
    unquiesceDelayMs: opts.unquiesceDelayMs ?? 0,
    neverQuiesce: opts.neverQuiesce ?? false,
    neverUnquiesce: opts.neverUnquiesce ?? false,
    failQuiesce: opts.failQuiesce ?? false,
    failUnquiesce: opts.failUnquiesce ?? false,
    failBackup: opts.failBackup ?? false,
    failOps: opts.failOps ?? [],
    latencyMs: opts.latencyMs ?? {},
    freeBytes: opts.freeBytes ?? 512 * 1024 * 1024,
    backupBytes: opts.backupBytes ?? 64 * 1024,
    exportBytes: opts.exportBytes ?? 8 * 1024,
    fixedNow: opts.fixedNow ?? null,
    calls: [],
  };
}

/** The bytes the simulator streams for a request; tests compare stored data with this. */
export function applianceBackupContent(
  device: string,
  req: { unit: string | null; kind: string; state: string },
  size: number,
): Buffer {
  const header = Buffer.from(
    `APPLIANCE-BACKUP device=${device} kind=${req.kind} unit=${req.unit ?? '-'} state=${req.state}\n`,
  );
  const out = Buffer.alloc(Math.max(size, header.length));
  header.copy(out);
  const seed = createHash('sha256').update(header).digest();
  let x = seed.readUInt32LE(0) | 1;
  for (let i = header.length; i < out.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Moves a finished transition on: 'quiescing' → 'quiesced', 'unquiescing' → 'active'. */
function settle(q: Quiescible, now: number): void {
  if (q.until === null || now < q.until) return;
  if (q.quiesce === 'quiescing') q.quiesce = 'quiesced';
  else if (q.quiesce === 'unquiescing') q.quiesce = 'active';
  q.until = null;
}

/** A unit's state as the device reports it: its own, or the device's while the unit's own is 'active'. */
export function effectiveState(s: ApplianceState, unit: string | null, now: number): QuiesceState {
  settle(s.device, now);
  if (unit === null) return s.device.quiesce;
  const u = s.units[unit]!;
  settle(u, now);
  return u.quiesce !== 'active' ? u.quiesce : s.device.quiesce;
}

export interface ApplianceRequest {
  op: ApplianceOp;
  unit?: string | null;
  timeout?: unknown;
  kind?: unknown;
  state?: unknown;
  /** The bearer token presented (HTTP header / CLI env). */
  token?: string | null;
}

export type ApplianceAnswer =
  | { status: number; body: Record<string, unknown> }
  | { status: 200; stream: Buffer; failMidway: boolean };

/** Serves one request against the model at time `now`, recording it in `s.calls`. */
export function handleApplianceRequest(
  s: ApplianceState,
  req: ApplianceRequest,
  now: number,
): { call: ApplianceCall; answer: ApplianceAnswer } {
  const unit = req.unit ?? null;
  const call: ApplianceCall = { op: req.op, unit, status: 0, at: now };
  if (req.op === 'quiesce' || req.op === 'unquiesce') call.timeout = req.timeout as number;
  if (req.op === 'backup') {
    call.kind = req.kind as string;
    call.state = req.state as string;
  }
  s.calls.push(call);
  const answer = answer1(s, req, unit, now);
  call.status = answer.status;
  return { call, answer };
}

function fail(status: number, error: string): ApplianceAnswer {
  return { status, body: { error } };
}

function answer1(s: ApplianceState, req: ApplianceRequest, unit: string | null, now: number): ApplianceAnswer {
  if (s.token !== null && req.token !== s.token) return fail(401, 'missing or wrong bearer token');
  if (req.op === 'health') {
    if (s.failOps.includes('health')) return fail(500, 'health check failed');
    return { status: 200, body: { available: s.available } };
  }
  if (!s.available) return fail(503, `device ${s.name} is unreachable`);
  if (s.failOps.includes(req.op)) return fail(500, `${req.op} failed on the device`);
  if (unit !== null && !(unit in s.units)) return fail(404, `unknown unit ${unit}`);
  const target = unit === null ? s.device : s.units[unit]!;
  switch (req.op) {
    case 'units':
      return { status: 200, body: { units: Object.keys(s.units) } };
    case 'state':
      return { status: 200, body: { state: effectiveState(s, unit, now) } };
    case 'quiesced':
      return {
        status: 200,
        body: { units: Object.keys(s.units).filter((u) => effectiveState(s, u, now) !== 'active') },
      };
    case 'quiesce':
    case 'unquiesce': {
      if (!Number.isSafeInteger(req.timeout) || (req.timeout as number) < 0)
        return fail(400, 'timeout must be whole seconds >= 0');
      settle(target, now);
      if (req.op === 'quiesce') {
        if (s.failQuiesce) return fail(500, 'quiesce failed on the device');
        if (target.quiesce !== 'quiesced' && target.quiesce !== 'quiescing') {
          target.quiesce = 'quiescing';
          target.until = s.neverQuiesce ? null : now + s.quiesceDelayMs;
        }
      } else {
        if (s.failUnquiesce) return fail(500, 'unquiesce failed on the device');
        if (target.quiesce !== 'active' && target.quiesce !== 'unquiescing') {
          target.quiesce = 'unquiescing';
          target.until = s.neverUnquiesce ? null : now + s.unquiesceDelayMs;
        }
      }
      return { status: 202, body: { state: target.quiesce } };
    }
    case 'unsaved':
      if (unit === null) return fail(400, 'unsaved needs a unit');
      return { status: 200, body: { unsaved: s.units[unit]!.unsaved } };
    case 'space':
      return { status: 200, body: { free: s.freeBytes, backupSize: s.backupBytes } };
    case 'backup': {
      const okShape = (req.kind === 'backup' && unit === null) || (req.kind === 'export' && unit !== null);
      if (!okShape || (req.state !== 'persisted' && req.state !== 'running')) {
        return fail(400, "kind 'backup' takes no unit, kind 'export' needs one; state is persisted or running");
      }
      if (s.failBackup === true) return fail(500, 'backup failed on the device');
      const size = req.kind === 'backup' ? s.backupBytes : s.exportBytes;
      const stream = applianceBackupContent(
        s.name,
        { unit, kind: req.kind as string, state: req.state as string },
        size,
      );
      return { status: 200, stream, failMidway: s.failBackup === 'midway' };
    }
  }
  return fail(400, `unknown operation ${String(req.op)}`);
}

// ---- the HTTP server ----

export interface Appliance {
  /** Base URL, e.g. http://127.0.0.1:40123 */
  url: string;
  token: string | null;
  /** The live model: read calls, change dials, flip availability at any time. */
  state: ApplianceState;
  /** Closes the server and every open connection (pending slow answers are dropped). */
  close(): Promise<void>;
}

const ROUTES: Record<string, ApplianceOp> = {
  'GET /v1/health': 'health',
  'GET /v1/units': 'units',
  'GET /v1/state': 'state',
  'GET /v1/quiesced': 'quiesced',
  'POST /v1/quiesce': 'quiesce',
  'POST /v1/unquiesce': 'unquiesce',
  'GET /v1/unsaved': 'unsaved',
  'GET /v1/space': 'space',
  'POST /v1/backup': 'backup',
};

/** Starts the HTTP simulator on 127.0.0.1 with a free port. `clock` overrides the model's time (e.g. a ManualClock). */
export async function startAppliance(opts: ApplianceOptions & { clock?: { now(): number } } = {}): Promise<Appliance> {
  const state = createApplianceState(opts);
  const now = () => opts.clock?.now() ?? state.fixedNow ?? Date.now();
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => serve(req, Buffer.concat(chunks), res));
  });

  function send(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function serve(req: http.IncomingMessage, raw: Buffer, res: http.ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const op = ROUTES[`${req.method} ${u.pathname}`];
    if (op === undefined) {
      send(res, 404, { error: `no such endpoint ${req.method} ${u.pathname}` });
      return;
    }
    let body: Record<string, unknown> = {};
    if (req.method === 'POST') {
      try {
        body = JSON.parse(raw.toString('utf8') || '{}');
      } catch {
        send(res, 400, { error: 'request body is not JSON' });
        return;
      }
    }
    const auth = req.headers.authorization;
    const unit = req.method === 'POST' ? (body.unit as string | null | undefined) : u.searchParams.get('unit');
    const { answer } = handleApplianceRequest(
      state,
      {
        op,
        unit: unit ?? null,
        timeout: body.timeout,
        kind: body.kind,
        state: body.state,
        token: auth?.startsWith('Bearer ') ? auth.slice(7) : null,
      },
      now(),
    );
    const delay = state.latencyMs[op] ?? 0;
    const reply = () => {
      if (res.destroyed) return;
      if ('body' in answer) {
        send(res, answer.status, answer.body);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': answer.stream.length });
      if (answer.failMidway) {
        res.write(answer.stream.subarray(0, answer.stream.length >> 1), () => res.destroy());
      } else {
        res.end(answer.stream);
      }
    };
    if (delay <= 0) {
      reply();
      return;
    }
    const t = setTimeout(() => {
      timers.delete(t);
      reply();
    }, delay);
    timers.add(t);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token: state.token,
    state,
    close: async () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
