import { OcvaultError } from '../errors/OcvaultError.js';
import { isBlobId, type BlobId } from './blobId.js';

/**
 * A directory listing, stored as a `tree` blob (so unchanged directories deduplicate between
 * snapshots). Nodes are sorted by name. Names that are not valid UTF-8 keep their raw bytes
 * in `nameRaw` (base64) so they restore exactly.
 */
export type NodeType = 'file' | 'dir' | 'symlink';

export interface TreeNode {
  name: string;
  nameRaw?: string;
  type: NodeType;
  /** permission bits (st_mode & 0o7777) */
  mode: number;
  /** nanoseconds since the epoch, as a decimal string (bigint-exact) */
  mtimeNs: string;
  /** for change detection only */
  ctimeNs?: string;
  inode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  content?: BlobId[];
  subtree?: BlobId;
  target?: string;
}

export interface Tree {
  nodes: TreeNode[];
}

export function sortNodes(nodes: TreeNode[]): TreeNode[] {
  return nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function encodeTree(tree: Tree): Buffer {
  return Buffer.from(JSON.stringify({ nodes: tree.nodes }));
}

const SAFE_NAME = (n: string): boolean => n.length > 0 && n !== '.' && n !== '..' && !n.includes('/') && !n.includes('\0');

export function decodeTree(bytes: Uint8Array, id: string): Tree {
  const bad = (why: string): OcvaultError => new OcvaultError('CorruptObject', `tree ${id.slice(0, 12)} is malformed: ${why}`, { tree: id });
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
  const nodes = (v as { nodes?: unknown }).nodes;
  if (!Array.isArray(nodes)) throw bad('no nodes');
  for (const n of nodes as TreeNode[]) {
    if (typeof n !== 'object' || n === null || typeof n.name !== 'string' || !SAFE_NAME(n.name)) throw bad(`unsafe or missing name ${JSON.stringify((n as TreeNode | null)?.name)}`);
    if (n.type !== 'file' && n.type !== 'dir' && n.type !== 'symlink') throw bad(`unknown node type for ${n.name}`);
    if (!Number.isInteger(n.mode) || typeof n.mtimeNs !== 'string' || !/^-?\d+$/.test(n.mtimeNs)) throw bad(`bad metadata for ${n.name}`);
    if (n.type === 'file' && (!Array.isArray(n.content) || !n.content.every(isBlobId) || !Number.isInteger(n.size))) throw bad(`bad content list for ${n.name}`);
    if (n.type === 'dir' && !isBlobId(n.subtree)) throw bad(`bad subtree for ${n.name}`);
    if (n.type === 'symlink' && typeof n.target !== 'string') throw bad(`bad link target for ${n.name}`);
  }
  return { nodes: nodes as TreeNode[] };
}

/** The name bytes a node restores to. */
export function nodeNameBytes(n: TreeNode): Buffer {
  return n.nameRaw ? Buffer.from(n.nameRaw, 'base64') : Buffer.from(n.name, 'utf8');
}
