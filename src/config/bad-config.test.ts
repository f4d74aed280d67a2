// Bad safehold.yaml files, each written to a real file and loaded: the exact
// CONFIG error, one line per problem, each naming the file, line:column, the
// path inside the file and what was expected.

import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from './load.ts';
import { SafeholdError } from '../core/errors.ts';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'safehold-badcfg-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;

/** Writes `yaml` to a fresh directory and returns the CONFIG error loading it raises (fails if it loads). */
function loadError(
  yaml: string,
  env: NodeJS.ProcessEnv = {},
  setup?: (dir: string) => void,
): { file: string; error: SafeholdError } {
  const dir = path.join(root, String(++n));
  fs.mkdirSync(dir);
  setup?.(dir);
  const file = path.join(dir, 'safehold.yaml');
  fs.writeFileSync(file, yaml);
  try {
    loadConfig(file, env);
  } catch (e) {
    assert.ok(e instanceof SafeholdError, `a SafeholdError, not ${String(e)}`);
    assert.equal(e.code, 'CONFIG');
    return { file, error: e };
  }
  assert.fail('the configuration loaded');
}

/** Asserts the error message is exactly `lines`, each prefixed with the file name ("L:C: ..." → "<file>:L:C: ..."). */
function expectProblems(
  yaml: string,
  lines: string[],
  env: NodeJS.ProcessEnv = {},
  setup?: (dir: string) => void,
): SafeholdError {
  const { file, error } = loadError(yaml, env, setup);
  const expected = lines.map((l) => (/^\d/.test(l) ? `${file}:${l}` : `${file}: ${l}`)).join('\n');
  assert.equal(error.message, expected);
  return error;
}

const DEST = `destinations:
  local:
    type: repository
    path: /srv/repo
    password: { env: PW }
`;

