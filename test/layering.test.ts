// The import rules of DEVELOPERS.md, checked on the source:
//  - one way: core ← repo ← engine ← (config, catalog) ← (drivers, alerts) ←
//    plans ← scheduler ← api ← cli. A module imports from its own top-level
//    folder or from a strictly lower layer, so no two folders import each
//    other;
//  - no import cycle between files, counting type-only imports and dynamic
//    import() too.

import { it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

const SRC = path.resolve(import.meta.dirname, '..', 'src');
const RANK: Record<string, number> = {
  core: 0,
  repo: 1,
  engine: 2,
  config: 3,
  catalog: 3,
  drivers: 4,
  alerts: 4,
  plans: 5,
  scheduler: 6,
  api: 7,
  cli: 8,
};

/** Every non-test module of src/ (relative path) with the modules it imports (relative paths). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const rel of fs.readdirSync(SRC, { recursive: true }) as string[]) {
    if (!rel.endsWith('.ts') || rel.endsWith('.test.ts') || rel.endsWith('.d.ts')) continue;
    const text = fs.readFileSync(path.join(SRC, rel), 'utf8');
    const specs = [
      ...[...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'/gm)].map((m) => m[1]!),
      ...[...text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)].map((m) => m[1]!),
    ];
    graph.set(
      rel,
      specs.map((s) => path.relative(SRC, path.resolve(path.dirname(path.join(SRC, rel)), s))),
    );
  }
  return graph;
}

const folder = (rel: string) => rel.split(path.sep)[0]!;

it('imports go one way: a module imports only from its own folder or a lower layer', () => {
  const graph = importGraph();
  assert.ok(graph.size > 50, `found ${graph.size} modules`);
  const bad: string[] = [];
  for (const [rel, deps] of graph) {
    const from = folder(rel);
    assert.ok(from in RANK, `${rel}: folder ${from} has no layer`);
    for (const dep of deps) {
      const to = folder(dep);
      if (to !== from && !(RANK[to]! < RANK[from]!)) bad.push(`${rel} imports ${dep} (${from} → ${to})`);
    }
  }
  assert.deepEqual(bad, []);
});

it('no import cycle between files (type-only and dynamic imports count)', () => {
  const graph = importGraph();
  const cycles = stronglyConnected(graph).filter((c) => c.length > 1 || (graph.get(c[0]!) ?? []).includes(c[0]!));
  assert.deepEqual(
    cycles.map((c) => c.sort().join(' ↔ ')),
    [],
  );
});

it('the cycle check finds a cycle', () => {
  const g = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['a.ts']],
  ]);
  assert.deepEqual(
    stronglyConnected(g)
      .filter((c) => c.length > 1)
      .map((c) => c.sort()),
    [['a.ts', 'b.ts', 'c.ts']],
  );
});

/** Tarjan's strongly connected components of a directed graph. */
function stronglyConnected(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    out.push(component);
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

it("the API's schemas module, which the console's types come from, imports only zod", () => {
  const text = fs.readFileSync(path.join(SRC, 'api', 'http', 'schemas.ts'), 'utf8');
  const specs = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/gm)].map((m) => m[1]!);
  assert.ok(specs.length > 0);
  assert.deepEqual([...new Set(specs)], ['zod']);
});
