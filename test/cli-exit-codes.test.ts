// Exit codes have one home: src/cli/exit-codes.ts. No other CLI source
// returns or exits with a number of its own, and the table in docs/cli.md
// lists exactly the codes EXIT defines.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { EXIT, exitCodeForRun } from '../src/cli/exit-codes.ts';
import type { PlanRunStatus } from '../src/catalog/plan-runs.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const CLI = path.join(ROOT, 'src', 'cli');

/** Every non-test .ts file below `dir` (paths relative to ROOT). */
function sources(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => path.relative(ROOT, path.join(dir, f)))
    .sort();
}

/** Lines that return or exit with a literal number: `return 3;`, `return ok ? 0 : 1;`, `process.exit(4)`, `exitCode = 2`. */
function literalExits(text: string): string[] {
  const patterns = [
    /\breturn\s+\d+\s*;/,
    /\breturn\s+[^;]*\?\s*\d+\s*:\s*\d+\s*;/,
    /\bprocess\.exit\(\s*\d/,
    /\bexitCode\s*=\s*\d/,
    /\{\s*(succeeded|failed|partial|refused)\s*:\s*\d+\s*,/,
  ];
  return text.split('\n').filter((line) => patterns.some((p) => p.test(line)));
}

/** The codes in the first column of the exit-code table of docs/cli.md. */
function documentedCodes(): number[] {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'cli.md'), 'utf8');
  const section = doc.slice(doc.indexOf('## Exit codes'), doc.indexOf('\n## ', doc.indexOf('## Exit codes') + 1));
  return [...section.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1]));
}

describe('exit codes', () => {
  it('the check finds literal exit numbers (so it can fail)', () => {
    const found = literalExits(
      '  return 0;\n  return r.ok ? 0 : 1;\n  process.exit(4);\n  process.exitCode = 3;\n  return ({ succeeded: 0, failed: 1 })[s];\n  return EXIT.ok;\n  return x.slice(0, 8);',
    );
    assert.equal(found.length, 5, found.join('\n'));
  });

  it('no CLI source but exit-codes.ts returns or exits with a literal number', () => {
    const offenders = sources(CLI)
      .filter((f) => f !== path.join('src', 'cli', 'exit-codes.ts'))
      .flatMap((f) => literalExits(fs.readFileSync(path.join(ROOT, f), 'utf8')).map((l) => `${f}: ${l.trim()}`));
    assert.deepEqual(offenders, [], 'use EXIT (src/cli/exit-codes.ts)');
  });

  it('docs/cli.md lists exactly the exit codes EXIT defines', () => {
    assert.deepEqual(
      documentedCodes(),
      [...new Set(Object.values(EXIT))].sort((a, b) => a - b),
    );
  });

  it('a plan run maps to 0, 1, 3, 4 or 130 by how it ended', () => {
    const all: Record<PlanRunStatus, number> = {
      succeeded: 0,
      failed: 1,
      partial: 3,
      skipped: 3,
      refused: 4,
      cancelled: 130,
      running: 1,
    };
    for (const [status, code] of Object.entries(all))
      assert.equal(exitCodeForRun(status as PlanRunStatus), code, status);
  });
});
