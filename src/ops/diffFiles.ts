import type { Repository } from '../repo/repository.js';
import type { BlobId } from '../repo/blobId.js';
import { decodeTree, nodeKey, nodeTargetBytes, type NodeType, type TreeNode } from '../repo/tree.js';

export interface FileChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
  type: NodeType;
  /** size after (added, changed) or before (removed) */
  size: number;
  /** size before, for a changed file */
  sizeBefore?: number;
  /** the type before, when a path changed type (e.g. a file became a link) */
  typeBefore?: NodeType;
}

function sameContent(a: TreeNode, b: TreeNode): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'symlink') return nodeTargetBytes(a).equals(nodeTargetBytes(b));
  if (a.type === 'file') {
    const x = a.content ?? [];
    const y = b.content ?? [];
    return a.size === b.size && x.length === y.length && x.every((id, i) => id === y[i]);
  }
  if (a.type !== 'dir') return a.rdev === b.rdev; // FIFOs and devices
  return a.subtree === b.subtree;
}

/**
 * The files, links and (empty) folders that differ between two trees. Subtrees with the same
 * id are skipped unread and files are compared by their content ids, so the cost follows the
 * size of the change, not of the store. Only content counts: a changed mode or time alone is
 * not a change.
 */
export async function diffTrees(repo: Repository, a: BlobId | undefined, b: BlobId | undefined): Promise<FileChange[]> {
  const out: FileChange[] = [];
  const load = async (id: BlobId | undefined): Promise<TreeNode[]> => (id ? decodeTree(await repo.loadBlob(id), id).nodes : []);

  /** Every file, link and empty folder below a node, as added or removed. */
  const expand = async (node: TreeNode, p: string, change: 'added' | 'removed'): Promise<void> => {
    if (node.type !== 'dir') {
      out.push({ path: p, change, type: node.type, size: node.size ?? 0 });
      return;
    }
    const children = await load(node.subtree);
    if (children.length === 0) out.push({ path: p, change, type: 'dir', size: 0 });
    for (const c of children) await expand(c, `${p}/${c.name}`, change);
  };

  const walk = async (x: BlobId | undefined, y: BlobId | undefined, prefix: string): Promise<void> => {
    if (x === y) return;
    const [left, right] = await Promise.all([load(x), load(y)]);
    // keyed by the name's bytes: two names not UTF-8 may share a readable stand-in
    const byName = new Map(right.map((n) => [nodeKey(n), n]));
    const join = (name: string): string => (prefix ? `${prefix}/${name}` : name);
    for (const l of left) {
      const r = byName.get(nodeKey(l));
      byName.delete(nodeKey(l));
      const p = join(l.name);
      if (!r) await expand(l, p, 'removed');
      else if (l.type === 'dir' && r.type === 'dir') await walk(l.subtree, r.subtree, p);
      else if (l.type !== r.type) {
        if (l.type === 'dir') await expand(l, p, 'removed');
        if (r.type === 'dir') await expand(r, p, 'added');
        if (l.type !== 'dir' && r.type !== 'dir') out.push({ path: p, change: 'changed', type: r.type, size: r.size ?? 0, sizeBefore: l.size ?? 0, typeBefore: l.type });
        else if (l.type !== 'dir') out.push({ path: p, change: 'removed', type: l.type, size: l.size ?? 0 });
        else out.push({ path: p, change: 'added', type: r.type, size: r.size ?? 0 });
      } else if (!sameContent(l, r)) out.push({ path: p, change: 'changed', type: r.type, size: r.size ?? 0, sizeBefore: l.size ?? 0 });
    }
    for (const r of byName.values()) await expand(r, join(r.name), 'added');
  };

  await walk(a, b, '');
  return out.sort((m, n) => (m.path < n.path ? -1 : m.path > n.path ? 1 : 0));
}
