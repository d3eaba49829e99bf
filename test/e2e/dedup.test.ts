import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TestRepo, dirSize, type BackupResult } from '../helpers/cli.js';
import { MiB, compareTrees, sha256File, writeRandomFile, writeTree } from '../helpers/tree.js';

describe('deduplication between snapshots', () => {
  let t: TestRepo;
  let src: string;
  let bytes: number;
  let first: BackupResult;
  let repoAfterFirst: number;

  before(async () => {
    t = await TestRepo.create();
    src = t.path('src');
    await writeTree(src, {
      'docs/a.txt': 'alpha\n'.repeat(1000),
      'docs/b.txt': 'bravo\n'.repeat(3000),
      'empty/': '',
      'zero': '',
    });
    await fsp.mkdir(path.join(src, 'media'), { recursive: true });
    await writeRandomFile(path.join(src, 'media/big.bin'), 20 * MiB + 12345);
    await writeRandomFile(path.join(src, 'media/medium.bin'), 5 * MiB);
    for (let i = 0; i < 20; i++) await writeRandomFile(path.join(src, `media/small-${i}.bin`), 30_000 + i * 1000);
    bytes = 0;
    for (const f of ['docs/a.txt', 'docs/b.txt', 'zero', 'media/big.bin', 'media/medium.bin', ...Array.from({ length: 20 }, (_, i) => `media/small-${i}.bin`)]) {
      bytes += (await fsp.stat(path.join(src, f))).size;
    }
    first = await t.backup([src]);
    repoAfterFirst = await dirSize(t.repo);
  });
  after(async () => {
    await t?.cleanup();
  });

  test('the first backup stores about the data once', () => {
    assert.equal(first.stats.bytes, bytes);
    assert.ok(first.stats.addedBytes >= bytes * 0.95, `addedBytes ${first.stats.addedBytes} for ${bytes} bytes of mostly random data`);
    assert.ok(repoAfterFirst >= bytes * 0.95 && repoAfterFirst < bytes * 1.1 + 2 * MiB, `repository is ${repoAfterFirst} bytes for ${bytes} bytes of data`);
  });

  test('an unchanged incremental backup reads nothing and adds under 1%', async () => {
    const second = await t.backup([src]);
    assert.equal(second.kind, 'incremental');
    assert.equal(second.parent, first.id);
    assert.equal(second.stats.files, first.stats.files);
    assert.equal(second.stats.unchangedFiles, second.stats.files, 'every file unchanged');
    assert.equal(second.stats.newFiles, 0);
    assert.equal(second.stats.changedFiles, 0);
    assert.ok(second.stats.addedBytes < bytes * 0.01, `addedBytes ${second.stats.addedBytes} ≥ 1% of ${bytes}`);
    const growth = (await dirSize(t.repo)) - repoAfterFirst;
    assert.ok(growth < bytes * 0.01, `repository grew by ${growth} bytes (≥ 1% of ${bytes})`);
  });

  test('--type full re-reads every file yet adds almost nothing', async () => {
    const before = await dirSize(t.repo);
    const full = await t.backup([src], ['--type', 'full']);
    assert.equal(full.kind, 'full');
    assert.equal(full.stats.files, first.stats.files);
    assert.equal(full.stats.unchangedFiles, 0, 'a full backup trusts no metadata');
    assert.ok(full.stats.addedBytes < bytes * 0.01, `addedBytes ${full.stats.addedBytes}`);
    const growth = (await dirSize(t.repo)) - before;
    assert.ok(growth < bytes * 0.01, `repository grew by ${growth} bytes`);
  });

  test('a copy of a large file elsewhere in the tree adds almost nothing', async () => {
    await fsp.copyFile(path.join(src, 'media/big.bin'), path.join(src, 'docs/big-copy.bin'));
    const b = await t.backup([src]);
    assert.equal(b.stats.newFiles, 1);
    assert.ok(b.stats.addedBytes < 0.01 * 20 * MiB, `addedBytes ${b.stats.addedBytes} for a copy of a 20 MiB file`);
    const target = await t.restore(b.id, t.path('restore-copy'));
    await compareTrees(src, target);
    await fsp.rm(target, { recursive: true, force: true });
  });
});

