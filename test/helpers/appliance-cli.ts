// The appliance simulator of appliance-server.ts as a command-line program,
// for tests of the command adapter: `node appliance-cli.ts SUBCOMMAND ...`
// speaks the command contract of docs/adapters.md, keeping the device's state
// (and the call log) in the JSON file named by SAFEHOLD_APPLIANCE_STATE, under
// a lock so concurrent calls see one consistent device. The token it expects
// comes from SAFEHOLD_APPLIANCE_TOKEN; on a wrong one it echoes the token on
// stderr, like a careless adapter program, so tests can check redaction.
// Tests use `startApplianceCli(opts)` to get the argv/env to configure.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createApplianceState, handleApplianceRequest } from './appliance-server.ts';
import type { ApplianceOp, ApplianceOptions, ApplianceState } from './appliance-server.ts';

export const APPLIANCE_CLI = path.join(import.meta.dirname, 'appliance-cli.ts');
export const STATE_ENV = 'SAFEHOLD_APPLIANCE_STATE';
export const TOKEN_ENV = 'SAFEHOLD_APPLIANCE_TOKEN';

const SUBCOMMANDS: Record<string, ApplianceOp> = {
  health: 'health',
  'list-units': 'units',
  state: 'state',
  quiesced: 'quiesced',
  quiesce: 'quiesce',
  unquiesce: 'unquiesce',
  unsaved: 'unsaved',
  space: 'space',
  backup: 'backup',
};

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs `fn` on the state in `file` under an exclusive lock (a directory next to it), saving the result atomically. */
export function withStateFile<T>(file: string, fn: (s: ApplianceState) => T): T {
  const lock = `${file}.lock`;
  for (let i = 0; ; i++) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      // A lock left by a killed holder (all holders are quick) is taken over after 5 s.
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 5000) fs.rmdirSync(lock);
      } catch {
        /* gone meanwhile */
      }
      sleepSync(Math.min(2 + i, 20));
    }
  }
  try {
    const s = JSON.parse(fs.readFileSync(file, 'utf8')) as ApplianceState;
    const out = fn(s);
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(s));
    fs.renameSync(tmp, file);
    return out;
  } finally {
    fs.rmdirSync(lock);
  }
}

export interface ApplianceCli {
  /** The argv to configure as the command adapter's command (the Node 24 binary running this file). */
  command: string[];
  /** Environment for the adapter: the state file and the token. */
  env: Record<string, string>;
  stateFile: string;
  token: string | null;
  /** A snapshot of the current state (calls included). */
  read(): ApplianceState;
  /** Changes the state under the lock (dials, availability, units...). */
  update(fn: (s: ApplianceState) => void): void;
  /** Removes the state file's directory. */
  close(): Promise<void>;
}

/** Creates a state file in a fresh temp dir for a simulated device. */
export function startApplianceCli(opts: ApplianceOptions = {}): ApplianceCli {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-appliance-'));
  const stateFile = path.join(dir, 'state.json');
  const state = createApplianceState(opts);
  fs.writeFileSync(stateFile, JSON.stringify(state));
  // Each call starts a Node process; the compile cache (as ./safehold uses) halves its start-up.
  const env: Record<string, string> = {
    [STATE_ENV]: stateFile,
    NODE_COMPILE_CACHE:
      process.env.NODE_COMPILE_CACHE ?? path.join(os.homedir(), '.cache', 'safehold', 'node-compile-cache'),
  };
  if (state.token !== null) env[TOKEN_ENV] = state.token;
  return {
    command: [process.execPath, '--disable-warning=ExperimentalWarning', APPLIANCE_CLI],
    env,
    stateFile,
    token: state.token,
    read: () => JSON.parse(fs.readFileSync(stateFile, 'utf8')) as ApplianceState,
    update: (fn) => withStateFile(stateFile, fn),
    close: () => fs.promises.rm(dir, { recursive: true, force: true }),
  };
}

function die(code: number, message: string): never {
  process.stderr.write(`appliance-cli: ${message}\n`);
  process.exit(code);
}

async function write(data: Buffer | string): Promise<void> {
  await new Promise<void>((resolve, reject) => process.stdout.write(data, (e) => (e ? reject(e) : resolve())));
}

async function main(argv: string[]): Promise<void> {
  const file = process.env[STATE_ENV];
  if (!file) die(2, `${STATE_ENV} is not set`);
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        unit: { type: 'string' },
        timeout: { type: 'string' },
        kind: { type: 'string' },
        state: { type: 'string' },
      },
    });
  } catch (e) {
    die(2, (e as Error).message);
  }
  const [sub, ...rest] = parsed.positionals;
  const op = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (op === undefined || rest.length > 0)
    die(
      2,
      `usage: appliance-cli ${Object.keys(SUBCOMMANDS).join('|')} [--unit U] [--timeout N] [--kind K] [--state S]`,
    );
  const v = parsed.values;
  const token = process.env[TOKEN_ENV] ?? null;
  const { answer, delay } = withStateFile(file, (s) => {
    const { call, answer } = handleApplianceRequest(
      s,
      {
        op,
        unit: v.unit ?? null,
        timeout: v.timeout === undefined ? undefined : Number(v.timeout),
        kind: v.kind,
        state: v.state,
        token,
      },
      s.fixedNow ?? Date.now(),
    );
    call.pid = process.pid;
    return { answer, delay: s.latencyMs[op] ?? 0 };
  });
  if (delay > 0) await new Promise((r) => setTimeout(r, delay));
  if ('stream' in answer) {
    if (!answer.failMidway) return write(answer.stream);
    await write(answer.stream.subarray(0, answer.stream.length >> 1));
    die(1, 'connection to the device was lost during the backup');
  }
  if (answer.status === 401) die(2, `token ${JSON.stringify(token)} was rejected by the device`);
  if (answer.status >= 400) die(answer.status >= 500 ? 1 : 2, String(answer.body.error));
  await write(`${JSON.stringify(answer.body)}\n`);
}

if (import.meta.main) {
  main(process.argv.slice(2)).catch((e: unknown) => die(1, e instanceof Error ? e.message : String(e)));
}
