// The import direction of DEVELOPERS.md, checked on the source: core ← repo
// ← engine ← (config, drivers, catalog) ← alerts ← plans ← scheduler ← api ←
// cli. A module may import from its own layer or lower ones only.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(import.meta.dirname, '..', 'src');
const RANK: Record<string, number> = { core: 0, repo: 1, engine: 2, config: 3, drivers: 3, catalog: 3, alerts: 4, plans: 5, scheduler: 6, api: 7, cli: 8 };

it('imports go one way: no module imports from a higher layer', () => {
  const bad: string[] = [];
  let files = 0;
  for (const rel of fs.readdirSync(SRC, { recursive: true }) as string[]) {
    if (!rel.endsWith('.ts') || rel.endsWith('.test.ts') || rel.endsWith('.d.ts')) continue;
    files++;
    const layer = rel.split(path.sep)[0]!;
    assert.ok(layer in RANK, `${rel}: folder ${layer} has no layer`);
    const text = fs.readFileSync(path.join(SRC, rel), 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/gm)) {
      const target = path.relative(SRC, path.resolve(path.dirname(path.join(SRC, rel)), m[1]!)).split(path.sep)[0]!;
      if (RANK[target]! > RANK[layer]!) bad.push(`${rel} imports ${m[1]} (${layer} → ${target})`);
    }
  }
  assert.ok(files > 50, `found ${files} modules`);
  assert.deepEqual(bad, []);
});
