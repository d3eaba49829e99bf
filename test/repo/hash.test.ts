import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createBLAKE3 } from 'hash-wasm';
import { blake3, prepareHashKey } from '../../src/repo/hash.js';

test('BLAKE3: keyed hashes match an independent implementation, with keys used in turn and inputs of every size', async () => {
  const h = await blake3();
  const keys = [randomBytes(32), randomBytes(32)];
  for (const k of keys) await prepareHashKey(k);
  const sizes = [0, 1, 63, 64, 65, 1023, 1024, 1025, 4096, 200_000, 1 << 20];
  // the same key again after another one: a reused hasher must start from that key each time
  for (const key of [keys[0]!, keys[1]!, keys[0]!]) {
    const reference = await createBLAKE3(256, key);
    for (const size of sizes) {
      const data = randomBytes(size);
      reference.init();
      reference.update(data);
      assert.equal(h.keyed(key, data).toString('hex'), reference.digest('hex'), `${h.implementation}, ${size} bytes`);
      // a key given as a view into a larger buffer is the same key
      const view = Buffer.concat([Buffer.alloc(5), key]).subarray(5);
      assert.equal(h.keyed(view, data).toString('hex'), h.keyed(key, data).toString('hex'));
    }
  }
  const plain = await createBLAKE3(256);
  const parts = [randomBytes(10), randomBytes(70_000), randomBytes(3)];
  plain.init();
  for (const p of parts) plain.update(p);
  const expected = plain.digest('hex');
  assert.equal(h.plainParts(parts).toString('hex'), expected);
  assert.equal(h.plain(Buffer.concat(parts)).toString('hex'), expected);
  const inc = await h.plainHasher();
  inc.update(randomBytes(100));
  inc.reset();
  for (const p of parts) inc.update(p);
  assert.equal(inc.digest().toString('hex'), expected, 'reset starts over');
});