describe('one changed byte in the middle of a 100 MiB file', () => {
  let t: TestRepo;
  before(async () => {
    t = await TestRepo.create();
  });
  after(async () => {
    await t?.cleanup();
  });

  test('adds about one chunk, and both versions restore', { timeout: 170_000 }, async () => {
    const src = t.path('src');
    await fsp.mkdir(src);
    const file = path.join(src, 'huge.bin');
    const size = 100 * MiB;
    await writeRandomFile(file, size);
    await fsp.writeFile(path.join(src, 'note.txt'), 'unchanged neighbour\n');
    const oldHash = await sha256File(file);
    const b1 = await t.backup([src]);
    assert.equal(b1.stats.bytes, size + 'unchanged neighbour\n'.length);

    // flip one byte in the middle; keep the size; move the mtime so change detection must see it
    const offset = 50 * MiB + 12_345;
    const fh = await fsp.open(file, 'r+');
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, offset);
    const oldByte = one[0]!;
    one[0] = oldByte ^ 0xff;
    await fh.write(one, 0, 1, offset);
    await fh.close();
    await fsp.utimes(file, new Date('2024-01-02T03:04:05.678Z'), new Date('2024-01-02T03:04:05.678Z'));
    const newHash = await sha256File(file);
    assert.notEqual(newHash, oldHash);

    const b2 = await t.backup([src]);
    assert.equal(b2.parent, b1.id);
    assert.equal(b2.stats.changedFiles, 1);
    assert.equal(b2.stats.unchangedFiles, 1);
    assert.ok(b2.stats.addedBytes > 0, 'the changed chunk was stored');
    assert.ok(b2.stats.addedBytes < 4 * MiB, `one changed byte added ${b2.stats.addedBytes} bytes (limit 4 MiB)`);

    const r2 = await t.restore(b2.id, t.path('restore-new'));
    assert.equal(await sha256File(path.join(r2, 'huge.bin')), newHash, 'the new snapshot restores the changed file');
    const fh2 = await fsp.open(path.join(r2, 'huge.bin'), 'r');
    await fh2.read(one, 0, 1, offset);
    await fh2.close();
    assert.equal(one[0], oldByte ^ 0xff, 'the changed byte is there');
    await fsp.rm(r2, { recursive: true, force: true });

    const r1 = await t.restore(b1.id, t.path('restore-old'));
    assert.equal(await sha256File(path.join(r1, 'huge.bin')), oldHash, 'the first snapshot still restores the old content');
    await fsp.rm(r1, { recursive: true, force: true });
  });
});

describe('low-entropy data', () => {
  let t: TestRepo;
  before(async () => {
    t = await TestRepo.create();
  });
  after(async () => {
    await t?.cleanup();
  });

  test('24 MiB of zeros (max-size, identical chunks) compresses and deduplicates, and restores exactly', async () => {
    const src = t.path('src');
    await fsp.mkdir(src);
    const fh = await fsp.open(path.join(src, 'zeros.img'), 'w');
    const zeros = Buffer.alloc(8 * MiB);
    for (let i = 0; i < 3; i++) await fh.write(zeros);
    await fh.close();
    await fsp.writeFile(path.join(src, 'tail.txt'), 'after the zeros\n');
    const b = await t.backup([src]);
    assert.equal(b.stats.bytes, 24 * MiB + 'after the zeros\n'.length);
    assert.ok(b.stats.addedBytes < 1 * MiB, `24 MiB of zeros added ${b.stats.addedBytes} bytes`);
    assert.ok((await dirSize(t.repo)) < 2 * MiB, 'the repository stays small');
    const target = await t.restore(b.id, t.path('restore'));
    await compareTrees(src, target);
  });
});
