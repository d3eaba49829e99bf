import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { nativeAddon } from '../../src/storage/nativeAddon.js';
import { readAhead } from '../../src/storage/readAhead.js';

test('readAhead: missing files, directories and FIFOs are ignored, and a FIFO never holds a thread-pool thread', async (t) => {
  if (!nativeAddon()?.prefetch) return t.skip('ocvault addon not built');
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
