import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TestRepo, type BackupResult } from '../helpers/cli.js';
import { MiB, buildFixtureTree, compareTrees, writeRandomFile, type FixtureTree } from '../helpers/tree.js';

/** The SQLite cache is only an index: deleting it must cost nothing but time. */
describe('deleting the cache', () => {
  let t: TestRepo;
  let fx: FixtureTree;
  let first: BackupResult;

  before(async () => {
    t = await TestRepo.create();
    fx = await buildFixtureTree(t.path('src'), { randomSize: 6 * MiB + 1 });
    first = await t.backup([fx.root]);
  });
  after(async () => {
    await t?.cleanup();
  });

  test('the cache lives in OCVAULT_CACHE_DIR and nowhere else', async () => {
    assert.ok((await fsp.readdir(t.cache)).length > 0, 'cache dir populated');
    assert.deepEqual(await fsp.readdir(t.path('xdg')), [], 'nothing written to XDG_CACHE_HOME/HOME');
  });

  test('after rm -rf of the cache, restore is still byte exact', async () => {
    await fsp.rm(t.cache, { recursive: true, force: true });
    const target = await t.restore('latest', t.path('restore-nocache'));
    await compareTrees(fx.root, target);
    const snaps = await t.snapshots();
    assert.deepEqual(snaps.map((s) => s.id), [first.id]);
  });

  test('after rm -rf of the cache, an unchanged backup still deduplicates against the repository', async () => {
    await fsp.rm(t.cache, { recursive: true, force: true });
    const b = await t.backup([fx.root]);
    assert.equal(b.parent, first.id);
    assert.ok(b.stats.addedBytes < fx.bytes * 0.01, `addedBytes ${b.stats.addedBytes} of ${fx.bytes}`);
    // and the whole-file re-read path too
    await fsp.rm(t.cache, { recursive: true, force: true });
    const full = await t.backup([fx.root], ['--type', 'full']);
    assert.equal(full.stats.unchangedFiles, 0);
    assert.ok(full.stats.addedBytes < fx.bytes * 0.01, `full backup without a cache added ${full.stats.addedBytes} of ${fx.bytes}`);
    const target = await t.restore(full.id, t.path('restore-full'));
    await compareTrees(fx.root, target);
  });

  test('a cache emptied of its files (directory kept) is rebuilt too', async () => {
    for (const n of await fsp.readdir(t.cache)) await fsp.rm(path.join(t.cache, n), { recursive: true, force: true });
    const target = await t.restore(first.id, t.path('restore-empty-cache'));
    await compareTrees(fx.root, target);
  });
});

/** Two machines (two caches) sharing one repository: each must see what the other wrote. */
describe('two caches on one repository', () => {
  let t: TestRepo;
  before(async () => {
    t = await TestRepo.create();
  });
  after(async () => {
    await t?.cleanup();
  });

  test('a cache that missed another machine\'s backups catches up: listing, dedup and restore', async () => {
    const cacheA = t.cache;
    const cacheB = t.path('cache-b');
    const a = t.path('machine-a');
    const b = t.path('machine-b');
    await fsp.mkdir(a);
    await fsp.mkdir(b);
    await writeRandomFile(path.join(a, 'shared.bin'), 8 * MiB);
    await writeRandomFile(path.join(a, 'a-only.bin'), 2 * MiB);
    await fsp.copyFile(path.join(a, 'shared.bin'), path.join(b, 'shared.bin'));
    await writeRandomFile(path.join(b, 'b-only.bin'), 2 * MiB);

    const ba = await t.backup([a]); // cache A
    const bb = await t.backup([b], [], [0], { env: { OCVAULT_CACHE_DIR: cacheB } }); // cache B, never saw A's run
    assert.ok(bb.stats.addedBytes < 3 * MiB, `B re-uploaded data A had already stored: added ${bb.stats.addedBytes}`);

    // A's cache is now stale: it must still list B's snapshot and restore it
    const snapsA = await t.snapshots();
    assert.deepEqual(snapsA.map((s) => s.id).sort(), [ba.id, bb.id].sort());
    const target = await t.restore(bb.id, t.path('restore-b-from-a'));
    await compareTrees(b, target);
    // and a new backup on A deduplicates against B's blobs
    await writeRandomFile(path.join(a, 'a-more.bin'), 1 * MiB);
    await fsp.copyFile(path.join(b, 'b-only.bin'), path.join(a, 'copy-of-b.bin'));
    const ba2 = await t.backup([a], [], [0], { env: { OCVAULT_CACHE_DIR: cacheA } });
    assert.ok(ba2.stats.addedBytes < 1.5 * MiB, `A re-uploaded blobs B had stored: added ${ba2.stats.addedBytes}`);
  });
});
