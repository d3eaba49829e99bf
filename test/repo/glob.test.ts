import { test } from 'node:test';
import assert from 'node:assert/strict';
import { matchesPattern, parsePattern } from '../../src/sources/files/glob.js';

test('glob: base-name patterns match at any depth, anchored ones from the root, trailing / only dirs', () => {
  const m = (pat: string, p: string, dir = false): boolean => matchesPattern(parsePattern(pat), p, dir);
  assert.ok(m('*.log', 'error.log'));
  assert.ok(m('*.log', 'system/storage/logs/error.log'));
  assert.ok(!m('*.log', 'error.log.txt'));
  assert.ok(m('image/cache/', 'image/cache', true));
  assert.ok(!m('image/cache/', 'image/cache', false));
  assert.ok(!m('image/cache/', 'x/image/cache', true));
  assert.ok(m('/image/cache', 'image/cache', true));
  assert.ok(m('cache/', 'system/storage/cache', true));
  assert.ok(m('**/cache', 'a/b/cache'));
  assert.ok(m('**/cache', 'cache'));
  assert.ok(m('a/**/z.txt', 'a/b/c/z.txt'));
  assert.ok(m('file?.[ch]', 'src/file1.c'));
  assert.ok(!m('file?.[ch]', 'src/file10.c'));
  assert.ok(m('[!a]*', 'bcd'));
  assert.ok(!m('[!a]*', 'abc'));
  assert.ok(m('a.b', 'a.b') && !m('a.b', 'axb'));
});
