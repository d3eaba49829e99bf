import type { Repository } from '../repo/repository.js';
import { decodeTree, type TreeNode } from '../repo/tree.js';
import { OcvaultError } from '../errors/OcvaultError.js';

export interface ListedNode {
  path: string;
  type: TreeNode['type'];
  size: number;
  mode: number;
  mtime: string;
  target?: string;
}

function mtimeIso(ns: string): string {
  return new Date(Number(BigInt(ns) / 1_000_000n)).toISOString();
}

/** Every node of a snapshot (below `prefix` if given), depth first in name order. */
export async function listFiles(repo: Repository, ref: string, prefix?: string): Promise<{ id: string; nodes: ListedNode[] }> {
  const { id, snapshot } = repo.resolveSnapshot(ref);
  const out: ListedNode[] = [];
  if (!snapshot.tree) return { id, nodes: out };
  const want = prefix ? prefix.replace(/^\/+|\/+$/g, '') : '';
  const walk = async (treeId: string, rel: string): Promise<void> => {
    const tree = decodeTree(await repo.loadBlob(treeId), treeId);
    for (const n of tree.nodes) {
      const p = rel ? `${rel}/${n.name}` : n.name;
      const inside = !want || p === want || p.startsWith(want + '/');
      const onTheWay = want.startsWith(p + '/');
      if (inside) out.push({ path: p, type: n.type, size: n.size ?? 0, mode: n.mode, mtime: mtimeIso(n.mtimeNs), ...(n.target !== undefined ? { target: n.target } : {}) });
      if (n.type === 'dir' && (inside || onTheWay)) await walk(n.subtree!, p);
    }
  };
  await walk(snapshot.tree, '');
  if (want && out.length === 0) throw new OcvaultError('Usage', `no ${want} in snapshot ${id.slice(0, 8)}`);
  return { id, nodes: out };
}
