// Fixtures for plan-run tests: a compiled Config with device targets served
// by appliance simulators, a real repository and a real catalog in a temp dir.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { Activity, Config, Hook, Plan, RepositoryDestination, Target, Window } from '../../src/config/types.ts';
import { Catalog } from '../../src/catalog/catalog.ts';
import type { Clock } from '../../src/core/clock.ts';
import { Repository } from '../../src/repo/repository.ts';
import { LocalBackend } from '../../src/repo/backend/local-backend.ts';
import { findSnapshot } from '../../src/repo/snapshot.ts';
import type { SnapshotWithId } from '../../src/repo/snapshot.ts';
import { loadTree } from '../../src/repo/tree.ts';
import type { QuiesceRecord } from '../../src/catalog/plan-runs.ts';
import { toQuiesce } from '../../src/catalog/plan-runs.ts';
import { startAppliance } from './appliance-server.ts';
import type { Appliance, ApplianceOptions } from './appliance-server.ts';

export const PASSWORD = 'plan test password';

export function activity(
  name: string,
  kind: Activity['kind'],
  targets: string | readonly string[],
  units: string | null,
  over: Partial<Activity> = {},
): Activity {
  return {
    name,
    kind,
    targets: typeof targets === 'string' ? [targets] : targets,
    retention: null,
    units,
    quiesce: false,
    quiesceTimeoutMs: 1000,
    preTask: null,
    postTask: null,
    tags: [],
    purge: kind === 'purge' ? { type: 'retention' } : null,
    to: null,
    timeoutMs: 3_600_000,
    group: null,
    allowEmpty: false,
    ...over,
  };
}

export function hook(name: string, script: string, over: Partial<Hook> = {}): Hook {
  return { name, command: ['sh', '-c', script], timeoutMs: 10_000, failOnError: true, always: false, ...over };
}

export interface PlanWorld {
  dir: string;
  config: Config;
  catalog: Catalog;
  appliances: Record<string, Appliance>;
  repoPath: string;
  close(): Promise<void>;
}

/**
 * Starts one appliance per device, inits a repository, opens a catalog, and builds the config around `plan`.
 * `over.targets` adds targets of any kind (files, command, command-adapter devices) next to the appliances;
 * `over.repoPath` puts the repository elsewhere (e.g. on a small tmpfs).
 */
