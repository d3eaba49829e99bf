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

test('readAhead: missing files, directories and FIFOs are ignored, and a FIFO never holds a thread-pool thread', async (t) => {
  const { nativeAddon } = await import('../../src/storage/nativeAddon.js');
  if (!nativeAddon()?.prefetch) return t.skip('ocvault addon not built');
  const { readAhead } = await import('../../src/storage/readAhead.js');
  const { execFileSync } = await import('node:child_process');
  const { mkdtemp, readFile, rm, writeFile } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const dir = await mkdtemp(join(tmpdir(), 'ocvault-ra-'));
  try {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await writeFile(join(dir, 'f'), 'content');
    // more jobs than the thread pool has threads: were a FIFO opened for reading without
    // O_NONBLOCK, every thread would wait for a writer and the read below would never finish
    for (let i = 0; i < 8; i++) readAhead([fifo, join(dir, 'missing'), dir, Buffer.from(join(dir, 'f'))]);
    const read = readFile(join(dir, 'f'), 'utf8');
    const late = new Promise((_, reject) => setTimeout(() => reject(new Error('the thread pool is stuck')), 5000).unref());
    assert.equal(await Promise.race([read, late]), 'content');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