describe('bad configuration files', () => {
  it('unknown top-level key, with a suggestion', () => {
    expectProblems(
      `plan:
  nightly: {}
`,
      ["1:1: unknown key 'plan' (did you mean 'plans'?)"],
    );
  });

  it('unknown nested key, with a suggestion; none when nothing is close', () => {
    expectProblems(
      `${DEST}plans:
  nightly:
    destination: local
    schedul: '0 2 * * *'
    colour: blue
    activities:
      - { kind: backup, targets: 'QA*' }
`,
      [
        "9:5: plans.nightly: unknown key 'schedul' (did you mean 'schedule'?)",
        "10:5: plans.nightly: unknown key 'colour'",
      ],
      { PW: 'x' },
    );
  });

  it('wrong type: a number where a glob pattern is expected', () => {
    expectProblems(
      `${DEST}plans:
  nightly:
    destination: local
    activities:
      - kind: backup
        targets: 'QA*'
      - kind: export
        targets: TEST8
        units: 5
`,
      ["14:16: plans.nightly.activities[1].units: expected a glob pattern string (e.g. 'QA*'), got a number"],
      { PW: 'x' },
    );
  });

  it('a glob pattern that is not valid', () => {
    expectProblems(
      `${DEST}plans:
  nightly:
    destination: local
    activities:
      - { kind: backup, targets: 'QA[z-a]', units: '' }
`,
      [
        "10:34: plans.nightly.activities[0].targets: expected a glob pattern like 'QA*' or 'TEST[89]', got 'QA[z-a]' (a character class range is out of order)",
        "10:52: plans.nightly.activities[0].units: expected a glob pattern string (e.g. 'QA*'), got an empty string",
      ],
      { PW: 'x' },
    );
  });

  it('missing required key: a plan without a destination, an activity without targets', () => {
    expectProblems(
      `plans:
  nightly:
    activities:
      - kind: backup
`,
      [
        "2:3: plans.nightly: missing required key 'destination'",
        "4:9: plans.nightly.activities[0]: missing required key 'targets'",
      ],
    );
  });

  it('a plan naming a destination that is not defined', () => {
    expectProblems(
      `${DEST}plans:
  nightly:
    destination: offsite
    activities: [{ kind: backup, targets: 'QA*' }]
  weekly:
    destination: locall
    activities: [{ kind: backup, targets: 'QA*' }]
`,
      [
        "8:18: plans.nightly.destination: destination 'offsite' is not defined under 'destinations' (defined: local)",
        "11:18: plans.weekly.destination: destination 'locall' is not defined under 'destinations' (did you mean 'local'?)",
      ],
      { PW: 'x' },
    );
  });

  it('an activity naming a hook that is not defined', () => {
    expectProblems(
      `${DEST}plans:
  nightly:
    destination: local
    activities:
      - kind: backup
        targets: 'QA*'
        preTask: flush
`,
      ["12:18: plans.nightly.activities[0].preTask: hook 'flush' is not defined under 'hooks' (there are no hooks)"],
      { PW: 'x' },
    );
  });

  it('a target of unknown kind; a target that is not a map', () => {
    expectProblems(
      `targets:
  vm1:
    kind: vm
  vm2: 42
  vm3:
    site: dc1
`,
      [
        "3:11: targets.vm1.kind: expected one of 'files', 'command', 'device', 'postgres', 'mariadb', 'sqlite', got 'vm'",
        '4:8: targets.vm2: expected a map with a kind and its settings, got a number',
        "5:3: targets.vm3: missing required key 'kind'",
      ],
    );
  });

  it("a duration written as '10 minutes', and a zero duration", () => {
    expectProblems(
      `targets:
  db:
    kind: command
    backup: [pg_dump, app]
    timeout: 10 minutes
hooks:
  h:
    command: ['true']
    timeout: 0s
`,
      [
        "5:14: targets.db.timeout: expected a duration like '30s', '10m', '4h' or '1h30m' (units ms, s, m, h, d, w), got '10 minutes'",
        "9:14: hooks.h.timeout: expected a duration above zero, got '0s'",
      ],
    );
  });

  it('a bad size and a percentage above 100%', () => {
    expectProblems(
      `destinations:
  a:
    type: repository
    path: /a
    password: pw
    minFree: 10 gigs
  b:
    type: repository
    path: /b
    password: pw
    minFree: 150%
`,
      [
        "6:14: destinations.a.minFree: expected a size like '10GiB' or '500MB' (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB) or a percentage like '15%', got '10 gigs'",
        "11:14: destinations.b.minFree: expected a percentage from 0% to 100%, got '150%'",
      ],
    );
  });

  it('a bad cron expression (checked with croner)', () => {
    expectProblems(
      `${DEST}plans:
  nightly:
    destination: local
    schedule: '61 2 * * *'
    window: { cron: '0 2 * *' }
    activities: [{ kind: backup, targets: 'QA*' }]
`,
      [
        "9:15: plans.nightly.schedule: expected a cron expression of 5 fields (minute hour day-of-month month day-of-week) like '0 2 * * *', got '61 2 * * *' (Invalid value for minute: 61)",
        "10:21: plans.nightly.window.cron: expected a cron expression of 5 fields (minute hour day-of-month month day-of-week) like '0 2 * * *', got '0 2 * *' (invalid configuration format ('0 2 * *'), exactly five, six, or seven space separated parts are required.)",
      ],
      { PW: 'x' },
    );
  });

  it('an unknown time zone, with a suggestion', () => {
    expectProblems(
      `${DEST}plans:
  nightly:
    destination: local
    schedule: { cron: '0 2 * * *', timezone: Europe/Berln }
    window: { cron: '* 1-4 * * *', timezone: Mars/Olympus_Mons }
    activities: [{ kind: backup, targets: 'QA*' }]
`,
      [
        "9:46: plans.nightly.schedule.timezone: expected an IANA time zone name like 'Europe/Paris' or 'UTC', got 'Europe/Berln' (did you mean 'Europe/Berlin'?)",
        "10:46: plans.nightly.window.timezone: expected an IANA time zone name like 'Europe/Paris' or 'UTC', got 'Mars/Olympus_Mons'",
      ],
      { PW: 'x' },
    );
  });

  it('a bad day name, in a list and in a range', () => {
    expectProblems(
      `${DEST}plans:
  nightly:
    destination: local
    window:
      ranges:
        - { days: [mon, tuesdy], from: '22:00', to: '06:00' }
        - { days: mon-fry, from: '22:00', to: '06:00' }
    activities: [{ kind: backup, targets: 'QA*' }]
`,
      [
        "11:25: plans.nightly.window.ranges[0].days[1]: expected a day name (mon, tue, wed, thu, fri, sat, sun) or a range like 'mon-fri', got 'tuesdy' (did you mean 'tuesday'?)",
        "12:19: plans.nightly.window.ranges[1].days: expected a day name (mon, tue, wed, thu, fri, sat, sun) or a range like 'mon-fri', got 'mon-fry' (did you mean 'fri'?)",
      ],
      { PW: 'x' },
    );
  });

  it('from/to that are not HH:MM, and equal from/to', () => {
    expectProblems(
      `${DEST}plans:
  nightly:
    destination: local
    window:
      timezone: UTC
      ranges:
        - { from: '6:00', to: 22h }
        - { from: '25:00', to: '06:00' }
        - { from: '10:00', to: '10:00' }
    activities: [{ kind: backup, targets: 'QA*' }]
`,
      [
        "12:19: plans.nightly.window.ranges[0].from: expected a time of day 'HH:MM' (00:00 to 24:00) like '22:00', got '6:00'",
        "12:31: plans.nightly.window.ranges[0].to: expected a time of day 'HH:MM' (00:00 to 24:00) like '22:00', got '22h'",
        "13:19: plans.nightly.window.ranges[1].from: expected a time of day 'HH:MM' (00:00 to 24:00) like '22:00', got '25:00'",
        "14:32: plans.nightly.window.ranges[2].to: must differ from 'from'",
      ],
      { PW: 'x' },
    );
  });

  it('a secret from an environment variable that is not set (or empty)', () => {
    expectProblems(
      `targets:
  db:
    kind: command
    backup: [pg_dump, app]
    env:
      PGPASSWORD: { env: DB_PASSWORD }
      PGHOST: { env: DB_HOST }
${DEST}`,
      [
        '6:19: targets.db.env.PGPASSWORD: environment variable DB_PASSWORD is not set',
        '7:15: targets.db.env.PGHOST: environment variable DB_HOST is empty',
        '12:15: destinations.local.password: environment variable PW is not set',
      ],
      { DB_HOST: '' },
    );
  });

  it('a secret file that is missing; relative to the configuration file', () => {
    const error = expectProblems(
      `destinations:
  local:
    type: repository
    path: /srv/repo
    password: { file: secrets/repo.pw }
`,
      [
        `5:15: destinations.local.password: cannot read secret file ${path.join(root, String(n + 1), 'secrets', 'repo.pw')}: no such file`,
      ],
    );
    assert.match(error.message, /secrets\/repo\.pw: no such file$/);
  });

  it('a site referenced by a target and a destination but not defined', () => {
    expectProblems(
      `sites:
  dc1: { description: Primary }
targets:
  web:
    kind: files
    site: dc2
    units: { etc: { paths: [/etc] } }
destinations:
  local:
    type: repository
    path: /srv/repo
    password: pw
    site: dc9
`,
      [
        "6:11: targets.web.site: site 'dc2' is not defined under 'sites' (did you mean 'dc1'?)",
        "13:11: destinations.local.site: site 'dc9' is not defined under 'sites' (did you mean 'dc1'?)",
      ],
    );
  });

  it('an empty activities list, and an empty retention', () => {
    expectProblems(
      `${DEST}plans:
  nightly:
    destination: local
    retention: {}
    activities: []
`,
      [
        '9:16: plans.nightly.retention: needs at least one keep rule (keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly, keepWithin)',
        '10:17: plans.nightly.activities: expected at least one activity, got an empty list',
      ],
      { PW: 'x' },
    );
  });

  it('a YAML syntax error, with line and column', () => {
    expectProblems(
      `plans:
  nightly:
    destination: "local
`,
      ['4:1: YAML syntax error: missing closing "quote'],
    );
    expectProblems(
      `targets:
  web:
\tkind: files
`,
      ['3:1: YAML syntax error: tabs are not allowed as indentation'],
    );
  });

  it('duplicate keys in YAML', () => {
    expectProblems(
      `targets:
  web:
    kind: files
    units: { etc: { paths: [/etc] } }
  web:
    kind: files
    units: { etc: { paths: [/etc] }, etc: { paths: [/srv] } }
`,
      ["5:3: duplicate key 'web'", "7:38: duplicate key 'etc'"],
    );
  });

  it('a name with characters not allowed; the reserved key __proto__', () => {
    expectProblems(
      `targets:
  'QA 1':
    kind: files
    units: { etc: { paths: [/etc] } }
sites:
  __proto__: { description: x }
`,
      [
        "2:3: targets: invalid name 'QA 1': expected a target name of letters, digits, '_', '.' or '-' (not starting with '.' or '-')",
        "6:3: sites: the key '__proto__' is not allowed",
      ],
    );
  });

  it('a device adapter with both http and command; a URL carrying credentials is never echoed', () => {
    const err = expectProblems(
      `targets:
  QA1:
    kind: device
    adapter:
      http: { url: 'https://admin:s3cr3t-pw@qa1:5554' }
  QA2:
    kind: device
    adapter:
      http: { url: 'https://qa2:5554' }
      command: [dp-adapter]
  QA3:
    kind: device
    adapter: {}
`,
      [
        "5:20: targets.QA1.adapter.http.url: must not contain credentials (put them in 'token')",
        "9:7: targets.QA2.adapter: needs exactly one of 'http' or 'command'",
        "13:14: targets.QA3.adapter: needs exactly one of 'http' or 'command'",
      ],
    );
    assert.ok(!err.message.includes('s3cr3t'));
  });

  it('an activity name used twice in a plan', () => {
    expectProblems(
      `${DEST}plans:
  nightly:
    destination: local
    activities:
      - { name: qa, kind: backup, targets: 'QA*' }
      - { name: qa, kind: export, targets: 'TEST*' }
`,
      ["11:17: plans.nightly.activities[1].name: activity name 'qa' is already used by activities[0]"],
      { PW: 'x' },
    );
  });

  it('a window with both cron and ranges; an unknown enum value with a suggestion', () => {
    expectProblems(
      `settings:
  backups: enable
${DEST}plans:
  nightly:
    destination: local
    window: { cron: '* * * * *', ranges: [{ from: '01:00', to: '02:00' }] }
    activities: [{ kind: backups, targets: 'QA*' }]
`,
      [
        "2:12: settings.backups: expected 'enabled' or 'disabled', got 'enable' (did you mean 'enabled'?)",
        "11:13: plans.nightly.window: needs exactly one of 'cron' or 'ranges'",
        "12:26: plans.nightly.activities[0].kind: expected 'backup', 'export', 'purge', 'copy' or 'drill', got 'backups' (did you mean 'backup'?)",
      ],
      { PW: 'x' },
    );
  });

  it('an empty file and a file whose top level is a list', () => {
    expectProblems('# nothing yet\n', [
      '1:1: expected a map with settings, sites, targets, destinations, hooks and plans, got an empty file',
    ]);
    expectProblems('- plans\n', [
      '1:1: expected a map with settings, sites, targets, destinations, hooks, plans, alerts, groups and restorePlans, got a list',
    ]);
  });

  it('every problem at once, in file order, at most 20 then a count', () => {
    const targets = Array.from({ length: 25 }, (_, i) => `  t${i}: { kind: files, units: { u: { paths: [] } } }`).join(
      '\n',
    );
    const err = expectProblems(`targets:\n${targets}\n`, [
      ...Array.from(
        { length: 20 },
        (_, i) =>
          `${i + 2}:${i < 10 ? 43 : 44}: targets.t${i}.units.u.paths: expected at least one path, got an empty list`,
      ),
      '... and 5 more problems',
    ]);
    const problems = (err.details as { problems: unknown[] }).problems;
    assert.equal(problems.length, 25);
    assert.deepEqual(problems[24], {
      line: 26,
      col: 44,
      path: 'targets.t24.units.u.paths',
      message: 'expected at least one path, got an empty list',
    });
  });

  it('a file that cannot be read', () => {
    const file = path.join(root, 'missing.yaml');
    assert.throws(
      () => loadConfig(file, {}),
      (e: unknown) =>
        e instanceof SafeholdError &&
        e.code === 'CONFIG' &&
        e.message === `cannot read configuration file ${file}: no such file`,
    );
  });

  it('no secret value appears in any error message', () => {
    const secrets = { PW: 'env-secret-Zq81', TOKEN: 'token-secret-Yx92' };
    const { error } = loadError(
      `targets:
  QA1:
    kind: device
    adapter:
      http: { url: 'https://qa1:5554', token: { env: TOKEN } }
      timeout: soon
  db:
    kind: command
    backup: [pg_dump]
    env: { PGPASSWORD: inline-secret-Wv73, BAD: { env: 7 }, PIN: 987654321 }
    pasword: inline-secret-Wv73
${DEST}    passwd: inline-secret-Wv73
`,
      secrets,
      (dir) => fs.writeFileSync(path.join(dir, 'pw'), 'file-secret-Uu64\n'),
    );
    assert.equal(error.message.split('\n').length, 5, error.message);
    assert.match(
      error.message,
      /targets\.db\.env\.PIN: expected a secret: a string, \{ env: NAME \} or \{ file: PATH \}, got a number$/m,
    );
    // Secrets resolved (schema valid), then a reference error: still no value anywhere.
    const late = loadError(
      `targets:
  QA1:
    kind: device
    adapter:
      http: { url: 'https://qa1:5554', token: { env: TOKEN } }
  db:
    kind: command
    backup: [pg_dump]
    env: { PGPASSWORD: inline-secret-Wv73, OTHER: { file: pw } }
${DEST}plans:
  p:
    destination: nowhere
    activities: [{ kind: backup, targets: db }]
`,
      secrets,
      (dir) => fs.writeFileSync(path.join(dir, 'pw'), 'file-secret-Uu64\n'),
    ).error;
    assert.match(late.message, /plans\.p\.destination: destination 'nowhere' is not defined/);
    for (const e of [error, late]) {
      for (const s of [...Object.values(secrets), 'inline-secret-Wv73', 'file-secret-Uu64', '987654321']) {
        assert.ok(!e.message.includes(s), `secret ${s} in: ${e.message}`);
        assert.ok(!JSON.stringify(e.details).includes(s));
      }
    }
  });
  it('copy, purge and directory destinations: what each needs, with the place in the file', () => {
    const err = loadError(
      `${DEST}  plain:
    type: directory
    path: /srv/plain
    generations: { keep: 3, naming: old }
plans:
  nightly:
    destination: local
    activities:
      - { kind: copy, targets: 'QA*' }
      - { kind: copy, targets: 'QA*', to: plain }
      - { kind: purge, targets: 'QA*' }
      - { kind: backup, targets: 'QA*', to: plain, purge: retention }
`,
      { PW: 'x' },
    ).error;
    const lines = err.message.split('\n').map((l) => l.replace(/^[^:]*safehold\.yaml:/, ''));
    assert.deepEqual(lines, [
      "9:37: destinations.plain.generations.naming: naming 'old' keeps exactly 2 generations (<name> and <name>.old), not 3: use 'numbered' or 'timestamped'",
      "14:9: plans.nightly.activities[0]: a copy activity needs 'to': the destination to copy to",
      '15:43: plans.nightly.activities[1].to: copies from a repository destination to a directory destination; both must be of one type',
      "16:9: plans.nightly.activities[2].purge: a retention purge needs the plan's 'retention' rules",
      "17:45: plans.nightly.activities[3].to: only copy activities take 'to' (this one is a backup)",
      "17:59: plans.nightly.activities[3].purge: only purge activities take 'purge' (this one is a backup)",
    ]);
  });

  it("a copy's own retention and targets lists: where they go, and groups that exist", () => {
    const err = loadError(
      `${DEST}  plain: { type: directory, path: /srv/plain }
  plain2: { type: directory, path: /srv/plain2 }
  far: { type: repository, path: /srv/far, password: { env: PW } }
plans:
  nightly:
    destination: local
    activities:
      - { kind: backup, targets: [QA1, 'group:nope'], retention: { keepLast: 2 } }
      - { kind: copy, targets: 'QA*', to: far, retention: { keepDaily: 7 } }
  dirs:
    destination: plain
    activities:
      - { kind: copy, targets: '*', to: plain2, retention: { keepLast: 1 } }
`,
      { PW: 'x' },
    ).error;
    const lines = err.message.split('\n').map((l) => l.replace(/^[^:]*safehold\.yaml:/, ''));
    assert.deepEqual(lines, [
      "13:40: plans.nightly.activities[0].targets[1]: group 'nope' is not defined under 'groups' (there are no groups)",
      "13:66: plans.nightly.activities[0].retention: only copy activities take 'retention' (this one is a backup)",
      "18:60: plans.dirs.activities[0].retention: copies to the directory destination 'plain2', which keeps its generations by itself (its 'generations.keep'): leave out 'retention'",
    ]);
    const empty = loadError(
      `${DEST}plans:
  nightly:
    destination: local
    activities:
      - { kind: backup, targets: [] }
`,
      { PW: 'x' },
    ).error;
    assert.match(
      empty.message,
      /:10:34: plans\.nightly\.activities\[0\]\.targets: expected at least one pattern, got an empty list$/,
    );
  });

  it('an alert channel of an unknown type, and an unknown event name', () => {
    const err = loadError(`alerts:
  channels:
    pager: { type: pager, url: 'https://x' }
    mail: { type: email, host: smtp, from: a@b, to: [ops@b], events: [run-faild] }
`).error;
    const lines = err.message.split('\n').map((l) => l.replace(/^[^:]*safehold\.yaml:/, ''));
    assert.equal(lines.length, 2, err.message);
    assert.match(
      lines[0]!,
      /^3:20: alerts\.channels\.pager\.type: expected type 'webhook', 'email', 'snmp', 'command', 'healthchecks', 'ntfy' or 'chat'/,
    );
    assert.match(
      lines[1]!,
      /^4:71: alerts\.channels\.mail\.events\[0\]: expected one of run-failed, run-incomplete, retries-exhausted/,
    );
  });

  it('alert channel filters and the healthchecks, ntfy and chat channels: clear errors, no secret URL echoed', () => {
    const plans = `${DEST}plans:
  nightly:
    destination: local
    activities:
      - { kind: backup, targets: 'QA*' }
alerts:
  channels:
`;
    const problems = (yaml: string, env: NodeJS.ProcessEnv = {}) => {
      const err = loadError(`${plans}${yaml}`, { PW: 'x', ...env }).error;
      assert.ok(!/secret-uuid-1234/.test(err.message), err.message);
      return err.message
        .split('\n')
        .map((l) => l.replace(/^[^:]*safehold\.yaml:\d+:\d+: /, ''))
        .sort();
    };
    assert.deepEqual(
      problems(`    hook: { type: webhook, url: 'https://x.example/hook', minSeverity: urgent }
    push: { type: ntfy, url: 'ntfy.sh/secret-uuid-1234' }
    team: { type: chat, format: teams, url: 'https://hooks.slack.com/services/T/B/x' }
    room: { type: chat, url: 'https://matrix.example/webhook/abc' }
    hc2: { type: healthchecks, url: 'https://hc-ping.com/abc', events: [run-failed] }
`),
      [
        "alerts.channels.hc2: unknown key 'events'",
        "alerts.channels.hook.minSeverity: expected one of info, warning, critical, got 'urgent'",
        'alerts.channels.push.url: not an http(s) URL (the value is a secret: not shown)',
        "alerts.channels.room: missing required key 'format'",
        "alerts.channels.team.format: expected format 'slack', 'discord' or 'matrix', got 'teams'",
      ],
    );
    assert.deepEqual(
      problems(
        `    hc: { type: healthchecks, url: { env: HC_URL }, plans: [nightly, weekly] }
`,
        { HC_URL: 'hc-ping.com/secret-uuid-1234' },
      ),
      [
        "alerts.channels.hc.plans[1]: plan 'weekly' is not defined under 'plans' (defined: nightly)",
        'alerts.channels.hc.url: expected an http(s) URL in environment variable HC_URL',
      ],
    );
  });

  it('an SQL purge needs a postgres or mariadb URL; the URL is not echoed', () => {
    const err = loadError(
      `${DEST}plans:
  nightly:
    destination: local
    activities:
      - { kind: purge, targets: DB, purge: { sql: 'DELETE FROM t', database: 'oracle://u:hunter2@h/db' } }
`,
      { PW: 'x' },
    ).error;
    assert.equal(
      err.message.replace(/^[^:]*safehold\.yaml:/, ''),
      '10:78: plans.nightly.activities[0].purge.database: expected a postgres:// or mariadb:// (mysql://) connection URL',
    );
    assert.ok(!err.message.includes('hunter2'));
  });
});
