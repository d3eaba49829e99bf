import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { TestRepo, describeRun, isRoot, NOBODY, type BackupResult } from '../helpers/cli.js';
import { buildFixtureTree, compareTrees, listTree, lsMode, lsMtimeMs, sha256File, writeTree, type FixtureTree } from '../helpers/tree.js';

const HEX64 = /^[0-9a-f]{64}$/;

describe('round trip of a tree with every kind of entry', () => {
  let t: TestRepo;
  let fx: FixtureTree;
  let first: BackupResult;

  before(async () => {
    t = await TestRepo.create();
    fx = await buildFixtureTree(t.path('src'));
    first = await t.backup([fx.root]);
  });
  after(async () => {
    await t?.cleanup();
  });

  test('backup --json reports the snapshot and what it covered', () => {
    assert.match(first.id, HEX64);
    assert.ok(['full', 'incremental'].includes(first.kind), `kind ${first.kind}`);
    assert.equal(first.parent, null, 'a first backup has no parent');
    const s = first.stats;
    assert.equal(s.files, fx.files, 'stats.files');
    assert.ok(s.dirs === fx.dirs || s.dirs === fx.dirs + 1, `stats.dirs ${s.dirs}, tree has ${fx.dirs} (+1 for the root)`);
    assert.equal(s.bytes, fx.bytes, 'stats.bytes');
    assert.equal(s.newFiles, fx.files, 'every file is new');
    assert.equal(s.unchangedFiles, 0);
    assert.equal(s.errors, 0);
    assert.ok(s.addedBlobs > 0);
    // mostly incompressible random data: added bytes are about the content size
    assert.ok(s.addedBytes > 3 * 1024 * 1024 && s.addedBytes < fx.bytes * 1.1 + 1024 * 1024, `addedBytes ${s.addedBytes} for ${fx.bytes} bytes`);
    assert.ok(typeof s.durationMs === 'number' && s.durationMs >= 0);
    assert.deepEqual(first.warnings, []);
  });

  test('restore latest into a new directory: bytes, modes, mtimes, symlinks, empty dirs, odd names', async () => {
    const target = await t.restore('latest', t.path('restore-latest'));
    await compareTrees(fx.root, target);
    // spot checks, in case both trees were somehow wrong in the same way
    assert.equal((await fsp.readlink(path.join(target, fx.names.danglingLink))), 'does/not/exist');
    assert.equal((await fsp.readlink(path.join(target, fx.names.dirLink))), '../a');
    assert.ok((await fsp.lstat(path.join(target, fx.names.dirLink))).isSymbolicLink());
    assert.equal((await fsp.stat(path.join(target, fx.names.emptyFile))).size, 0);
    assert.deepEqual(await fsp.readdir(path.join(target, fx.names.emptyDir)), []);
    assert.equal((await fsp.stat(path.join(target, fx.names.roDir))).mode & 0o7777, 0o555);
    assert.equal(await sha256File(path.join(target, fx.names.random)), await sha256File(path.join(fx.root, fx.names.random)));
    const uni = await fsp.readdir(path.join(target, 'unicode'));
    assert.ok(uni.includes('caf\u00e9.txt') && uni.includes('cafe\u0301.txt'), 'NFC and NFD names both kept, not normalised');
  });

  test('restore under a strict umask (077) still gives every mode back', async () => {
    const target = await t.restore(first.id, t.path('restore-umask'), [], { umask: 0o077 });
    await compareTrees(fx.root, target);
  });

  test('restore by full id and by unique id prefix into an existing empty directory', async () => {
    const t1 = t.path('restore-id');
    await fsp.mkdir(t1);
    await t.restore(first.id, t1);
    await compareTrees(fx.root, t1);
    const t2 = t.path('restore-prefix');
    await fsp.mkdir(t2);
    await t.restore(first.id.slice(0, 10), t2);
    await compareTrees(fx.root, t2);
  });

  test('restore over a target where a link and a file stand in place of directories: both replaced, the link never followed', async () => {
    const target = t.path('restore-in-the-way');
    const outside = t.path('outside-the-target');
    await fsp.mkdir(outside);
    await fsp.writeFile(path.join(outside, 'keep.txt'), 'untouched');
    await fsp.mkdir(target);
    // 'a' (with a/b/... below it) is a link out of the target; 'unicode' is a plain file
    await fsp.symlink(outside, path.join(target, 'a'));
    await fsp.writeFile(path.join(target, 'unicode'), 'a file where a directory goes');
    await t.restore('latest', target);
    await compareTrees(fx.root, target);
    assert.ok((await fsp.lstat(path.join(target, 'a'))).isDirectory(), 'the link was replaced by a directory');
    assert.deepEqual(await fsp.readdir(outside), ['keep.txt'], 'nothing was written through the link');
    assert.equal(await fsp.readFile(path.join(outside, 'keep.txt'), 'utf8'), 'untouched');
  });

  test('ls --json lists every entry with type, size, mode and mtime', async () => {
    const ls = await t.ls(first.id);
    assert.ok(Array.isArray(ls));
    const entries = ls.filter((e) => e.path !== '' && e.path !== '.' && e.path !== '/');
    for (const e of entries) assert.ok(!e.path.startsWith('/') && !e.path.startsWith('./'), `ls path ${JSON.stringify(e.path)} is not relative to the snapshot root`);
    const src = await listTree(fx.root);
    assert.deepEqual(entries.map((e) => e.path).sort(), src.map((e) => e.path).sort(), 'ls lists exactly the entries of the tree');
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const problems: string[] = [];
    for (const s of src) {
      const e = byPath.get(s.path)!;
      if (e.type !== s.type) problems.push(`${s.path}: type ${e.type}, expected ${s.type}`);
      if (s.type === 'file' && e.size !== s.size) problems.push(`${s.path}: size ${e.size}, expected ${s.size}`);
      if (s.type !== 'symlink' && lsMode(e.mode) !== s.mode) problems.push(`${s.path}: mode ${String(e.mode)}, expected 0${s.mode.toString(8)}`);
      if (s.type !== 'symlink') {
        const ms = lsMtimeMs(e.mtime);
        const srcMs = Number(s.mtimeNs) / 1e6;
        if (Math.abs(ms - srcMs) >= 1) problems.push(`${s.path}: mtime ${String(e.mtime)}, expected ${new Date(srcMs).toISOString()}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  test('ls SNAP PATH lists only that subtree', async () => {
    const ls = await t.ls('latest', 'a');
    const paths = ls.map((e) => e.path);
    assert.ok(paths.length > 0, 'ls a lists something');
    for (const p of paths) assert.ok(p === 'a' || p.startsWith('a/'), `${JSON.stringify(p)} is outside a/`);
    assert.ok(paths.includes('a/top.txt') && paths.includes('a/b'), `direct children of a listed: ${JSON.stringify(paths)}`);
    const top = ls.find((e) => e.path === 'a/top.txt')!;
    assert.equal(top.type, 'file');
    assert.equal(top.size, 'top of a\n'.length);
  });

  test('restore --include restores only the matching files', async () => {
    const target = t.path('restore-include');
    await t.restore(first.id, target, ['--include', '*.txt', '--include', 'modes/m0*']);
    const src = await listTree(fx.root);
    const want = src
      .filter((e) => e.type === 'file' && (path.posix.basename(e.path).endsWith('.txt') || /^modes\/m0[^/]*$/.test(e.path)))
      .map((e) => e.path)
      .sort();
    assert.ok(want.includes(fx.names.newline) && want.includes('modes/m0444') && want.includes('a/b/c/d/e/f/g/deep.txt'));
    const got = await listTree(target);
    assert.deepEqual(got.filter((e) => e.type !== 'dir').map((e) => e.path).sort(), want, 'exactly the matching files, no symlinks');
    const srcBy = new Map(src.map((e) => [e.path, e]));
    for (const g of got.filter((e) => e.type === 'file')) {
      const s = srcBy.get(g.path)!;
      assert.equal(await sha256File(path.join(target, g.path)), await sha256File(path.join(fx.root, g.path)), `${g.path} content`);
      assert.equal(g.mode, s.mode, `${g.path} mode`);
      assert.ok(Math.abs(Number(g.mtimeNs - s.mtimeNs)) < 1e6, `${g.path} mtime`);
    }
  });

  test('a snapshot of several paths restores one folder per path, by base name', async () => {
    const alpha = t.path('multi', 'alpha');
    const beta = t.path('multi', 'beta');
    const single = t.path('multi', 'single.txt');
    await writeTree(alpha, { 'one.txt': 'alpha one\n', 'deep/two.txt': 'alpha two\n', 'empty/': '' });
    await writeTree(beta, { 'one.txt': 'beta one (same name, other content)\n', 'x.bin': Buffer.alloc(70_000, 7) });
    await fsp.writeFile(single, 'a single file path\n');
    await fsp.chmod(single, 0o640);
    await fsp.utimes(single, 1_000_000_000.5, 1_000_000_000.5);
    const b = await t.backup([alpha, beta, single]);
    assert.equal(b.stats.files, 5);
    const target = await t.restore(b.id, t.path('restore-multi'));
    assert.deepEqual((await fsp.readdir(target)).sort(), ['alpha', 'beta', 'single.txt']);
    await compareTrees(alpha, path.join(target, 'alpha'));
    await compareTrees(beta, path.join(target, 'beta'));
    const st = await fsp.stat(path.join(target, 'single.txt'));
    assert.equal(await fsp.readFile(path.join(target, 'single.txt'), 'utf8'), 'a single file path\n');
    assert.equal(st.mode & 0o7777, 0o640);
    assert.equal(Math.round(st.mtimeMs), 1_000_000_000_500);
    // the alpha/beta split is also what ls shows
    const ls = (await t.ls(b.id)).map((e) => e.path);
    assert.ok(ls.includes('alpha/one.txt') && ls.includes('beta/one.txt') && ls.includes('single.txt'), JSON.stringify(ls));
  });

  test('a file name that is not valid UTF-8 round-trips byte for byte', async () => {
    const src = t.path('rawname');
    await fsp.mkdir(src);
    const raw = Buffer.concat([Buffer.from('bad-'), Buffer.from([0xff, 0xfe, 0x80]), Buffer.from('.bin')]);
    await fsp.writeFile(Buffer.concat([Buffer.from(src + '/'), raw]), 'latin garbage name\n');
    await fsp.writeFile(path.join(src, 'fine.txt'), 'fine\n');
    const b = await t.backup([src]);
    assert.equal(b.stats.files, 2);
    const target = await t.restore(b.id, t.path('restore-rawname'));
    const names = (await fsp.readdir(target, { encoding: 'buffer' })).map((n) => n.toString('hex')).sort();
    assert.deepEqual(names, [raw.toString('hex'), Buffer.from('fine.txt').toString('hex')].sort());
    const content = await fsp.readFile(Buffer.concat([Buffer.from(target + '/'), raw]), 'utf8');
    assert.equal(content, 'latin garbage name\n');
  });
});

describe('round trip as an unprivileged user', () => {
  // as root, modes never get in the way (a 0555 dir can still be written into); run the whole
  // round trip as nobody so restore must create a read-only directory's contents before its mode
  let t: TestRepo | undefined;
  after(async () => {
    await t?.cleanup();
  });

  test('backup and restore of the every-case tree as nobody', { skip: !isRoot() && 'runs only as root (as non-root the main round trip already is unprivileged)' }, async () => {
    t = await TestRepo.create(NOBODY);
    const fx = await buildFixtureTree(t.path('src'), { randomSize: 1024 * 1024 + 3 });
    // hand the tree to nobody, keeping modes and mtimes (chown can clear setgid: restore it)
    const entries = await listTree(fx.root);
    await fsp.lchown(fx.root, NOBODY.uid, NOBODY.gid);
    for (const e of entries) await fsp.lchown(path.join(fx.root, e.path), NOBODY.uid, NOBODY.gid);
    for (const e of entries) if (e.type !== 'symlink') await fsp.chmod(path.join(fx.root, e.path), e.mode);
    for (const e of entries) {
      const secs = Number(e.mtimeNs) / 1e9;
      if (e.type === 'symlink') await fsp.lutimes(path.join(fx.root, e.path), secs, secs);
      else await fsp.utimes(path.join(fx.root, e.path), secs, secs);
    }
    const b = await t.backup([fx.root]);
    assert.equal(b.stats.errors, 0);
    assert.equal(b.stats.files, fx.files);
    const target = await t.restore(b.id, t.path('restore'));
    await compareTrees(fx.root, target);
    const st = await fsp.stat(path.join(target, 'hello.txt'));
    assert.equal(st.uid, NOBODY.uid, 'restored by nobody');
  });
});

describe('more round trips', () => {
  let t: TestRepo;
  before(async () => {
    t = await TestRepo.create();
  });
  after(async () => {
    await t?.cleanup();
  });

  test('many small files (1000 in one directory, 10 directories of 50, 480 directories of 3)', { timeout: 170_000 }, async () => {
    const src = t.path('many');
    const flat = path.join(src, 'flat');
    await fsp.mkdir(flat, { recursive: true });
    for (let i = 0; i < 1000; i++) await fsp.writeFile(path.join(flat, `file-${String(i).padStart(5, '0')}.txt`), `content of file ${i}\n`.repeat(1 + (i % 13)));
    for (let d = 0; d < 10; d++) {
      const dir = path.join(src, 'nested', `d${d}`, 'x');
      await fsp.mkdir(dir, { recursive: true });
      for (let i = 0; i < 50; i++) await fsp.writeFile(path.join(dir, `f${i}`), `${d}/${i}\n`);
    }
    // wide and shallow: many directory walks wait at once for the queue of files to shrink
    for (let d = 0; d < 60; d++) {
      for (let e = 0; e < 8; e++) {
        const dir = path.join(src, 'wide', `w${d}`, `v${e}`);
        await fsp.mkdir(dir, { recursive: true });
        for (let i = 0; i < 3; i++) await fsp.writeFile(path.join(dir, `g${i}`), `${d}.${e}.${i}\n`);
      }
    }
    const b = await t.backup([src]);
    assert.equal(b.stats.files, 2940);
    const target = await t.restore(b.id, t.path('restore-many'));
    await compareTrees(src, target);
    const again = await t.backup([src]);
    assert.equal(again.stats.unchangedFiles, 2940);
  });

  test('changes of metadata alone deep in an otherwise unchanged tree reach the next snapshot', async () => {
    const src = t.path('meta');
    for (const d of ['a/b/c', 'a/b/d', 'e']) {
      await fsp.mkdir(path.join(src, d), { recursive: true });
      await fsp.writeFile(path.join(src, d, 'f.txt'), `file in ${d}\n`);
    }
    await t.backup([src]);
    // each change leaves every file's content as it was
    await fsp.chmod(path.join(src, 'a/b/c/f.txt'), 0o600);
    await fsp.utimes(path.join(src, 'a/b/d'), new Date('2001-02-03T04:05:06Z'), new Date('2001-02-03T04:05:06Z'));
    await fsp.mkdir(path.join(src, 'e', 'new-empty'));
    await fsp.symlink('f.txt', path.join(src, 'a', 'link'));
    const second = await t.backup([src]);
    assert.equal(second.stats.unchangedFiles, 2, 'the untouched files were not read again');
    await compareTrees(src, await t.restore(second.id, t.path('restore-meta')));
    // and a third backup of the same tree lists the same entries
    const third = await t.backup([src]);
    await compareTrees(src, await t.restore(third.id, t.path('restore-meta-3')));
  });

  test('two backed-up paths with the same base name: no data silently lost', async () => {
    const x = t.path('x', 'data');
    const y = t.path('y', 'data');
    await writeTree(x, { 'same.txt': 'from x\n', 'only-x.txt': 'x only\n' });
    await writeTree(y, { 'same.txt': 'from y\n', 'only-y.txt': 'y only\n' });
    const r = await t.run(['backup', x, y, '--json']);
    if (r.code !== 0) {
      // refusing is fine, with a clear message
      assert.ok(r.code === 1 || r.code === 2, describeRun(r));
      assert.match(r.stderr, /data|same name|base name|conflict/i);
      return;
    }
    const b = JSON.parse(r.stdout) as BackupResult;
    const target = await t.restore(b.id, t.path('restore-same-base'));
    const contents = new Set<string>();
    for (const e of await listTree(target)) if (e.type === 'file') contents.add(await fsp.readFile(path.join(target, e.path), 'utf8'));
    for (const want of ['from x\n', 'x only\n', 'from y\n', 'y only\n']) assert.ok(contents.has(want), `${JSON.stringify(want)} lost in the restore: ${JSON.stringify([...contents])}`);
  });

  test('timestamps at the edges: before 1970, the epoch itself, far future', async () => {
    const src = t.path('times');
    await writeTree(src, { 'pre-epoch.txt': 'moon landing\n', 'epoch.txt': 'zero\n', 'future.txt': '2100\n', 'dir/inner.txt': 'x\n' });
    await fsp.utimes(path.join(src, 'pre-epoch.txt'), -14_182_940.5, -14_182_940.5);
    await fsp.utimes(path.join(src, 'epoch.txt'), 0, 0);
    await fsp.utimes(path.join(src, 'future.txt'), 4_102_444_800.25, 4_102_444_800.25);
    await fsp.utimes(path.join(src, 'dir'), 1.75, 1.75);
    const b = await t.backup([src]);
    const target = await t.restore(b.id, t.path('restore-times'));
    await compareTrees(src, target);
  });

  test('restore --include of a directory restores its whole subtree', async () => {
    const src = t.path('inc');
    await writeTree(src, {
      'image/catalog/a.jpg': 'a\n',
      'image/catalog/sub/b.jpg': 'b\n',
      'image/catalog/empty/': '',
      'image/cache/c.jpg': 'c\n',
      'image/cache/empty/': '',
      'catalog.txt': 'not in the directory\n',
      'system/config.php': '<?php\n',
    });
    const b = await t.backup([src]);
    const target = await t.restore(b.id, t.path('restore-inc-dir'), ['--include', 'image/catalog']);
    const tree = await listTree(target);
    const got = tree.filter((e) => e.type !== 'dir').map((e) => e.path).sort();
    assert.deepEqual(got, ['image/catalog/a.jpg', 'image/catalog/sub/b.jpg']);
    // the directories on the way and the included one's own (an empty one too), no others
    assert.deepEqual(tree.filter((e) => e.type === 'dir').map((e) => e.path).sort(), ['image', 'image/catalog', 'image/catalog/empty', 'image/catalog/sub']);
    assert.equal(await fsp.readFile(path.join(target, 'image/catalog/sub/b.jpg'), 'utf8'), 'b\n');
  });
});
