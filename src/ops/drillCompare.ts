import { promises as fsp, type BigIntStats } from 'node:fs';
import { errnoCode } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { BlobId } from '../repo/blobId.js';
import { decodeTree, nodeNameBytes, nodeTargetBytes, type TreeNode } from '../repo/tree.js';

export interface CompareResult {
  /** entries compared */
  checked: number;
  bytes: number;
  problems: string[];
}

export interface CompareOptions {
  /** mtimes may differ by this much (default 1 ms: restores set times through floating seconds) */
  mtimeToleranceNs?: bigint;
  /** compare owners (only meaningful when the restore ran as root) */
  owners?: boolean;
  /** stop collecting problems after this many (default 1000) */
  maxProblems?: number;
}

const SLASH = Buffer.from('/');

/**
 * Compares a directory with a snapshot tree, independently of the restorer: every entry the
 * tree records is there with its type, permission bits, mtime and (for links) target; file
 * content is re-read, cut at the recorded chunk lengths and each piece hashed with the
 * repository key, so it must match the recorded chunk ids exactly; nothing else is there.
 */
export async function compareWithTree(repo: Repository, tree: BlobId, dir: string, opts: CompareOptions = {}): Promise<CompareResult> {
  const result: CompareResult = { checked: 0, bytes: 0, problems: [] };
  const tol = opts.mtimeToleranceNs ?? 1_000_000n;
  const max = opts.maxProblems ?? 1000;
  const problem = (p: string): void => {
    if (result.problems.length < max) result.problems.push(p);
  };

  const walk = async (treeId: BlobId, abs: Buffer, rel: string): Promise<void> => {
    const nodes = decodeTree(await repo.loadBlob(treeId), treeId).nodes;
    const expected = new Set(nodes.map((n) => nodeNameBytes(n).toString('latin1')));
    let present: Buffer[];
    try {
      present = await fsp.readdir(abs, { encoding: 'buffer' });
    } catch (e) {
      problem(`${rel || '.'}: cannot list the restored directory (${errnoCode(e) ?? String(e)})`);
      return;
    }
    for (const name of present) if (!expected.has(name.toString('latin1'))) problem(`${join(rel, name.toString('utf8'))}: restored but not in the snapshot`);
    for (const node of nodes) {
      const childAbs = Buffer.concat([abs, SLASH, nodeNameBytes(node)]);
      const childRel = join(rel, node.name);
      result.checked++;
      let st: BigIntStats;
      try {
        st = await fsp.lstat(childAbs, { bigint: true });
      } catch (e) {
        problem(`${childRel}: missing after restore (${errnoCode(e) ?? String(e)})`);
        continue;
      }
      const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isFIFO() ? 'fifo' : st.isCharacterDevice() ? 'chardev' : st.isBlockDevice() ? 'blockdev' : 'other';
      if (type !== node.type) {
        problem(`${childRel}: restored as ${type}, the snapshot has a ${node.type}`);
        continue;
      }
      compareMeta(node, st, childRel, tol, opts.owners === true, problem);
      if (node.type === 'file') await compareContent(repo, node, childAbs, childRel, st, result, problem);
      else if (node.type === 'symlink') {
        const target = await fsp.readlink(childAbs, { encoding: 'buffer' });
        if (!target.equals(nodeTargetBytes(node))) problem(`${childRel}: link target ${JSON.stringify(target.toString('utf8'))}, the snapshot has ${JSON.stringify(node.target)}`);
      } else if (node.type === 'dir') await walk(node.subtree!, childAbs, childRel);
      else if (node.rdev !== undefined && Number(st.rdev) !== node.rdev) problem(`${childRel}: device ${st.rdev}, the snapshot has ${node.rdev}`);
    }
  };
  await walk(tree, Buffer.from(dir), '');
  return result;
}

function join(a: string, b: string): string {
  return a ? `${a}/${b}` : b;
}

function compareMeta(node: TreeNode, st: BigIntStats, rel: string, tol: bigint, owners: boolean, problem: (p: string) => void): void {
  if (node.type !== 'symlink') {
    const mode = Number(st.mode & 0o7777n);
    if (mode !== node.mode) problem(`${rel}: mode ${mode.toString(8).padStart(4, '0')}, the snapshot has ${node.mode.toString(8).padStart(4, '0')}`);
    const diff = st.mtimeNs - BigInt(node.mtimeNs);
    if (diff > tol || diff < -tol) problem(`${rel}: mtime ${iso(st.mtimeNs)}, the snapshot has ${iso(BigInt(node.mtimeNs))}`);
  }
  if (owners && node.uid !== undefined && node.gid !== undefined && (Number(st.uid) !== node.uid || Number(st.gid) !== node.gid)) {
    problem(`${rel}: owner ${st.uid}:${st.gid}, the snapshot has ${node.uid}:${node.gid}`);
  }
}

function iso(ns: bigint): string {
  return `${new Date(Number(ns / 1_000_000n)).toISOString()} (${ns} ns)`;
}

async function compareContent(repo: Repository, node: TreeNode, abs: Buffer, rel: string, st: BigIntStats, result: CompareResult, problem: (p: string) => void): Promise<void> {
  const size = Number(st.size);
  if (size !== node.size) {
    problem(`${rel}: ${size} bytes, the snapshot has ${node.size}`);
    return;
  }
  const handle = await fsp.open(abs, 'r');
  try {
    let position = 0;
    for (const [i, id] of node.content!.entries()) {
      const length = repo.locate(id).rawLength;
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      while (got < length) {
        const { bytesRead } = await handle.read(buf, got, length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      if (got < length || repo.hasher.keyed(repo.master.id, buf).toString('hex') !== id) {
        problem(`${rel}: content differs from the snapshot in chunk ${i + 1} of ${node.content!.length} (bytes ${position}-${position + length})`);
        return;
      }
      position += length;
      result.bytes += length;
    }
    if (position !== size) problem(`${rel}: ${size} bytes, its chunks add up to ${position}`);
  } finally {
    await handle.close();
  }
}
