import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CronError, nextRun, parseCron, validateCron } from '../../src/automation/cron.js';

const at = (y: number, mo: number, d: number, h = 0, mi = 0): Date => new Date(y, mo - 1, d, h, mi);
const iso = (d: Date): string => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')} ${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;

test('fields: lists, ranges, steps, names, 7 = Sunday', () => {
  const c = parseCron('*/15 9-17/4 1,15 jan-MAR mon-fri');
  assert.deepEqual([...c.minutes], [0, 15, 30, 45]);
  assert.deepEqual([...c.hours], [9, 13, 17]);
  assert.deepEqual([...c.days], [1, 15]);
  assert.deepEqual([...c.months], [1, 2, 3]);
  assert.deepEqual([...c.weekdays], [1, 2, 3, 4, 5]);
  assert.deepEqual([...parseCron('0 0 * * 7').weekdays], [0]);
  assert.deepEqual([...parseCron('5/20 * * * *').minutes], [5, 25, 45]);
});

test('nextRun: strictly after, to the minute', () => {
  assert.equal(iso(nextRun('0 2 * * *', at(2026, 3, 10, 1, 59))), '2026-03-10 02:00');
  assert.equal(iso(nextRun('0 2 * * *', at(2026, 3, 10, 2, 0))), '2026-03-11 02:00');
  assert.equal(iso(nextRun('* * * * *', new Date(2026, 2, 10, 2, 0, 30))), '2026-03-10 02:01');
});

test('nextRun: month and year rollover, leap day, last days', () => {
  assert.equal(iso(nextRun('0 0 1 * *', at(2026, 12, 15))), '2027-01-01 00:00');
  assert.equal(iso(nextRun('0 0 29 2 *', at(2026, 3, 1))), '2028-02-29 00:00');
  assert.equal(iso(nextRun('0 0 31 * *', at(2026, 4, 1))), '2026-05-31 00:00');
  assert.equal(iso(nextRun('@yearly', at(2026, 6, 1))), '2027-01-01 00:00');
  assert.equal(iso(nextRun('@hourly', at(2026, 6, 1, 23, 30))), '2026-06-02 00:00');
});

test('nextRun: weekdays, and either day field when both are restricted', () => {
  // 2026-03-14 is a Saturday
  assert.equal(iso(nextRun('30 2 * * 1-5', at(2026, 3, 14, 12))), '2026-03-16 02:30');
  assert.equal(iso(nextRun('@weekly', at(2026, 3, 14, 12))), '2026-03-15 00:00');
  // the 20th or any Monday: Monday 16th comes first
  assert.equal(iso(nextRun('0 0 20 * mon', at(2026, 3, 14))), '2026-03-16 00:00');
  assert.equal(iso(nextRun('0 0 20 * mon', at(2026, 3, 17))), '2026-03-20 00:00');
});

test('bad expressions name the field and the reason', () => {
  const cases: [string, RegExp][] = [
    ['61 * * * *', /minute 61 out of range 0-59/],
    ['* 24 * * *', /hour 24 out of range/],
    ['* * 0 * *', /day of month 0 out of range/],
    ['* * * 13 *', /month 13 out of range/],
    ['* * * * 8', /day of week 8 out of range/],
    ['* * * *', /expected 5 fields/],
    ['*/0 * * * *', /step "0" must be a positive number/],
    ['5-1 * * * *', /runs backwards/],
    ['x * * * *', /minute "x" is not a number/],
    ['@sometimes', /unknown shorthand/],
    ['1,,2 * * * *', /empty list item/],
  ];
  for (const [expr, re] of cases) {
    assert.throws(() => parseCron(expr), (e: unknown) => e instanceof CronError && re.test(e.message) && e.message.includes(`"${expr}"`), expr);
  }
  assert.throws(() => validateCron('0 0 31 2 *'), /never fires/);
});
