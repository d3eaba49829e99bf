import type { Repository } from '../repo/repository.js';
import { decodeTree, nodeNameBytes, nodeTargetBytes, type TreeNode } from '../repo/tree.js';
import { OcvaultError } from '../errors/OcvaultError.js';

export interface ListedNode {
  path: string;
  type: TreeNode['type'];
  size: number;
  mode: number;
  mtime: string;
  target?: string;
  /** the path's bytes (base64), when a name in it is not UTF-8 (`path` then shows a stand-in) */
  pathRaw?: string;
  /** the link target's bytes (base64), when they are not UTF-8 */
  targetRaw?: string;
  /** device number of a chardev or blockdev */
  rdev?: number;
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
  const walk = async (treeId: string, rel: string, relRaw: Buffer | undefined): Promise<void> => {
    const tree = decodeTree(await repo.loadBlob(treeId), treeId);
    for (const n of tree.nodes) {
      const p = rel ? `${rel}/${n.name}` : n.name;
      const raw = n.nameRaw !== undefined || relRaw ? Buffer.concat(rel ? [relRaw ?? Buffer.from(rel), Buffer.from('/'), nodeNameBytes(n)] : [nodeNameBytes(n)]) : undefined;
      const inside = !want || p === want || p.startsWith(want + '/');
      const onTheWay = want.startsWith(p + '/');
      if (inside) {
        out.push({
          path: p,
          type: n.type,
          size: n.size ?? 0,
          mode: n.mode,
          mtime: mtimeIso(n.mtimeNs),
          ...(n.target !== undefined ? { target: n.target } : {}),
          ...(raw ? { pathRaw: raw.toString('base64') } : {}),
          ...(n.targetRaw !== undefined ? { targetRaw: nodeTargetBytes(n).toString('base64') } : {}),
          ...(n.rdev !== undefined ? { rdev: n.rdev } : {}),
        });
      }
      if (n.type === 'dir' && (inside || onTheWay)) await walk(n.subtree!, p, raw);
    }
  };
  await walk(snapshot.tree, '', undefined);
  if (want && out.length === 0) throw new OcvaultError('Usage', `no ${want} in snapshot ${id.slice(0, 8)}`);
  return { id, nodes: out };
}
