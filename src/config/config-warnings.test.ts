// Retention warnings: a plan running more often than its finest keep rule
// keeps snapshots, without keepLast, keepHourly or keepWithin, is warned
// about; a schedule as coarse as its rules (a daily run with keepDaily, across
// a clock change too) is not.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from './load.ts';
import { retentionWarnings, shortestInterval } from './config-warnings.ts';

function config(schedule: string, retention: string): ReturnType<typeof parseConfig> {
  return parseConfig(
    `destinations:
  local: { type: repository, path: /srv/repo, password: pw }
plans:
  p:
    destination: local
    schedule: ${schedule}
    retention: ${retention}
    activities: [{ kind: backup, targets: '*', allowEmpty: true }]
`,
    '/etc/safehold/safehold.yaml',
    {},
  );
}

describe('retentionWarnings', () => {
  it('warns for a 5-minute plan keeping only daily snapshots, not once keepLast (or keepHourly, keepWithin) keeps recent ones', () => {
    assert.deepEqual(retentionWarnings(config("'*/5 * * * *'", '{ keepDaily: 7, keepWeekly: 4 }')), [
      {
        path: 'plans.p.retention',
        message:
          'plan p runs every 5 minutes but keeps only one snapshot a day: add keepLast, keepHourly or keepWithin to keep recent ones',
      },
    ]);
    for (const fine of ['{ keepLast: 3, keepDaily: 7 }', '{ keepHourly: 24 }', '{ keepWithin: 2d, keepDaily: 7 }'])
      assert.deepEqual(retentionWarnings(config("'*/5 * * * *'", fine)), [], fine);
  });

  it('a daily plan with keepDaily is fine (also across a clock change); a daily plan with only keepWeekly is not', () => {
    assert.deepEqual(
      retentionWarnings(config("{ cron: '30 2 * * *', timezone: Europe/Paris }", '{ keepDaily: 7 }')),
      [],
    );
    assert.match(
      retentionWarnings(config("'0 3 * * *'", '{ keepWeekly: 4 }'))[0]!.message,
      /^plan p runs every day but keeps only one snapshot a week/,
    );
  });

  it('the shortest interval of a schedule, null for on-demand plans', () => {
    assert.equal(shortestInterval({ cron: '*/5 * * * *', timezone: 'UTC' }), 5 * 60_000);
    assert.equal(shortestInterval({ cron: '0 2,14 * * *', timezone: 'UTC' }), 12 * 3600_000);
    assert.equal(shortestInterval(null), null);
  });
});
