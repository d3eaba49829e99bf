import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileNodeFromRead, msOfNs, nodeFromStat, sameFileStat } from '../../src/sources/files/fileNode.js';
import type { TreeNode } from '../../src/repo/tree.js';

/** The exact answer, from BigInt nanoseconds: same size, mtime, ctime and inode as the parent's file. */
function unchanged(node: TreeNode, parent: TreeNode): boolean {
  return parent.type === 'file' && node.type === 'file' && parent.size === node.size && parent.mtimeNs === node.mtimeNs && parent.ctimeNs === node.ctimeNs && parent.inode === node.inode && Array.isArray(parent.content);
}

/**
 * An unchanged backup decides from a plain (number) lstat whether a file is the parent's: its
 * answer and the node it makes must be those of the exact BigInt path.
 */
test('file nodes: a plain lstat gives the same answer and the same node as the BigInt one, at any time', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'ocv-node-'));
  try {
    const stamps = ['1969-07-20 20:17:40.123456789', '1970-01-01 00:00:00', '1970-01-01 00:00:00.5', '2001-09-09 01:46:40.000000001', '2300-01-01 00:00:00.999999999'];
    const files = stamps.map((stamp, i) => {
      const f = path.join(dir, `f${i}`);
      writeFileSync(f, `content ${i}`);
      execFileSync('touch', ['-d', stamp, f]);
      return { f, stamp };
    });
    for (const { f, stamp } of files) {
      const big = lstatSync(f, { bigint: true });
      const plain = lstatSync(f);
      assert.equal(msOfNs(big.mtimeNs.toString()), plain.mtimeMs, `mtime of ${f}`);
      assert.equal(msOfNs(big.ctimeNs.toString()), plain.ctimeMs, `ctime of ${f}`);
      const parent = nodeFromStat(Buffer.from(path.basename(f)), 'file', big);
      parent.content = ['a'.repeat(64)];
      const again = nodeFromStat(Buffer.from(path.basename(f)), 'file', big);
      assert.ok(unchanged(again, parent));
      assert.ok(sameFileStat(plain, parent), `plain lstat of unchanged ${f}`);
      again.content = parent.content;
      // each field the comparison rests on, moved alone (a microsecond for the times)
      const plusUs = (ns: string): string => (BigInt(ns) + 1000n).toString();
      for (const moved of [{ inode: parent.inode! + 1 }, { size: parent.size! + 1 }, { mtimeNs: plusUs(parent.mtimeNs) }, { ctimeNs: plusUs(parent.ctimeNs!) }]) {
        assert.ok(!sameFileStat(plain, { ...parent, ...moved }), `${JSON.stringify(moved)} of ${f}`);
      }
      // a node from the stat a worker reads a file under (as blobWorker's statOf gives it) is
      // the lstat's, as JSON, key order included: an unchanged directory keeps its tree id
      const read = { mode: Number(big.mode & 0o7777n), mtimeNs: big.mtimeNs.toString(), ctimeNs: big.ctimeNs.toString(), inode: Number(big.ino), uid: Number(big.uid), gid: Number(big.gid) };
      const fromRead = fileNodeFromRead(Buffer.from(path.basename(f)), read, Number(big.size));
      fromRead.content = parent.content;
      assert.equal(JSON.stringify(fromRead), JSON.stringify(again));
      // a rewrite of the same size with the old mtime put back still changes ctime
      writeFileSync(f, Buffer.alloc(Number(big.size), 0x41));
      execFileSync('touch', ['-d', stamp, f]);
      const after = lstatSync(f, { bigint: true });
      assert.equal(after.mtimeNs, big.mtimeNs, 'mtime put back');
      assert.equal(sameFileStat(lstatSync(f), parent), unchanged(nodeFromStat(Buffer.from('x'), 'file', after), parent), `both ways agree after a rewrite of ${f}`);
      assert.ok(!sameFileStat(lstatSync(f), parent), `a rewrite of ${f} is seen`);
    }
    // not a file, or a parent without what the test needs: never the same
    const d = lstatSync(dir);
    const fileParent = { ...nodeFromStat(Buffer.from('d'), 'file', lstatSync(dir, { bigint: true })), content: [] };
    assert.ok(!sameFileStat(d, { ...fileParent, type: 'dir' }));
    assert.ok(!sameFileStat(d, { ...fileParent, content: undefined }));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
