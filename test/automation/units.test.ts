import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCron } from '../../src/automation/cron.js';
import { onCalendar } from '../../src/automation/scheduleUnits.js';
import { Redactor } from '../../src/automation/secrets.js';
import { runHook } from '../../src/automation/hooks.js';

test('cron → systemd OnCalendar, with cron\'s either-day rule as two lines', () => {
  assert.deepEqual(onCalendar(parseCron('0 2 * * *')), ['*-*-* 02:00:00']);
  assert.deepEqual(onCalendar(parseCron('*/30 * * * mon-fri')), ['Mon,Tue,Wed,Thu,Fri *-*-* *:00,30:00']);
  assert.deepEqual(onCalendar(parseCron('0 4 1 * *')), ['*-*-01 04:00:00']);
  assert.deepEqual(onCalendar(parseCron('0 0 15 jan sun')), ['*-01-15 00:00:00', 'Sun *-01-* 00:00:00']);
});

test('the redactor removes known secrets and URL passwords', () => {
  const r = new Redactor();
  r.add('p@ss word');
  assert.equal(r.redact('login with p@ss word failed; url mysql://u:p%40ss%20word@h/db'), 'login with *** failed; url mysql://u:***@h/db');
  assert.equal(r.redact('https://user:other@example.com/x'), 'https://user:***@example.com/x');
});

test('hooks: exit status, output and timeout', async () => {
  const ok = await runHook('echo "$OCVAULT_JOB"', 5000, { OCVAULT_JOB: 'j1' });
  assert.equal(ok.ok, true);
  assert.equal(ok.output, 'j1');
  const bad = await runHook('echo oops >&2; exit 4', 5000);
  assert.equal(bad.ok, false);
  assert.equal(bad.code, 4);
  const slow = await runHook('sleep 10', 200);
  assert.equal(slow.ok, false);
  assert.equal(slow.timedOut, true);
  assert.ok(slow.durationMs < 5000);
});
