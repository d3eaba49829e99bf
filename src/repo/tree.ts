import { OcvaultError } from '../errors/OcvaultError.js';
import { isBlobId, type BlobId } from './blobId.js';

/**
 * A directory listing, stored as a `tree` blob (so unchanged directories deduplicate between
 * snapshots). Nodes are sorted by name. Names and link targets that are not valid UTF-8 keep
 * their raw bytes in `nameRaw` / `targetRaw` (base64) so they restore exactly; `name` is then
 * only a readable stand-in. FIFOs and device nodes are kept as metadata (`rdev`), like restic.
 */
export type NodeType = 'file' | 'dir' | 'symlink' | 'fifo' | 'chardev' | 'blockdev';

export const SPECIAL_TYPES: readonly NodeType[] = ['fifo', 'chardev', 'blockdev'];

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
  /** the link target's bytes (base64), when they are not valid UTF-8 */
  targetRaw?: string;
  /** device number (st_rdev) of a chardev or blockdev */
  rdev?: number;
}

export interface Tree {
  nodes: TreeNode[];
}

export function sortNodes(nodes: TreeNode[]): TreeNode[] {
  return nodes.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Whether two nodes encode the same: the same keys in the same order (encodeTree writes them
 * in that order) and the same values, content lists compared by element.
 */
export function sameNode(a: TreeNode, b: TreeNode): boolean {
  const ka = Object.keys(a) as (keyof TreeNode)[];
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i]) return false;
    const va = a[k];
    const vb = b[k];
    if (va === vb) continue;
    if (!Array.isArray(va) || !Array.isArray(vb) || va.length !== vb.length) return false;
    for (let j = 0; j < va.length; j++) if (va[j] !== vb[j]) return false;
  }
  return true;
}

export function encodeTree(tree: Tree): Buffer {
  return Buffer.from(JSON.stringify({ nodes: tree.nodes }));
}

/**
 * Why a restored name would not stay one entry inside its directory; undefined when safe.
 * `name`: its bytes, or an ASCII string (whose characters are its bytes).
 */
function unsafeName(name: Buffer | string): string | undefined {
  if (name.length === 0) return 'empty name';
  const short = name.length <= 2 ? (typeof name === 'string' ? name : name.toString('latin1')) : '';
  if (short === '.') return 'name "."';
  if (short === '..') return 'name ".."';
  if (name.includes('/')) return 'name with "/"';
  if (name.includes('\0')) return 'name with a NUL byte';
  return undefined;
}

/**
 * Names of ASCII characters only (nearly all of a store's): their UTF-8 bytes are their
 * characters, so their checks and map keys need no Buffer (an unchanged backup decodes every
 * tree of its parent: ~24 000 names in the bench tree).
 */
const ASCII = /^[\x00-\x7f]*$/;

function isAsciiName(n: TreeNode): boolean {
  return !n.nameRaw && ASCII.test(n.name);
}

/** Base64 that decodes and re-encodes to itself (Buffer.from silently skips junk). */
function strictBase64(v: unknown): Buffer | undefined {
  if (typeof v !== 'string') return undefined;
  const b = Buffer.from(v, 'base64');
  return b.toString('base64') === v ? b : undefined;
}

/** A node name for messages: JSON-quoted, so control characters and newlines stay visible. */
function shown(n: { name?: unknown; nameRaw?: unknown } | null): string {
  if (n && typeof n.nameRaw === 'string') return `${JSON.stringify(n.name)} (raw ${Buffer.from(n.nameRaw, 'base64').toString('hex')})`;
  return JSON.stringify(n?.name);
}

export function decodeTree(bytes: Uint8Array, id: string): Tree {
  const bad = (why: string): OcvaultError => new OcvaultError('CorruptObject', `tree ${id.slice(0, 12)} is malformed: ${why}`, { tree: id });
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
  const nodes = (v as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(nodes)) throw bad('no nodes');
  const seen = new Set<string>();
  for (const n of nodes as TreeNode[]) {
    if (typeof n !== 'object' || n === null || typeof n.name !== 'string') throw bad(`entry without a name ${shown(n)}`);
    if (n.nameRaw !== undefined && !strictBase64(n.nameRaw)) throw bad(`bad raw name for ${shown(n)}`);
    // The bytes a restore writes are what must be safe, not just the readable stand-in.
    const unsafe = isAsciiName(n) ? unsafeName(n.name) : (unsafeName(Buffer.from(n.name, 'utf8')) ?? unsafeName(nodeNameBytes(n)));
    if (unsafe) throw bad(`unsafe entry ${shown(n)} (${unsafe})`);
    const key = nodeKey(n);
    if (seen.has(key)) throw bad(`duplicate entry ${shown(n)}`);
    seen.add(key);
    if (typeof n.type !== 'string' || !['file', 'dir', 'symlink', ...SPECIAL_TYPES].includes(n.type)) throw bad(`unknown node type for ${shown(n)}`);
    if (!Number.isInteger(n.mode) || n.mode < 0 || n.mode > 0o7777 || typeof n.mtimeNs !== 'string' || !/^-?\d+$/.test(n.mtimeNs)) throw bad(`bad metadata for ${shown(n)}`);
    if (n.type === 'file' && (!Array.isArray(n.content) || !n.content.every(isBlobId) || !Number.isInteger(n.size))) throw bad(`bad content list for ${shown(n)}`);
    if (n.type === 'dir' && !isBlobId(n.subtree)) throw bad(`bad subtree for ${shown(n)}`);
    if (n.type === 'symlink' && (typeof n.target !== 'string' || (n.targetRaw !== undefined && !strictBase64(n.targetRaw)) || nodeTargetBytes(n).length === 0 || nodeTargetBytes(n).includes(0))) throw bad(`bad link target for ${shown(n)}`);
    if ((n.type === 'chardev' || n.type === 'blockdev') && !(Number.isInteger(n.rdev) && n.rdev! >= 0)) throw bad(`bad device number for ${shown(n)}`);
  }
  return { nodes: nodes as TreeNode[] };
}

/** The name bytes a node restores to. */
export function nodeNameBytes(n: TreeNode): Buffer {
  return n.nameRaw ? Buffer.from(n.nameRaw, 'base64') : Buffer.from(n.name, 'utf8');
}

/** One string per distinct name (the bytes as latin1), for maps keyed by name. */
export function nodeKey(n: TreeNode): string {
  return isAsciiName(n) ? n.name : nodeNameBytes(n).toString('latin1');
}

/** The target bytes a symlink node restores to. */
export function nodeTargetBytes(n: TreeNode): Buffer {
  return n.targetRaw ? Buffer.from(n.targetRaw, 'base64') : Buffer.from(n.target ?? '', 'utf8');
}
