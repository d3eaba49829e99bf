import { isUtf8 } from 'node:buffer';
import { constants, type BigIntStats, type Stats } from 'node:fs';
import type { NodeType, TreeNode } from '../../repo/tree.js';
import type { FileStat } from '../../repo/blobWorkerProtocol.js';

/** The name a tree keeps for raw directory-entry bytes (raw bytes kept when not UTF-8). */
export function nodeName(raw: Buffer): { name: string; nameRaw?: string } {
  const name = raw.toString('utf8');
  if (isUtf8(raw)) return { name };
  return { name: name.replace(/\uFFFD/g, '?') + '~' + raw.toString('hex').slice(0, 16), nameRaw: raw.toString('base64') };
}

/** The node type of an lstat result; undefined for a socket (nothing to keep: its server makes it anew). */
export function nodeType(st: BigIntStats | Stats): NodeType | undefined {
  return nodeTypeOfMode(Number(st.mode));
}

/** Node types by the file-type bits of st_mode (S_IFMT); a socket has none. */
const TYPE_OF_FORMAT = new Map<number, NodeType>([
  [constants.S_IFREG, 'file'],
  [constants.S_IFDIR, 'dir'],
  [constants.S_IFLNK, 'symlink'],
  [constants.S_IFIFO, 'fifo'],
  [constants.S_IFCHR, 'chardev'],
  [constants.S_IFBLK, 'blockdev'],
]);

/** The node type of an st_mode (a directory scan gives the number, not a Stats); undefined for a socket. */
export function nodeTypeOfMode(mode: number): NodeType | undefined {
  return TYPE_OF_FORMAT.get(mode & constants.S_IFMT);
}

/** A link target as the tree keeps it: UTF-8 text, plus the raw bytes when they are not UTF-8. */
export function linkTarget(raw: Buffer): { target: string; targetRaw?: string } {
  const target = raw.toString('utf8');
  if (isUtf8(raw)) return { target };
  return { target, targetRaw: raw.toString('base64') };
}

/**
 * A node's metadata fields, set one by one in the order trees have always been written: JSON
 * keeps insertion order, so unchanged directories keep their tree ids (and spreads cost ~10 µs
 * a file here).
 */
function statNode(raw: Buffer, type: NodeType, mode: number, mtimeNs: string, ctimeNs: string, inode: number, uid: number, gid: number): TreeNode {
  const node = nodeName(raw) as TreeNode;
  node.type = type;
  node.mode = mode;
  node.mtimeNs = mtimeNs;
  node.ctimeNs = ctimeNs;
  node.inode = inode;
  node.uid = uid;
  node.gid = gid;
  return node;
}

/** What a node keeps of an lstat: permission bits, times to the nanosecond (decimal text), owner, size, device. */
export interface NodeStat {
  mode: number;
  mtimeNs: string;
  ctimeNs: string;
  inode: number;
  uid: number;
  gid: number;
  size: number;
  rdev: number;
}

/** Metadata of a node; content, subtree or target are filled in by the caller. */
export function nodeFromFields(raw: Buffer, type: NodeType, st: NodeStat): TreeNode {
  const node = statNode(raw, type, st.mode, st.mtimeNs, st.ctimeNs, st.inode, st.uid, st.gid);
  if (type === 'file') node.size = st.size;
  if (type === 'chardev' || type === 'blockdev') node.rdev = st.rdev;
  return node;
}

/** Metadata of a node from lstat; content, subtree or target are filled in by the caller. */
export function nodeFromStat(raw: Buffer, type: NodeType, st: BigIntStats): TreeNode {
  return nodeFromFields(raw, type, { mode: Number(st.mode & 0o7777n), mtimeNs: st.mtimeNs.toString(), ctimeNs: st.ctimeNs.toString(), inode: Number(st.ino), uid: Number(st.uid), gid: Number(st.gid), size: Number(st.size), rdev: Number(st.rdev) });
}

/**
 * A regular file's node from the stat of the descriptor it was read through (the worker's
 * fstat): the times to the nanosecond, and the mode, owner and inode of the file actually read.
 */
export function fileNodeFromRead(raw: Buffer, st: Omit<FileStat, 'size'>, size: number): TreeNode {
  const node = statNode(raw, 'file', st.mode, st.mtimeNs, st.ctimeNs, st.inode, st.uid, st.gid);
  node.size = size;
  return node;
}

/**
 * Milliseconds as node's plain lstat gives them for a time of `ns` nanoseconds: seconds * 1e3
 * + nanoseconds / 1e6, in doubles, from the timespec (whole seconds rounded down, so the
 * nanoseconds are never negative). Equal doubles mean times within ~0.25 us of each other.
 */
export function msOfNs(ns: string): number {
  if (ns[0] !== '-' && ns.length > 9) return Number(ns.slice(0, -9)) * 1000 + Number(ns.slice(-9)) / 1e6;
  const n = BigInt(ns);
  let sec = n / 1_000_000_000n;
  let nsec = n % 1_000_000_000n;
  if (nsec < 0n) {
    sec -= 1n;
    nsec += 1_000_000_000n;
  }
  return Number(sec) * 1000 + Number(nsec) / 1e6;
}

/**
 * Is a regular file, seen by a plain lstat, its parent node's file: the same size, mtime, ctime
 * and inode (then it is not read again)? Its times are doubles of milliseconds, so two
 * times closer than ~0.25 us compare equal: a change slips through only if size and inode stay
 * and both mtime and ctime moved by less than that, while the kernel stamps ctime at every write
 * from a clock that the lstat of the last backup already stood between.
 */
export function sameFileStat(st: Pick<Stats, 'size' | 'ino' | 'mtimeMs' | 'ctimeMs'>, parent: TreeNode): boolean {
  return (
    parent.type === 'file' &&
    Array.isArray(parent.content) &&
    parent.ctimeNs !== undefined &&
    parent.size === st.size &&
    parent.inode === st.ino &&
    msOfNs(parent.mtimeNs) === st.mtimeMs &&
    msOfNs(parent.ctimeNs) === st.ctimeMs
  );
}
