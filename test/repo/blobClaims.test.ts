import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { BlobClaims } from '../../src/repo/blobClaims.js';

test('blob claims: the first claim of an id wins, later ones see it taken, a full table says so', () => {
  const claims = BlobClaims.create(8);
  const ids = Array.from({ length: 4 }, () => randomBytes(32));
  for (const id of ids) assert.equal(claims.claim(id), 'claimed');
  for (const id of ids) assert.equal(claims.claim(id), 'taken');
  // ids that share the first 128 bits are one blob to the table; the rest of the id is not looked at
  const sibling = Buffer.concat([ids[0]!.subarray(0, 16), randomBytes(16)]);
  assert.equal(claims.claim(sibling), 'taken');
  assert.equal(claims.count, 4);
  assert.equal(claims.claim(randomBytes(32)), 'full', 'half of 8 slots are usable');
  assert.equal(claims.claim(ids[1]!), 'taken', 'a full table still knows what it holds');
});

test('blob claims: threads racing over the same ids claim each exactly once', async () => {
  const claims = BlobClaims.create(1 << 15);
  const ids = Array.from({ length: 12_000 }, () => randomBytes(32));
  const shared = new SharedArrayBuffer(ids.length * 32);
  ids.forEach((id, i) => new Uint8Array(shared).set(id, i * 32));
  const moduleUrl = new URL('../../src/repo/blobClaims.js', import.meta.url).href;
  const code = `
    const { workerData, parentPort } = require('node:worker_threads');
    import(workerData.moduleUrl).then(({ BlobClaims }) => {
      const claims = new BlobClaims(workerData.table);
      const ids = new Uint8Array(workerData.ids);
      const won = [];
      // every thread walks the ids from its own starting point, so all of them collide often
      const n = ids.length / 32;
      for (let k = 0; k < n; k++) {
        const i = (k + workerData.offset) % n;
        if (claims.claim(ids.subarray(i * 32, i * 32 + 32)) === 'claimed') won.push(i);
      }
      parentPort.postMessage(won);
    });`;
  const threads = [0, 1, 2].map((t) => new Worker(code, { eval: true, workerData: { moduleUrl, table: claims.buffer, ids: shared, offset: t * 17 } }));
  const won = await Promise.all(threads.map((w) => new Promise<number[]>((resolve, reject) => w.once('message', resolve).once('error', reject))));
  await Promise.all(threads.map((w) => w.terminate()));
  const all = won.flat();
  assert.equal(all.length, ids.length, 'no id claimed twice, none missed');
  assert.equal(new Set(all).size, ids.length);
  assert.equal(claims.count, ids.length);
});
