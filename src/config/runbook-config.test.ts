// Runbooks in the configuration: under `runbooks:` and in runbooks/NAME.yaml
// beside the file; defaults; the checks the loader makes (step names,
// rollback references, placeholders, roles, parameters of each kind) and
// errors that name the runbook file and line; the expression language.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from './load.ts';
import type { Config } from './types.ts';
import { compare, evaluateExpression, parseExpression, placeholdersIn } from './runbook-template.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-rbcfg-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;

function write(main: string, files: Record<string, string> = {}): string {
  const dir = path.join(root, String(++n));
  fs.mkdirSync(path.join(dir, 'runbooks'), { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, 'runbooks', name), text);
  const file = path.join(dir, 'safehold.yaml');
  fs.writeFileSync(file, main);
  return file;
}

function load(main: string, files: Record<string, string> = {}): Config {
  return loadConfig(write(main, files), {});
}

function loadError(main: string, files: Record<string, string> = {}): { message: string; file: string } {
  const file = write(main, files);
  try {
    loadConfig(file, {});
  } catch (e) {
    return { message: (e as Error).message, file };
  }
  assert.fail('expected a configuration error');
}

const MAIN = `
runbooks:
  inline:
    vars:
      who: { default: world }
      target: { description: required }
    steps:
      - name: hello
        kind: command
        with: { argv: [echo, "\${vars.who}"] }
      - name: gate
        kind: approval
        with: { role: admin }
`;

