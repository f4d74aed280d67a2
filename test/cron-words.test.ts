// The console's cron describer (web/src/cron-words.ts): common forms in
// words, anything else null (the console then shows the expression alone).

import { it } from 'node:test';
import assert from 'node:assert/strict';
import { cronWords } from '../web/src/cron-words.ts';

it('describes the common cron forms in words', () => {
  const cases: [string, string | null][] = [
    ['0 2 * * *', 'every day at 02:00'],
    ['30 22 * * 1-5', 'every Monday to Friday at 22:30'],
    ['0 3 * * 0', 'every Sunday at 03:00'],
    ['0 3 * * 6,7', 'every Saturday and Sunday at 03:00'],
    ['*/5 * * * *', 'every 5 minutes'],
    ['* * * * *', 'every minute'],
    ['0 * * * *', 'every hour'],
    ['15 * * * *', 'every hour at minute 15'],
    ['0 */6 * * *', 'every 6 hours at minute 0'],
    ['0 1,13 * * *', 'every day at 01:00 and 13:00'],
    ['0 4 1 * *', 'on the 1st of every month at 04:00'],
    ['0 4 22 * *', 'on the 22nd of every month at 04:00'],
    ['@daily', 'every day at 00:00'],
    ['@hourly', 'every hour'],
  ];
  for (const [expr, words] of cases) assert.equal(cronWords(expr), words, expr);
});

it('gives null for forms it does not know, and for nonsense', () => {
  for (const expr of ['0 2 * 1 *', '0 2 1 * 1', '0 2-4 * * *', '0 25 * * *', '0 2 * * 9', 'x', '0 2 * * * *', ''])
    assert.equal(cronWords(expr), null, expr);
});