export async function planWorld(
  devices: Record<string, ApplianceOptions>,
  plan: Partial<Plan> & { activities: Activity[] },
  over: {
    backupsEnabled?: boolean;
    window?: Window;
    destination?: Partial<RepositoryDestination>;
    quiesceGraceMs?: number;
    targets?: Record<string, Target>;
    repoPath?: string;
    clock?: Clock;
  } = {},
): Promise<PlanWorld> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-plan-'));
  const appliances: Record<string, Appliance> = {};
  for (const [name, opts] of Object.entries(devices))
    appliances[name] = await startAppliance({ name, token: 'tok', ...opts });
  const repoPath = over.repoPath ?? path.join(dir, 'repo');
  await Repository.init(new LocalBackend(repoPath), PASSWORD, { kdf: { N: 1024, r: 8, p: 1 } });
  const targets: Record<string, Target> = { ...over.targets };
  for (const [name, a] of Object.entries(appliances)) {
    targets[name] = {
      kind: 'device',
      name,
      site: null,
      adapter: { type: 'http', url: a.url, token: { source: 'inline', value: 'tok' }, timeoutMs: 5000 },
    };
  }
  const destination: RepositoryDestination = {
    type: 'repository',
    name: 'local',
    path: repoPath,
    password: { source: 'inline', value: PASSWORD },
    requireMount: false,
    minFree: null,
    site: null,
    remote: null,
    backendOptions: {},
    ...over.destination,
    location: over.destination?.location ?? over.destination?.path ?? repoPath,
  };
  const fullPlan: Plan = {
    name: 'nightly',
    description: '',
    schedule: null,
    window: over.window ?? { type: 'always' },
    destination: 'local',
    retry: {
      scheduled: { intervalMs: 600_000, maxDurationMs: 14_400_000 },
      purge: { intervalMs: 600_000, maxDurationMs: 21_600_000 },
      onDemand: null,
    },
    retention: null,
    prePlan: null,
    postPlan: null,
    timeoutMs: 36_000_000,
    ...plan,
  };
  const config: Config = {
    file: path.join(dir, 'safehold.yaml'),
    settings: {
      backupsEnabled: over.backupsEnabled ?? true,
      dataDir: path.join(dir, 'data'),
      quiesceGraceMs: over.quiesceGraceMs ?? 200,
      maxParallelRuns: 2,
      lockMaxAgeMs: 12 * 3_600_000,
      lockHeartbeatTimeoutMs: 300_000,
      shutdownGraceMs: 5_000,
      metrics: { enabled: true, protect: false },
    },
    sites: {},
    targets,
    destinations: { local: destination },
    plans: { nightly: fullPlan },
    alerts: [],
    groups: {},
    restorePlans: {},
    runbooks: {},
  };
  const catalog = Catalog.open(path.join(dir, 'data'), over.clock);
  return {
    dir,
    config,
    catalog,
    appliances,
    repoPath,
    async close() {
      catalog.close();
      await Promise.all(Object.values(appliances).map((a) => a.close()));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Opens the world's repository (index loaded) to look at what a run stored. */
export async function openRepo(w: PlanWorld): Promise<Repository> {
  const repo = await Repository.open(new LocalBackend(w.repoPath), PASSWORD);
  await repo.loadIndex();
  return repo;
}

/** The bytes a stream snapshot (command target, device backup/export) holds, read back from the repository. */
export async function streamContent(
  repo: Repository,
  snapshot: string,
): Promise<{ snapshot: SnapshotWithId; name: string; bytes: Buffer }> {
  const snap = await findSnapshot(repo, snapshot);
  const tree = await loadTree(repo, snap.tree);
  const node = tree.nodes[0]!;
  const parts = await Promise.all((node.content ?? []).map((id) => repo.loadBlob('data', id)));
  return { snapshot: snap, name: node.name, bytes: Buffer.concat(parts) };
}

/** Every quiesce record of the world's catalog, oldest first (read through a second connection). */
export function quiesceRecords(w: PlanWorld): QuiesceRecord[] {
  const db = new DatabaseSync(w.catalog.path, { readOnly: true });
  try {
    const rows = db.prepare('SELECT * FROM quiesces ORDER BY requested_at, rowid').all() as Record<string, unknown>[];
    return rows.map(toQuiesce);
  } finally {
    db.close();
  }
}

/** The run log's messages of one task (or of the run itself when task is null), in order. */
export function taskLog(w: PlanWorld, runId: string, taskId: string | null): string[] {
  return w.catalog
    .planRuns()
    .logLines(runId)
    .filter((l) => l.taskId === taskId)
    .map((l) => l.message);
}

/**
 * The line each step of the task flow (task-flow.ts, numbered as in its
 * comments) logs when it passes, in plain words: the log names no step
 * numbers, so a step is recognised by its text. Lines of no step (hook
 * output, "task failed: …", "already completed by run …") match none.
 */
const TASK_STEPS: [number, RegExp][] = [
  [1, /^inside the maintenance window$/],
  [2, /^destination has enough free space$/],
  [3, /^nothing is quiesced already$/],
  [4, /^unit \S+ has unsaved changes: two exports \(persisted and running state\)$/],
  [5, /^device has room to stage the backup$/],
  [6, /^pre-task hook \S+ /],
  [7, /^\S+ quiesced$/],
  // The backup or export, a drill, or the work of a purge or a copy (task-work.ts).
  [
    8,
    /^(?:(?:backup|export) of \S+(?: \((?:persisted|running) state\))? saved as |drill of \S+ from snapshot |retention keeps \d+ of |pruned: |purge statement on |copied \d+ )/,
  ],
  // The unquiesce, or why it failed (after the task's earlier failure, if any).
  [9, /^(?:\S+ unquiesced$|(?:.*; )?unquiesce of \S+ (?:did not finish within |failed: ))/],
  [10, /^post-task hook \S+ /],
];

/** The task flow's step numbers a task's log lines show, in order ('nothing is quiesced already' → 3). */
export function stepsLogged(w: PlanWorld, runId: string, taskId: string): number[] {
  return taskLog(w, runId, taskId).flatMap((m) => TASK_STEPS.filter(([, re]) => re.test(m)).map(([n]) => n));
}
