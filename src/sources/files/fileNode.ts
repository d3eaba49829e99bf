import type { BigIntStats } from 'node:fs';
import type { NodeType, TreeNode } from '../../repo/tree.js';

/** The name a tree keeps for raw directory-entry bytes (raw bytes kept when not UTF-8). */
export function nodeName(raw: Buffer): { name: string; nameRaw?: string } {
  const name = raw.toString('utf8');
  if (Buffer.from(name, 'utf8').equals(raw)) return { name };
  return { name: name.replace(/\uFFFD/g, '?') + '~' + raw.toString('hex').slice(0, 16), nameRaw: raw.toString('base64') };
}

export function nodeType(st: BigIntStats): NodeType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return undefined;
}

/** Metadata of a node from lstat; content, subtree or target are filled in by the caller. */
export function nodeFromStat(raw: Buffer, type: NodeType, st: BigIntStats): TreeNode {
  return {
    ...nodeName(raw),
    type,
    mode: Number(st.mode & 0o7777n),
    mtimeNs: st.mtimeNs.toString(),
    ctimeNs: st.ctimeNs.toString(),
    inode: Number(st.ino),
    uid: Number(st.uid),
    gid: Number(st.gid),
    ...(type === 'file' ? { size: Number(st.size) } : {}),
  };
}

/** A file whose size, mtime, ctime and inode match the parent's node is not read again. */
export function unchanged(node: TreeNode, parent: TreeNode | undefined): boolean {
  return (
    parent !== undefined &&
    parent.type === 'file' &&
    node.type === 'file' &&
    parent.size === node.size &&
    parent.mtimeNs === node.mtimeNs &&
    parent.ctimeNs === node.ctimeNs &&
    parent.inode === node.inode &&
    Array.isArray(parent.content)
  );
}
