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

test('local: a ranged read after the object was replaced (saved over, or committed from a stage) sees the new bytes', async () => {
  const root = await mkdtemp(path.join(tmpdir(), 'ocv-local-'));
  try {
    const b = new LocalBackend(root);
    await b.create();
    const range = { offset: 2, length: 3 };
    await b.save('data', 'ab12', Buffer.from('0123456789'));
    assert.equal((await b.load('data', 'ab12', range)).toString(), '234');
    await b.save('data', 'ab12', Buffer.from('ABCDEFGHIJ'));
    assert.equal((await b.load('data', 'ab12', range)).toString(), 'CDE');
    const staged = await b.stage();
    await staged.append([Buffer.from('abcdefghij')]);
    await staged.commit('data', 'ab12');
    assert.equal((await b.load('data', 'ab12', range)).toString(), 'cde');
    await b.close();
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
