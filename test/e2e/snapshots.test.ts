import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TestRepo, dirSize, type BackupResult, type SnapshotInfo } from '../helpers/cli.js';
import { compareTrees, hashTree, writeTree } from '../helpers/tree.js';

/**
 * Full / incremental / differential: how parents are chosen and what each run re-reads; and that
 * every snapshot restores alone to the state it was taken of.
 */
describe('snapshots: kinds, parents, tags, time', () => {
  let t: TestRepo;
  let src: string;
  const made: Array<{ b: BackupResult; time: string; tags: string[]; hashes: Map<string, string> }> = [];

  async function take(extra: string[], time: string, tags: string[] = []): Promise<BackupResult> {
    const b = await t.backup([src], [...extra, '--time', time, ...tags.flatMap((x) => ['--tag', x])]);
    made.push({ b, time, tags, hashes: await hashTree(src) });
    return b;
  }
  /** change one file's content and give it a new mtime (so even a coarse change check sees it) */
  async function change(rel: string, content: string, when: string): Promise<void> {
    await fsp.writeFile(path.join(src, rel), content);
    await fsp.utimes(path.join(src, rel), new Date(when), new Date(when));
  }

  before(async () => {
    t = await TestRepo.create();
    src = t.path('store');
    await writeTree(src, {
      'a.txt': 'a v1\n',
      'b.txt': 'b v1\n',
      'c.txt': 'c v1\n',
      'sub/d.txt': 'd v1\n',
      'sub/e.txt': 'e v1\n',
    });
  });
  after(async () => {
    await t?.cleanup();
  });

  test('full, then incrementals: each parent is the previous snapshot; only changed files are re-read', async () => {
    const full = await take(['--type', 'full'], '2026-01-04T03:00:00.000Z', ['weekly', 'before-upgrade']);
    assert.equal(full.kind, 'full');
    assert.equal(full.parent, null);
    assert.equal(full.stats.files, 5);

    await change('a.txt', 'a v2 (longer)\n', '2026-01-04T10:00:00Z');
    const inc1 = await take([], '2026-01-05T03:00:00.000Z', ['daily']);
    assert.equal(inc1.kind, 'incremental');
    assert.equal(inc1.parent, full.id);
    assert.equal(inc1.stats.changedFiles, 1);
    assert.equal(inc1.stats.unchangedFiles, 4);
    assert.equal(inc1.stats.newFiles, 0);

    await change('sub/d.txt', 'd v2\n', '2026-01-05T10:00:00Z');
    await fsp.writeFile(path.join(src, 'new.txt'), 'new file\n');
    const inc2 = await take(['--type', 'incremental'], '2026-01-06T03:00:00.000Z');
    assert.equal(inc2.kind, 'incremental');
    assert.equal(inc2.parent, inc1.id, 'an incremental compares with the latest snapshot');
    assert.equal(inc2.stats.changedFiles, 1);
    assert.equal(inc2.stats.newFiles, 1);
    assert.equal(inc2.stats.unchangedFiles, 4);
  });

  test('differential: parent is the latest full, changes counted against it', async () => {
    const [full] = made;
    const diff = await take(['--type', 'differential'], '2026-01-07T03:00:00.000Z');
    assert.equal(diff.kind, 'differential');
    assert.equal(diff.parent, full!.b.id, 'a differential compares with the latest full');
    // against the full: a.txt and sub/d.txt changed, new.txt is new, b, c, e unchanged
    assert.equal(diff.stats.changedFiles, 2, JSON.stringify(diff.stats));
    assert.equal(diff.stats.newFiles, 1, JSON.stringify(diff.stats));
    assert.equal(diff.stats.unchangedFiles, 3, JSON.stringify(diff.stats));

    const full2 = await take(['--type', 'full'], '2026-01-11T03:00:00.000Z', ['weekly']);
    assert.equal(full2.kind, 'full');
    assert.equal(full2.stats.unchangedFiles, 0);
    await change('c.txt', 'c v2\n', '2026-01-11T10:00:00Z');
    const diff2 = await take(['--type', 'differential'], '2026-01-12T03:00:00.000Z');
    assert.equal(diff2.parent, full2.id, 'the newest full is the parent');
    assert.equal(diff2.stats.changedFiles, 1);
  });

  test('snapshots --json lists every snapshot with id, time, host, kind, parent, tags, paths, addedBytes, stats', async () => {
    const list = await t.snapshots();
    assert.equal(list.length, made.length);
    const byId = new Map(list.map((s) => [s.id, s]));
    for (const m of made) {
      const s = byId.get(m.b.id) as SnapshotInfo | undefined;
      assert.ok(s, `snapshot ${m.b.id} listed`);
      assert.match(s.id, /^[0-9a-f]{64}$/);
      assert.ok(typeof s.shortId === 'string' && s.shortId.length >= 6 && s.id.startsWith(s.shortId), `shortId ${s.shortId}`);
      assert.equal(Date.parse(s.time), Date.parse(m.time), `--time ${m.time} recorded (got ${s.time})`);
      assert.equal(s.host, os.hostname());
      assert.equal(s.kind, m.b.kind);
      assert.equal(s.parent ?? null, m.b.parent);
      assert.deepEqual([...s.tags].sort(), [...m.tags].sort());
      assert.deepEqual(s.paths, [src]);
      assert.equal(typeof s.addedBytes, 'number');
      assert.equal(s.addedBytes, m.b.stats.addedBytes);
      assert.equal(s.stats.files, m.b.stats.files);
    }
  });

  test('every snapshot restores alone to the state it was taken of', async () => {
    for (const m of made) {
      const target = await t.restore(m.b.id, t.path(`restore-${m.b.id.slice(0, 8)}`));
      const got = await hashTree(target);
      assert.deepEqual([...got.entries()].sort(), [...m.hashes.entries()].sort(), `snapshot of ${m.time}`);
    }
  });

  test('latest is the newest by time; a unique id prefix works', async () => {
    const last = made[made.length - 1]!;
    const ls = await t.ls('latest');
    const lsById = await t.ls(last.b.id.slice(0, 12));
    assert.deepEqual(ls, lsById);
    assert.ok(ls.some((e) => e.path === 'new.txt'));
  });

  test('another path has its own chain: its first incremental has no parent', async () => {
    const other = t.path('other');
    await writeTree(other, { 'x.txt': 'other\n' });
    const b = await t.backup([other]);
    assert.equal(b.parent, null, 'parent is the latest snapshot of the same paths, not of the repository');
    const again = await t.backup([other]);
    assert.equal(again.parent, b.id);
  });

  test('stats --json', async () => {
    const s = await t.stats();
    assert.equal(s.snapshots, made.length + 2);
    assert.ok(s.packs >= 1, `packs ${s.packs}`);
    assert.ok(s.blobs >= 7, `blobs ${s.blobs}`);
    assert.ok(s.storedBytes > 0 && s.storedBytes <= (await dirSize(t.repo)), `storedBytes ${s.storedBytes}`);
  });
});

