// Tests of name globs.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { globToRegExp, isGlob, naturalCompare } from './glob.ts';

describe('globToRegExp', () => {
  const m = (g: string, s: string) => globToRegExp(g).test(s);
  it('matches stars, question marks and literals', () => {
    assert.ok(m('QA*', 'QA1') && m('QA*', 'QA') && !m('QA*', 'xQA1'));
    assert.ok(m('DOMAIN?', 'DOMAIN1') && !m('DOMAIN?', 'DOMAIN12'));
    assert.ok(m('TEST8', 'TEST8') && !m('TEST8', 'TEST80'));
  });
  it('supports character classes, ranges and negation', () => {
    assert.ok(m('TEST[89]', 'TEST8') && m('TEST[89]', 'TEST9') && !m('TEST[89]', 'TEST7'));
    assert.ok(m('db[a-c]', 'dbb') && !m('db[a-c]', 'dbd'));
    assert.ok(m('x[!0-9]', 'xa') && !m('x[!0-9]', 'x1'));
  });
  it('treats regex characters literally', () => {
    assert.ok(m('a.b', 'a.b') && !m('a.b', 'axb'));
    assert.ok(m('(x)+', '(x)+') && !m('(x)+', 'xx'));
    assert.ok(m('a[', 'a[') && m('a]', 'a]'));
  });
  it('tells globs from plain names and sorts naturally', () => {
    assert.ok(isGlob('QA*') && isGlob('T[89]') && !isGlob('TEST8'));
    assert.deepEqual(['QA10', 'QA2', 'QA1'].sort(naturalCompare), ['QA1', 'QA2', 'QA10']);
  });
});
