import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FileSlots } from '../../src/sources/files/fileSlots.js';

test('file slots: never more holders than slots, waiters served first come first served, across many rounds', async () => {
  const slots = new FileSlots(3);
  let holding = 0;
  let most = 0;
  const order: number[] = [];
  const job = async (i: number): Promise<void> => {
    const wait = slots.take();
    if (wait) await wait;
    order.push(i);
    holding++;
    most = Math.max(most, holding);
    await new Promise((resolve) => setImmediate(resolve));
    holding--;
    slots.give();
  };
  const jobs = Array.from({ length: 500 }, (_, i) => job(i));
  assert.equal(slots.waiting, 497, 'three take a slot at once, the rest wait');
  await Promise.all(jobs);
  assert.equal(most, 3);
  assert.deepEqual(order, Array.from({ length: 500 }, (_, i) => i));
  assert.equal(slots.waiting, 0);
  // every slot is free again: three more take one without waiting
  assert.equal(slots.take(), undefined);
  assert.equal(slots.take(), undefined);
  assert.equal(slots.take(), undefined);
  assert.ok(slots.take() instanceof Promise);
});