describe('change detection and path identity', () => {
  let t: TestRepo;
  let src: string;
  before(async () => {
    t = await TestRepo.create();
    src = t.path('site');
    await writeTree(src, { 'same-size.txt': 'AAAA version one\n', 'becomes-dir': 'a file for now\n', 'link-target-a': 'a\n', 'link-target-b': 'b\n' });
    await fsp.symlink('link-target-a', path.join(src, 'link'));
  });
  after(async () => {
    await t?.cleanup();
  });

  test('a relative path, an absolute path and a trailing slash are the same path: one parent chain', async () => {
    const b1 = await t.backup(['.'], [], [0], { cwd: src });
    const b2 = await t.backup([src + '/']);
    const b3 = await t.backup([path.basename(src)], [], [0], { cwd: path.dirname(src) });
    assert.equal(b2.parent, b1.id, 'backup of SRC/ after backup of . (cwd SRC)');
    assert.equal(b3.parent, b2.id);
    assert.equal(b3.stats.unchangedFiles, b3.stats.files);
    const snaps = await t.snapshots();
    for (const s of snaps) assert.deepEqual(s.paths, [src], `paths recorded as the absolute path: ${JSON.stringify(s.paths)}`);
    const target = await t.restore(b1.id, t.path('restore-rel'));
    assert.equal(await fsp.readFile(path.join(target, 'same-size.txt'), 'utf8'), 'AAAA version one\n');
  });

  test('same size, same mtime, new content: the ctime change makes the incremental re-read it', async () => {
    const f = path.join(src, 'same-size.txt');
    await fsp.utimes(f, 1_600_000_000, 1_600_000_000);
    const b0 = await t.backup([src]);
    assert.equal(b0.stats.changedFiles, 1, 'the mtime change alone is seen');
    const st = await fsp.stat(f, { bigint: true });
    await fsp.writeFile(f, 'BBBB version two\n');
    await fsp.utimes(f, 1_600_000_000, 1_600_000_000);
    const after = await fsp.stat(f, { bigint: true });
    assert.equal(after.size, st.size);
    assert.equal(after.mtimeNs, st.mtimeNs);
    assert.notEqual(after.ctimeNs, st.ctimeNs);
    const b = await t.backup([src]);
    assert.equal(b.parent, b0.id);
    assert.equal(b.stats.changedFiles, 1, JSON.stringify(b.stats));
    const target = await t.restore(b.id, t.path('restore-ctime'));
    assert.equal(await fsp.readFile(path.join(target, 'same-size.txt'), 'utf8'), 'BBBB version two\n');
  });

  test('a file that becomes a directory, a symlink that changes target: both snapshots restore what they saw', async () => {
    const before = (await t.snapshots()).length;
    const b1 = await t.backup([src]);
    await fsp.rm(path.join(src, 'becomes-dir'));
    await writeTree(path.join(src, 'becomes-dir'), { 'inner.txt': 'now a directory\n' });
    await fsp.rm(path.join(src, 'link'));
    await fsp.symlink('link-target-b', path.join(src, 'link'));
    const b2 = await t.backup([src]);
    assert.equal(b2.parent, b1.id);
    assert.equal((await t.snapshots()).length, before + 2);
    const r1 = await t.restore(b1.id, t.path('restore-type-1'));
    const r2 = await t.restore(b2.id, t.path('restore-type-2'));
    assert.equal(await fsp.readFile(path.join(r1, 'becomes-dir'), 'utf8'), 'a file for now\n');
    assert.equal(await fsp.readlink(path.join(r1, 'link')), 'link-target-a');
    assert.equal(await fsp.readFile(path.join(r2, 'becomes-dir', 'inner.txt'), 'utf8'), 'now a directory\n');
    assert.equal(await fsp.readlink(path.join(r2, 'link')), 'link-target-b');
    await compareTrees(src, r2);
  });
});
