// The plan runner's view of the configured targets: for each one a live
// probe, its units, and the stream or paths a backup reads. Device targets
// go through their adapter (HTTP or command); command targets run their
// configured programs (with the allow-listed environment of core/child-env.ts
// and their own `env`); files targets back up named path sets.

import type { Readable } from 'node:stream';
import type { CommandTarget, Config, Target } from '../../config/types.ts';
import { AVAILABLE, probe } from '../availability.ts';
import type { Availability } from '../availability.ts';
import type { DeviceAdapter } from '../device/adapter.ts';
import { createHttpAdapter } from '../device/http-adapter.ts';
import { createCommandAdapter } from '../device/command-adapter.ts';
import { SafeholdError } from '../../core/errors.ts';
import type { DbDriver } from '../db/driver.ts';
import { dbDriverFor, isDatabaseTarget } from '../db/factory.ts';
import type { InventoryTarget } from './inventory-target.ts';
import { commandStream, runCapture, secretValues } from './command-target.ts';

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
      if (t.kind === 'command' && t.probe) return probeCommand(t, t.probe);
      return AVAILABLE;
    },
    async listUnits() {
      if (device) return device.listUnits();
      if (db) return db.listUnits();
      if (t.kind === 'files') return Object.keys(t.units);
      if (t.kind !== 'command') return [];
      if (!t.listUnits) return ['default'];
      const r = await runCapture(t, t.listUnits, {});
      if (r.code !== 0)
        throw new SafeholdError(
          'IO',
          `${t.name}: listing units exited with ${r.code}: ${r.stderr.trim().split('\n').at(-1) ?? ''}`,
          { retryable: true },
        );
      return r.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean);
    },
    commandStream(unit: string) {
      if (t.kind !== 'command') throw new SafeholdError('INTERNAL', `${t.name} is not a command target`);
      return commandStream(t, unit);
    },
  };
}

function makeAdapter(t: Target & { kind: 'device' }): DeviceAdapter {
  const a = t.adapter;
  if (a.type === 'http')
    return createHttpAdapter({ name: t.name, url: a.url, token: a.token?.value ?? null, timeoutMs: a.timeoutMs });
  return createCommandAdapter({ name: t.name, command: a.command, timeoutMs: a.timeoutMs, env: secretValues(a.env) });
}

/** A command target's probe: available when it exits 0; else its exit status and last stderr line. */
function probeCommand(t: CommandTarget, argv: readonly string[]): Promise<Availability> {
  return probe(async () => {
    const r = await runCapture(t, argv, {});
    if (r.code === 0) return;
    const last = r.stderr.trim().split('\n').at(-1) ?? '';
    throw new Error(`${t.name}: the probe exited with ${r.code ?? 'a signal'}${last ? `: ${last}` : ''}`);
  });
}
