import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OcvaultError } from '../../src/errors/OcvaultError.js';
import { databaseError } from '../../src/sources/mysql/databaseError.js';
import { retryingDeadlocks } from '../../src/sources/mysql/loadTable.js';

const target = { host: '127.0.0.1', port: 3306, user: 'shop', password: 'secret', database: 'shop' };

/** What a load statement throws when the server picks it as a deadlock's victim (mysql2's error, through databaseError). */
function deadlock(): OcvaultError {
  const driver = Object.assign(new Error('Deadlock found when trying to get lock; try restarting transaction'), { code: 'ER_LOCK_DEADLOCK', errno: 1213, sqlMessage: 'Deadlock found when trying to get lock; try restarting transaction' });
  return databaseError(driver, { target, action: 'load', table: 'oc_order' });
}

test('deadlock retry: a load statement rolled back as a deadlock victim runs again, and its result is the load\'s', async () => {
  let calls = 0;
  const pauses: number[] = [];
  const result = await retryingDeadlocks(
    async () => {
      if (++calls < 3) throw deadlock();
      return 'loaded';
    },
    5,
    async (attempt) => {
      pauses.push(attempt);
    },
  );
  assert.equal(result, 'loaded');
  assert.equal(calls, 3);
  assert.deepEqual(pauses, [1, 2]);
});

test('deadlock retry: other failures are not retried, and a deadlock that keeps coming fails the load after the retries', async () => {
  let calls = 0;
  const lost = databaseError(Object.assign(new Error('gone'), { code: 'PROTOCOL_CONNECTION_LOST' }), { target, action: 'load', table: 'oc_order' });
  await assert.rejects(
    retryingDeadlocks(async () => {
      calls++;
      throw lost;
    }, 5, async () => undefined),
    (e) => e === lost,
  );
  assert.equal(calls, 1, 'a lost connection is not run again');
  calls = 0;
  await assert.rejects(
    retryingDeadlocks(async () => {
      calls++;
      throw deadlock();
    }, 2, async () => undefined),
    (e: unknown) => e instanceof OcvaultError && /Deadlock found/.test(e.message) && /oc_order/.test(e.message),
  );
  assert.equal(calls, 3, 'the first run and two retries');
});