describe('runbooks in the configuration', () => {
  it('loads inline runbooks and runbooks/*.yaml, with defaults and file:line sources', () => {
    const c = load(MAIN, {
      'other.yaml': `description: from a file\ndestructive: true\nsteps:\n  - name: a\n    kind: notify\n    with: { message: hi }\n`,
    });
    assert.deepEqual(Object.keys(c.runbooks).sort(), ['inline', 'other']);
    const inline = c.runbooks.inline!;
    assert.equal(inline.vars.who!.default, 'world');
    assert.equal(inline.vars.target!.default, null);
    assert.equal(inline.steps[0]!.timeoutMs, 5 * 60_000);
    assert.equal(inline.steps[1]!.timeoutMs, null, 'approval steps have no time limit by default');
    assert.deepEqual(inline.steps[0]!.retries, { attempts: 1, backoffMs: 1000 });
    assert.equal(inline.steps[0]!.onFailure, 'stop');
    assert.match(inline.source, /safehold\.yaml:3$/);
    assert.match(inline.steps[1]!.source, /safehold\.yaml:11$/);
    const other = c.runbooks.other!;
    assert.equal(other.destructive, true);
    assert.match(other.steps[0]!.source, /runbooks\/other\.yaml:4$/);
    assert.ok(Object.isFrozen(other.steps[0]), 'frozen like the rest');
  });

  it('names the runbook file and line of a problem in runbooks/NAME.yaml', () => {
    const bad = `steps:\n  - name: a\n    kind: command\n    with: { argv: [echo, "\${vars.nope}"] }\n  - name: a\n    kind: sql\n    with: { sql: "select 1" }\n`;
    const { message, file } = loadError('settings: {}\n', { 'broken.yaml': bad });
    const rb = path.join(path.dirname(file), 'runbooks', 'broken.yaml');
    assert.ok(message.includes(`${rb}:4:`), message);
    assert.match(message, /placeholder '\$\{vars\.nope\}': variable 'nope' is not declared/);
    assert.match(message, /broken\.yaml:5:\d+: steps\[1\]\.name: step name 'a' is used twice/);
    assert.match(message, /broken\.yaml:7:\d+: steps\[1\]\.with: expected exactly one of 'url' .* and 'target'/);
  });

  it('reports schema errors of a runbook file with its line', () => {
    const { message } = loadError('settings: {}\n', {
      'x.yaml': `steps:\n  - name: a\n    kind: comand\n`,
    });
    assert.match(message, /runbooks\/x\.yaml:3:11: steps\[0\]\.kind: expected a step kind.*did you mean 'command'/);
  });

  it('checks rollback references, later-step outputs, approval roles and expressions', () => {
    const { message } = loadError(`
runbooks:
  r:
    steps:
      - name: one
        kind: command
        with: { argv: [echo, "\${steps.two.outputs.x}"] }
        onFailure: rollback
        rollback: [undo]
      - name: two
        kind: approval
        with: { role: boss }
      - name: three
        kind: command
        with: { argv: [echo] }
        when: "\${vars.a} == "
`);
    assert.match(
      message,
      /steps\[0\]\.with\.argv\[1\]: placeholder '\$\{steps\.two\.outputs\.x\}': 'two' is not an earlier step/,
    );
    assert.match(message, /steps\[0\]\.rollback\[0\]: rollback step 'undo' is not defined under 'rollbackSteps'/);
    assert.match(message, /steps\[1\]\.with\.role: expected 'viewer', 'operator' or 'admin', got 'boss'/);
    assert.match(message, /steps\[2\]\.when: .*variable 'a' is not declared/);
    assert.match(message, /safehold\.yaml:\d+:\d+: runbooks\.r\.steps\[2\]\.when: expected an expression/);
  });

  it('needs exactly one check in a wait-until, and a url with its sql', async () => {
    const { message } = loadError(`
runbooks:
  r:
    steps:
      - { name: a, kind: wait-until, with: { that: "\${value} == 1" } }
      - { name: b, kind: wait-until, with: { sql: "select 1", that: "\${value} == 1" } }
      - { name: c, kind: wait-until, with: { http: "http://x/", command: [x], that: "\${status} == 1" } }
`);
    assert.match(message, /steps\[0\]\.with: expected exactly one check to poll/);
    assert.match(message, /steps\[1\]\.with: expected exactly one of 'url' .* and 'target'/);
    assert.match(message, /steps\[2\]\.with: expected exactly one check to poll: .*, got command and http/);
  });

  it('an sql step or check names a configured postgres or mariadb target, or a url, not both', () => {
    const main = `
targets:
  db: { kind: postgres, host: 127.0.0.1, databases: '*' }
  files: { kind: files, units: { a: { paths: [/srv] } } }
runbooks:
  r:
    steps:
      - { name: ok, kind: sql, with: { target: db, database: app, sql: "select 1" } }
      - name: guarded
        kind: sql
        with: { url: "postgres://x@127.0.0.1/y", sql: "select 1" }
        preconditions: [{ sql: "select true", target: db }]
`;
    const rb = load(main).runbooks.r!;
    assert.deepEqual(rb.steps[0]!.params, { target: 'db', database: 'app', sql: 'select 1' });
    assert.deepEqual(rb.steps[1]!.preconditions[0], {
      type: 'sql',
      sql: 'select true',
      url: '',
      target: 'db',
      database: null,
      that: null,
    });
    const { message } = loadError(`
targets:
  files: { kind: files, units: { a: { paths: [/srv] } } }
runbooks:
  r:
    steps:
      - { name: a, kind: sql, with: { target: nope, sql: "select 1" } }
      - { name: b, kind: sql, with: { target: files, sql: "select 1" } }
      - { name: c, kind: sql, with: { target: files, url: "postgres://x@h/d", sql: "select 1" } }
      - { name: d, kind: sql, with: { url: "postgres://x@h/d", database: z, sql: "select 1" } }
      - { name: e, kind: command, with: { argv: [x] }, preconditions: [{ sql: "select 1", target: nope }] }
`);
    assert.match(message, /safehold\.yaml:7:\d+: runbooks\.r\.steps\[0\]\.with\.target: target 'nope' is not defined/);
    assert.match(
      message,
      /steps\[1\]\.with\.target: target 'files' is a files target; expected a postgres or mariadb one/,
    );
    assert.match(message, /steps\[2\]\.with: expected exactly one of 'url'/);
    assert.match(message, /steps\[3\]\.with\.database: 'database' goes with 'target'/);
    assert.match(message, /steps\[4\]\.preconditions\[0\]\.target: target 'nope' is not defined/);
  });

  it('refuses a runbook both inline and in a file, and a file name that is not a runbook name', () => {
    const both = loadError(MAIN, { 'inline.yaml': 'steps:\n  - { name: a, kind: notify, with: { message: m } }\n' });
    assert.match(both.message, /inline\.yaml:1:1: runbook 'inline' is also defined under 'runbooks'/);
    const named = loadError('settings: {}\n', {
      'Bad_Name.yaml': 'steps:\n  - { name: a, kind: notify, with: { message: m } }\n',
    });
    assert.match(named.message, /Bad_Name\.yaml:1:1: the file name must be the runbook's name/);
  });

  it('lets a check use its own results in that: but not elsewhere', () => {
    const c = load(`
runbooks:
  r:
    vars: { url: { default: "postgres://x@127.0.0.1:1/postgres" } }
    steps:
      - name: w
        kind: wait-until
        with: { sql: "select 1", url: "\${vars.url}", that: "\${value} == 1", interval: 1s }
        preconditions:
          - { http: "http://127.0.0.1:1/", that: "\${status} == 200" }
`);
    assert.equal(c.runbooks.r!.steps[0]!.preconditions[0]!.type, 'http');
    const { message } = loadError(`
runbooks:
  r:
    steps:
      - name: a
        kind: command
        with: { argv: [echo, "\${value}"] }
`);
    assert.match(message, /placeholder '\$\{value\}': expected vars\.NAME/);
  });
});

describe('runbook expressions', () => {
  it('parses comparisons joined by and/or, ignoring operators inside placeholders and quotes', () => {
    assert.deepEqual(parseExpression('${a} == 1 and ${b} != "x or y"'), [
      [
        { left: '${a}', op: '==', right: '1' },
        { left: '${b}', op: '!=', right: '"x or y"' },
      ],
    ]);
    assert.equal(parseExpression('${x} or ${y}').length, 2);
    assert.throws(() => parseExpression('1 == 2 == 3'), /one operator per comparison/);
    assert.throws(() => parseExpression('  '), /empty/);
    assert.deepEqual(placeholdersIn('${vars.a}-${ steps.b.outputs.c }'), ['vars.a', 'steps.b.outputs.c']);
  });

  it('compares numbers as numbers and text as text', () => {
    assert.equal(compare('10', '>', '9'), true, 'numeric');
    assert.equal(compare('abc', '>', 'abd'), false, 'text');
    assert.equal(compare('standby', '==', "'standby'"), true, 'quotes removed');
    assert.equal(compare('primary, standby', 'contains', 'standby'), true);
    assert.equal(compare('false', null, null), false);
    assert.equal(compare('yes', null, null), true);
    assert.equal(compare('0.5', '<=', '0.50'), true);
    const vals: Record<string, string> = { '${a}': '3', '${b}': 'x' };
    const ev = (t: string) => evaluateExpression(parseExpression(t), (o) => vals[o] ?? o);
    assert.equal(ev('${a} > 2 and ${b} == x'), true);
    assert.equal(ev('${a} > 5 or ${b} == y'), false);
    assert.equal(ev('${a} > 5 or ${b} == x'), true);
  });
});
