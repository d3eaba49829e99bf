import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pageOffsetOf, readSlack, SLOW_DISTANCE } from '../../src/storage/copyDistance.js';

test('readSlack: a read placed by it lies 0 or at least SLOW_DISTANCE bytes past its source within a page, moved less than that', () => {
  for (let dest = 0; dest < 4096; dest += 3) {
    for (const pos of [0, 1, 15, 16, 17, 31, 32, 63, 64, 4000, 4095, 4096, 1_048_576 + 77, 16 * 1_048_576 - 5]) {
      const slack = readSlack(dest, pos);
      assert.ok(slack >= 0 && slack < SLOW_DISTANCE, `slack ${slack}`);
      const distance = (((dest + slack - pos) % 4096) + 4096) % 4096;
      assert.ok(distance === 0 || distance >= SLOW_DISTANCE, `dest ${dest}, pos ${pos}: distance ${distance}`);
      // a placement that is already fast is left alone
      const before = (((dest - pos) % 4096) + 4096) % 4096;
      if (before === 0 || before >= SLOW_DISTANCE) assert.equal(slack, 0);
    }
  }
});

test('pageOffsetOf: the offset of a view within its page, from the addon (when it is built)', (t) => {
  const buf = Buffer.allocUnsafeSlow(3 * 4096);
  const base = pageOffsetOf(buf);
  if (base === undefined) return t.skip('ocvault addon not built');
  assert.ok(base >= 0 && base < 4096);
  for (const at of [1, 100, 4095, 4096, 5000]) assert.equal(pageOffsetOf(buf.subarray(at)), (base + at) % 4096);
});
