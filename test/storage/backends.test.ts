import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backendConformance } from './conformance.js';
import { LocalBackend } from '../../src/storage/LocalBackend.js';
import { MemoryBackend } from '../../src/storage/MemoryBackend.js';

backendConformance('local', async () => new LocalBackend(await mkdtemp(path.join(tmpdir(), 'ocv-local-'))), async (b) => rm((b as LocalBackend).root, { recursive: true, force: true }));
backendConformance('memory', async () => new MemoryBackend());

test('local: a save leaves no temporary file behind', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'ocv-local-'));
  try {
    const b = new LocalBackend(root);
    await b.create();
    await b.save('snapshots', 'x', Buffer.from('y'));
    assert.deepEqual(await readdir(path.join(root, 'tmp')), []);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
