import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestRepo } from '../helpers/cli.js';
import { compareTrees, listTree, writeTree } from '../helpers/tree.js';

/**
 * Glob semantics under test: a pattern without '/' matches a base name at any depth; a pattern
 * with '/' is matched against the path relative to the backed-up root; a trailing '/' matches
 * directories only. An excluded directory takes its whole subtree with it.
 */
describe('backup --exclude', () => {
  let t: TestRepo;
  let src: string;
  let all: string[];
  let files: Set<string>;

  before(async () => {
    t = await TestRepo.create();
    src = t.path('src');
    await writeTree(src, {
      'keep.txt': 'keep\n',
      'app.log': 'log at the root\n',
      'sub/keep.txt': 'keep\n',
      'sub/deep/x.log': 'deep log\n',
      'sub/deep/keep.txt': 'keep\n',
      'dir.log/inner.txt': 'a directory whose name matches *.log\n',
      'logs/not-a-log.txt': 'keep\n',
      'cache/c1.bin': 'cache 1\n',
      'cache/nested/c2.bin': 'cache 2\n',
      'sub/cache/c3.bin': 'cache 3\n',
      'other/cache': 'a FILE named cache: a trailing-slash pattern must keep it\n',
      'other/sub/deep/keep.txt': 'same relative tail, other place: an anchored pattern must keep it\n',
      'image/cache/thumb.jpg': 'thumbnail\n',
      'image/catalog/photo.jpg': 'photo\n',
      'image/catalog/cache/inner.jpg': 'a cache dir inside catalog\n',
    });
    const entries = await listTree(src);
    all = entries.map((e) => e.path);
    files = new Set(entries.filter((e) => e.type === 'file').map((e) => e.path));
  });
  after(async () => {
    await t?.cleanup();
  });

  /** Back up with `patterns`, then check ls and a restore hold everything but `excluded` (and their subtrees). */
  async function check(patterns: string[], excluded: string[]): Promise<void> {
    for (const e of excluded) assert.ok(all.includes(e), `fixture has ${e}`);
    const isExcluded = (p: string): boolean => excluded.some((e) => p === e || p.startsWith(e + '/'));
    const want = all.filter((p) => !isExcluded(p)).sort();
    const b = await t.backup([src], patterns.flatMap((p) => ['--exclude', p]));
    const ls = (await t.ls(b.id)).map((e) => e.path).filter((p) => p !== '' && p !== '.' && p !== '/').sort();
    assert.deepEqual(ls, want, `ls after --exclude ${patterns.join(' --exclude ')}`);
    const target = await t.restore(b.id, t.path(`restore-${b.id.slice(0, 8)}`));
    const got = (await listTree(target)).map((e) => e.path).sort();
    assert.deepEqual(got, want, `restore after --exclude ${patterns.join(' --exclude ')}`);
    await compareTrees(src, target, { ignore: isExcluded });
    assert.equal(b.stats.files, want.filter((p) => files.has(p)).length, 'stats.files counts only what was kept');
  }

  test("'*.log' excludes files and directories with that base name at any depth", async () => {
    await check(['*.log'], ['app.log', 'sub/deep/x.log', 'dir.log']);
  });

  test("'cache/' excludes every directory named cache, but not a file named cache", async () => {
    await check(['cache/'], ['cache', 'sub/cache', 'image/cache', 'image/catalog/cache']);
  });

  test("'sub/deep' is anchored at the backed-up root", async () => {
    await check(['sub/deep'], ['sub/deep']);
  });

  test("'image/cache/' excludes only that directory", async () => {
    await check(['image/cache/'], ['image/cache']);
  });

  test('several patterns combine', async () => {
    await check(['*.log', 'cache/', '*.jpg'], ['app.log', 'sub/deep/x.log', 'dir.log', 'cache', 'sub/cache', 'image/cache', 'image/catalog/cache', 'image/catalog/photo.jpg']);
  });
});
