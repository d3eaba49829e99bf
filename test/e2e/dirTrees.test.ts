import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { createServer, type Server } from 'node:net';
import * as path from 'node:path';
import { TestRepo, describeRun, expectCode, isRoot, NOBODY } from '../helpers/cli.js';
import { MiB, compareTrees, writeRandomFile, writeTree } from '../helpers/tree.js';
import { openRepo } from '../maintenance/fixtures.js';
import { backup, BackupAhead, type BackupOptions } from '../../src/ops/backup.js';
import type { Repository } from '../../src/repo/repository.js';

/**
 * An incremental backup takes a directory's tree as an earlier backup saved it when the
 * directory scans the same and its subdirectories' trees are the same (the local index
 * remembers them). Whatever changed, anywhere, must still reach the snapshot.
 */
describe('remembered directory trees', () => {
  let t: TestRepo;
  before(async () => {
    t = await TestRepo.create();
  });
  after(async () => {
    await t?.cleanup();
  });

  test('each backup of a chain of changes deep in a tree restores that state byte for byte', async () => {
    const src = t.path('chain');
    await writeTree(src, {
      'top.txt': 'top\n',
      'a/b/c/deep.txt': 'deep, version one\n',
      'a/b/c/other.txt': 'other\n',
      'a/b/sibling.txt': 'sibling\n',
      'a/d/keep.txt': 'keep\n',
      'e/f/leaf.txt': 'leaf\n',
    });
    await writeRandomFile(path.join(src, 'a/b/c/big.bin'), 2 * MiB + 3);
    const first = await t.backup([src]);
    const files = first.stats.files;

    const unchanged = await t.backup([src]);
    assert.equal(unchanged.parent, first.id);
    assert.deepEqual([unchanged.stats.files, unchanged.stats.unchangedFiles, unchanged.stats.bytes, unchanged.stats.dirs], [files, files, first.stats.bytes, first.stats.dirs], JSON.stringify(unchanged.stats));
    assert.ok(unchanged.stats.addedBytes < 1024, `an unchanged backup added ${unchanged.stats.addedBytes} bytes`);
    await compareTrees(src, await t.restore(unchanged.id, t.path('r0')));

    const deep = path.join(src, 'a/b/c/deep.txt');
    const changes: [string, () => Promise<void>][] = [
      [
        'same size, mtime put back',
        async () => {
          const st = await fsp.stat(deep);
          await fsp.writeFile(deep, 'deep, version two\n');
          await fsp.utimes(deep, st.atime, st.mtime);
        },
      ],
      ['a new file three levels down', () => fsp.writeFile(path.join(src, 'a/b/c/new.txt'), 'new\n')],
      ['a file removed', () => fsp.rm(path.join(src, 'a/b/c/other.txt'))],
      ['a file renamed', () => fsp.rename(path.join(src, 'e/f/leaf.txt'), path.join(src, 'e/f/renamed.txt'))],
      [
        'a file replaced by a directory of the same name',
        async () => {
          await fsp.rm(path.join(src, 'a/d/keep.txt'));
          await fsp.mkdir(path.join(src, 'a/d/keep.txt'));
          await fsp.writeFile(path.join(src, 'a/d/keep.txt/inside.txt'), 'inside\n');
        },
      ],
      ['a directory renamed', () => fsp.rename(path.join(src, 'a/b/c'), path.join(src, 'a/b/c2'))],
      ['a mode changed', () => fsp.chmod(path.join(src, 'a/b/sibling.txt'), 0o600)],
      ['a new empty directory', () => fsp.mkdir(path.join(src, 'e/f/empty'))],
    ];
    for (const [i, [what, change]] of changes.entries()) {
      await change();
      const b = await t.backup([src]);
      await compareTrees(src, await t.restore(b.id, t.path(`r${i + 1}`)), {}).catch((e: Error) => assert.fail(`${what}: ${e.message}`));
      // the same tree once more, now remembered as it is
      const again = await t.backup([src]);
      assert.equal(again.stats.unchangedFiles, again.stats.files, `${what}: ${JSON.stringify(again.stats)}`);
      await compareTrees(src, await t.restore(again.id, t.path(`r${i + 1}-again`))).catch((e: Error) => assert.fail(`${what}, again: ${e.message}`));
    }
  });

  test('changing the excludes between backups changes what is saved', async () => {
    const src = t.path('excl');
    await writeTree(src, { 'keep.txt': 'keep\n', 'logs/app.log': 'log\n', 'sub/x.log': 'x\n', 'sub/y.txt': 'y\n' });
    const paths = async (id: string): Promise<string[]> => (await t.ls(id)).map((e) => e.path).sort();
    const withLogs = ['keep.txt', 'logs', 'logs/app.log', 'sub', 'sub/x.log', 'sub/y.txt'];
    const without = ['keep.txt', 'logs', 'sub', 'sub/y.txt'];
    assert.deepEqual(await paths((await t.backup([src], ['--exclude', '*.log'])).id), without);
    assert.deepEqual(await paths((await t.backup([src])).id), withLogs);
    assert.deepEqual(await paths((await t.backup([src], ['--exclude', '*.log'])).id), without);
    assert.deepEqual(await paths((await t.backup([src], ['--exclude', 'sub/*.log'])).id), ['keep.txt', 'logs', 'logs/app.log', 'sub', 'sub/y.txt']);
    assert.deepEqual(await paths((await t.backup([src])).id), withLogs);
  });

  test('a socket is noted again by every backup, not only the first', async () => {
    const src = t.path('sock');
    await writeTree(src, { 'plain.txt': 'plain\n' });
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(path.join(src, 'app.sock'), resolve));
    try {
      for (let i = 0; i < 3; i++) {
        const r = await t.ok(['backup', src]);
        assert.match(r.stderr, /app\.sock: socket left out/, `backup ${i + 1}: ${describeRun(r)}`);
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  test('a backup after a prune never takes a tree whose files the prune removed', async () => {
    const src = t.path('pruned');
    await fsp.mkdir(path.join(src, 'big'), { recursive: true });
    await fsp.mkdir(path.join(src, 'live'), { recursive: true });
    await writeRandomFile(path.join(src, 'big/data.bin'), 20 * MiB);
    // kept throughout, so the first backup's pack of trees is mostly alive after the prune and is kept
    await writeRandomFile(path.join(src, 'live/keep.bin'), 30 * MiB);
    // the first backup remembers big/'s tree; the second leaves big/ out
    const first = await t.backup([src]);
    await t.backup([src], ['--exclude', 'big/']);
    // so once the first is forgotten and pruned, big/'s data is gone from the repository
    await t.ok(['forget', first.id, '--prune']);
    const third = await t.backup([src]);
    assert.equal(third.stats.newFiles, 1, `big/data.bin was read again: ${JSON.stringify(third.stats)}`);
    await compareTrees(src, await t.restore(third.id, t.path('r-pruned')));
    await t.ok(['check', '--read-data']);
  });

  test('several paths in one snapshot: a change under one of them reaches the snapshot', async () => {
    const a = t.path('multi', 'a');
    const b = t.path('multi', 'b');
    await writeTree(a, { 'x/1.txt': 'one\n', '2.txt': 'two\n' });
    await writeTree(b, { 'y/z/3.txt': 'three\n' });
    const first = await t.backup([a, b]);
    const same = await t.backup([a, b]);
    assert.deepEqual([same.stats.files, same.stats.unchangedFiles, same.stats.dirs], [first.stats.files, first.stats.files, first.stats.dirs]);
    await fsp.writeFile(path.join(b, 'y/z/3.txt'), 'three, changed\n');
    const changed = await t.backup([a, b]);
    assert.equal(changed.stats.changedFiles, 1, JSON.stringify(changed.stats));
    const target = await t.restore(changed.id, t.path('r-multi'));
    await compareTrees(a, path.join(target, 'a'));
    await compareTrees(b, path.join(target, 'b'));
  });

  test('a deleted cache only costs time: the next incremental backup is whole', async () => {
    const src = t.path('nocache');
    await writeTree(src, { 'x/y/z.txt': 'z\n', 'w.txt': 'w\n' });
    await t.backup([src]);
    await fsp.rm(t.cache, { recursive: true, force: true });
    await fsp.writeFile(path.join(src, 'x/y/new.txt'), 'new\n');
    const b = await t.backup([src]);
    await compareTrees(src, await t.restore(b.id, t.path('r-nocache')));
  });
});

/**
 * A file left out with a warning must be warned about by every backup: its directory's tree
 * is not remembered. As root, permissions do not stop reads, so the backup runs as nobody.
 */
describe('remembered directory trees and unreadable files', () => {
  let t: TestRepo;
  before(async () => {
    t = await TestRepo.create(isRoot() ? NOBODY : {});
  });
  after(async () => {
    await t?.cleanup();
  });

  test('an unreadable file is named, with exit 3, by each backup', async () => {
    const src = t.path('src');
    await writeTree(src, { 'ok.txt': 'ok\n', 'sub/secret.txt': 'secret\n', 'sub/fine.txt': 'fine\n' });
    await fsp.chmod(path.join(src, 'sub/secret.txt'), 0o000);
    for (let i = 0; i < 3; i++) {
      const r = expectCode(await t.run(['backup', src]), 3);
      assert.match(r.stderr, /secret\.txt/, `backup ${i + 1} names the file`);
    }
  });
});

/**
 * What the remembered trees are for: a backup of an unchanged tree loads none of its parent's
 * trees, and a change deep down loads only those on its path (counted at Repository.loadBlob).
 */
describe('remembered directory trees spare the walk', () => {
  let t: TestRepo;
  before(async () => {
    t = await TestRepo.create();
  });
  after(async () => {
    await t?.cleanup();
  });

  async function backupCounting(opts: BackupOptions): Promise<{ loads: number; files: number; unchanged: number }> {
    const repo: Repository = await openRepo(t);
    try {
      const load = repo.loadBlob.bind(repo);
      let loads = 0;
      repo.loadBlob = (...args) => {
        loads++;
        return load(...args);
      };
      const r = await backup(repo, opts);
      return { loads, files: r.snapshot.stats!.files, unchanged: r.snapshot.stats!.unchangedFiles };
    } finally {
      await repo.close();
    }
  }

  test('an unchanged tree costs no tree of the parent; a deep change only the trees on its path', async () => {
    const src = t.path('wide');
    const spec: Record<string, string> = {};
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) for (let c = 0; c < 3; c++) spec[`d${a}/e${b}/f${c}.txt`] = `${a}.${b}.${c}\n`;
    await writeTree(src, spec);
    const opts: BackupOptions = { paths: [src], kind: 'incremental', tags: [], excludes: [] };
    const first = await backupCounting(opts);
    assert.equal(first.files, 48);

    const unchanged = await backupCounting(opts);
    assert.deepEqual(unchanged, { loads: 0, files: 48, unchanged: 48 });

    // as the command runs it: the trees listed while the repository opens
    const ahead = new BackupAhead([src], []);
    ahead.whileUnlocking({ snapshots: 1 });
    assert.deepEqual(await backupCounting({ ...opts, ahead }), { loads: 0, files: 48, unchanged: 48 });

    await fsp.writeFile(path.join(src, 'd2/e1/f0.txt'), 'changed\n');
    const changed = await backupCounting(opts);
    // the root's, d2's and d2/e1's trees, to compare their entries with
    assert.equal(changed.loads, 3, JSON.stringify(changed));
    assert.equal(changed.unchanged, 47);
  });
});
