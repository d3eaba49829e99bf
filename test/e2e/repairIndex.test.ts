import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TestRepo, type BackupResult } from '../helpers/cli.js';
import { MiB, buildFixtureTree, compareTrees, writeRandomFile, type FixtureTree } from '../helpers/tree.js';

/** `repair index` rebuilds the index segments from the pack headers alone. */
describe('repair index', () => {
  let t: TestRepo;
  let fx: FixtureTree;
  let b1: BackupResult;
  let b2: BackupResult;

  before(async () => {
    t = await TestRepo.create();
    fx = await buildFixtureTree(t.path('src'), { randomSize: 5 * MiB });
    b1 = await t.backup([fx.root]);
    await writeRandomFile(path.join(fx.root, 'added.bin'), 2 * MiB + 3);
    b2 = await t.backup([fx.root]);
  });
  after(async () => {
    await t?.cleanup();
  });

  test('with every index segment and the cache gone, repair index makes the repository whole again', async () => {
    const indexDir = path.join(t.repo, 'index');
    const segs = await fsp.readdir(indexDir);
    assert.ok(segs.length > 0, 'backups wrote index segments');
    for (const s of segs) await fsp.rm(path.join(indexDir, s), { force: true });
    await fsp.rm(t.cache, { recursive: true, force: true });

    await t.ok(['repair', 'index']);
    assert.ok((await fsp.readdir(indexDir)).length > 0, 'repair index wrote new segments');

    const snaps = await t.snapshots();
    assert.deepEqual(snaps.map((s) => s.id).sort(), [b1.id, b2.id].sort());

    const r2 = await t.restore(b2.id, t.path('restore-2'));
    await compareTrees(fx.root, r2);
    const r1 = await t.restore(b1.id, t.path('restore-1'));
    await compareTrees(fx.root, r1, { ignore: (p) => p === 'added.bin' });
    await assert.rejects(fsp.lstat(path.join(r1, 'added.bin')), 'the first snapshot has no added.bin');
  });

  test('after the repair, the index knows every blob: an unchanged backup adds nothing', async () => {
    await fsp.rm(t.cache, { recursive: true, force: true });
    const b = await t.backup([fx.root], ['--type', 'full']);
    assert.ok(b.stats.addedBytes < fx.bytes * 0.01, `addedBytes ${b.stats.addedBytes} after repair`);
    const stats = await t.stats();
    assert.equal(stats.snapshots, 3);
  });
});
