// The plan runner's view of the configured targets: for each one a live
// probe, its units, and the stream or paths a backup reads. Device targets
// go through their adapter (HTTP or command); command targets run their
// configured programs (with the allow-listed environment of core/child-env.ts
// and their own `env`); files targets back up named path sets.

import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import type { CommandTarget, Config, Target } from '../config/types.ts';
import type { DeviceAdapter } from '../drivers/device/adapter.ts';
import { createHttpAdapter } from '../drivers/device/http-adapter.ts';
import { createCommandAdapter } from '../drivers/device/command-adapter.ts';
import { SafeholdError } from '../core/errors.ts';
import { childEnv } from '../core/child-env.ts';
import type { DbDriver } from '../drivers/db/driver.ts';
import { dbDriverFor, isDatabaseTarget } from '../drivers/db/factory.ts';
import type { InventoryTarget } from './run/expand.ts';

export interface PlanTarget extends InventoryTarget {
  readonly config: Target;
  /** The adapter of a device target; null for other kinds. */
  readonly device: DeviceAdapter | null;
  /** The driver of a database target (postgres, mariadb, sqlite); null for other kinds. */
  readonly db: DbDriver | null;
  /** The backup stream of a command target's unit (fails if the program exits non-zero). */
  commandStream(unit: string): Readable;
}

export function buildTargets(config: Config): PlanTarget[] {
  return Object.values(config.targets).map(planTarget);
}

function planTarget(t: Target): PlanTarget {
  const device = t.kind === 'device' ? makeAdapter(t) : null;
  const db = isDatabaseTarget(t) ? dbDriverFor(t) : null;
  return {
    name: t.name,
    kind: t.kind,
    config: t,
    device,
    db,
    async available() {
      if (device) return device.available();
      if (db) return db.available();
      if (t.kind === 'command' && t.probe) return (await runCapture(t, t.probe, {}).catch(() => null))?.code === 0;
      return true;
    },
    async listUnits() {
      if (device) return device.listUnits();
      if (db) return db.listUnits();
      if (t.kind === 'files') return Object.keys(t.units);
      if (t.kind !== 'command') return [];
      if (!t.listUnits) return ['default'];
      const r = await runCapture(t, t.listUnits, {});
      if (r.code !== 0) throw new SafeholdError('IO', `${t.name}: listing units exited with ${r.code}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`, { retryable: true });
      return r.stdout.split('\n').map((l) => l.trim()).filter(Boolean);
    },
    commandStream(unit: string) {
      if (t.kind !== 'command') throw new SafeholdError('INTERNAL', `${t.name} is not a command target`);
      return commandStream(t, unit);
    },
  };
}

function makeAdapter(t: Target & { kind: 'device' }): DeviceAdapter {
  const a = t.adapter;
  if (a.type === 'http') return createHttpAdapter({ name: t.name, url: a.url, token: a.token?.value ?? null, timeoutMs: a.timeoutMs });
  return createCommandAdapter({ name: t.name, command: a.command, timeoutMs: a.timeoutMs, env: secretValues(a.env) });
}

function secretValues(env: Readonly<Record<string, { value: string }>>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.value]));
}

/** A command target's program gets the allow-listed environment, the target's own `env` and `extra`. */
function commandEnv(t: CommandTarget, extra: Record<string, string>): NodeJS.ProcessEnv {
  return childEnv({ ...secretValues(t.env), ...extra });
}

/** Runs a short command of a command target, capturing its output, within the target's timeout. */
function runCapture(t: CommandTarget, argv: readonly string[], extra: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: commandEnv(t, extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), t.timeoutMs);
    child.on('error', (e) => { clearTimeout(timer); reject(new SafeholdError('IO', `${t.name}: cannot run ${argv[0]}: ${e.message}`)); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** The backup program's stdout; the stream fails, after its last byte, when the program exits non-zero. */
function commandStream(t: CommandTarget, unit: string): Readable {
  const argv = t.backup;
  const child = spawn(argv[0]!, argv.slice(1), { env: commandEnv(t, { SAFEHOLD_UNIT: unit, SAFEHOLD_TARGET: t.name }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr = (stderr + d.toString()).slice(-2000); });
  // Read stdout from the start: Node discards what an unread stdout still holds when the program
  // exits, so a short dump would be lost before the consumer gets to it. The pipe keeps backpressure.
  const stdout = child.stdout.pipe(new PassThrough());
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', (e) => reject(new SafeholdError('IO', `${t.name}: cannot run ${argv[0]}: ${e.message}`)));
    child.on('close', (code) => resolve(code));
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), t.timeoutMs);
  async function* body(): AsyncGenerator<Buffer> {
    try {
      for await (const chunk of stdout) yield chunk as Buffer;
      const code = await exited;
      if (code !== 0) {
        throw new SafeholdError('IO', `${t.name}: backup of ${unit} exited with ${code ?? 'a signal'}${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`, { retryable: true });
      }
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }
  return Readable.from(body());
}
