import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { LocalIndex } from '../../src/repo/localIndex.js';
import type { PackEntry } from '../../src/repo/pack.js';

const hex = (n: number): string => randomBytes(n).toString('hex');

test('local index: findMany gives what find gives, across batches, for blobs in two packs, and leaves out unknown ids', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ocv-index-'));
  const index = LocalIndex.open(dir);
  try {
    // 600 blobs over three packs (more than two statements' worth), some stored twice
    const packs = [hex(32), hex(32), hex(32)];
    const entries: PackEntry[][] = [[], [], []];
    const ids: string[] = [];
    for (let i = 0; i < 600; i++) {
      const id = hex(32);
      ids.push(id);
      const e: PackEntry = { id, type: i % 7 === 0 ? 'tree' : 'data', offset: i * 100, length: 90 + (i % 5), rawLength: 200 + i };
      entries[i % 3]!.push(e);
      if (i % 50 === 0) entries[(i + 1) % 3]!.push({ ...e, offset: 99_000 + i });
    }
    index.addSegment(hex(32), { version: 1, supersedes: [], packs: packs.map((id, p) => ({ id, size: 1 << 20, blobs: entries[p]! })) });
    const unknown = [hex(32), hex(32)];
    const found = index.findMany([...ids, ...unknown, ids[0]!]);
    assert.equal(found.size, ids.length);
    for (const id of ids) assert.deepEqual(found.get(id), index.find(id), `blob ${id.slice(0, 8)}`);
    for (const id of unknown) assert.equal(found.has(id), false);
    assert.equal(index.findMany([]).size, 0);
    // a few ids at a time (a tree's subtrees) go through a smaller statement: blobs stored twice among them
    for (const n of [1, 3, 15, 16]) {
      const some = [ids[0]!, ...ids.slice(100, 100 + n - 1), unknown[0]!];
      const got = index.findMany(some);
      assert.equal(got.size, n, `${n} ids`);
      for (const id of some.slice(0, n)) assert.deepEqual(got.get(id), index.find(id), `${n} ids: blob ${id.slice(0, 8)}`);
    }
  } finally {
    index.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('local index: remembered directory trees are found only while indexed, kept while used, forgotten when unused or when blobs may have gone', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ocv-index-'));
  const index = LocalIndex.open(dir);
  try {
    const trees = [hex(32), hex(32), hex(32)];
    index.addSegment(hex(32), { version: 1, supersedes: [], packs: [{ id: hex(32), size: 1 << 20, blobs: trees.map((id, i) => ({ id, type: 'tree', offset: i * 100, length: 90, rawLength: 200 })) }] });
    const keys = [randomBytes(32), randomBytes(32), randomBytes(32), randomBytes(32)];
    const day = 24 * 3600;
    const t0 = 1_700_000_000;
    const row = (tree: string, files: number): { tree: string; files: number; bytes: number; dirs: number; used: number } => ({ tree, files, bytes: files * 10, dirs: files % 3, used: 0 });
    index.recordDirTrees(
      [
        { key: keys[0]!, tree: row(trees[0]!, 5) },
        { key: keys[1]!, tree: row(trees[1]!, 7) },
        { key: keys[2]!, tree: row(trees[2]!, 1) },
        // a tree no segment lists (a prune took it, say): never given out
        { key: keys[3]!, tree: row(hex(32), 2) },
      ],
      [],
      t0,
    );
    assert.deepEqual(index.dirTree(keys[0]!), { tree: trees[0], files: 5, bytes: 50, dirs: 2, used: t0 });
    assert.equal(index.dirTree(keys[3]!), undefined);
    assert.equal(LocalIndex.dirTreeStale(index.dirTree(keys[0]!)!, t0 + day - 1), false);
    assert.equal(LocalIndex.dirTreeStale(index.dirTree(keys[0]!)!, t0 + day), true);
    // 50 days on, the first is used; 70 days on, the others (unused for 70) are forgotten
    index.recordDirTrees([], [keys[0]!], t0 + 50 * day);
    index.recordDirTrees([], [keys[1]!], t0 + 70 * day);
    assert.equal(index.dirTree(keys[0]!)?.used, t0 + 50 * day);
    assert.equal(index.dirTree(keys[1]!)?.used, t0 + 70 * day);
    assert.equal(index.dirTree(keys[2]!), undefined);
    // a segment that supersedes another may have taken blobs with it: everything is forgotten
    index.addSegment(hex(32), { version: 1, supersedes: [hex(32)], packs: [] });
    assert.equal(index.dirTree(keys[0]!), undefined);
    index.recordDirTrees([{ key: keys[0]!, tree: row(trees[0]!, 5) }], [], t0);
    index.clearBlobs();
    assert.equal(index.dirTree(keys[0]!), undefined);
  } finally {
    index.close();
    await rm(dir, { recursive: true, force: true });
  }
});
