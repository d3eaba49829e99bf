import * as path from 'node:path';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot } from '../repo/snapshot.js';
import type { BlobId } from '../repo/blobId.js';
import { decodeTree, type TreeNode } from '../repo/tree.js';
import { parsePhpConfig, type PhpConfig } from '../opencart/phpConfig.js';
import { storeInfoFromMeta, type StoreSnapshotInfo } from '../opencart/storeSnapshotInfo.js';

/** A store snapshot's facts and the trees of its store root and moved storage. */
export interface StoreSnapshot {
  id: string;
  snapshot: Snapshot;
  info: StoreSnapshotInfo;
  rootTree: BlobId;
  storageTree?: BlobId;
}

/** The node at `rel` ('a/b/c') below a tree, if any. */
export async function nodeAt(repo: Repository, tree: BlobId, rel: string): Promise<TreeNode | undefined> {
  const parts = rel.split('/').filter((p) => p !== '');
  let id = tree;
  let node: TreeNode | undefined;
  for (let i = 0; i < parts.length; i++) {
    node = decodeTree(await repo.loadBlob(id), id).nodes.find((n) => n.name === parts[i]);
    if (!node) return undefined;
    if (i < parts.length - 1) {
      if (node.type !== 'dir') return undefined;
      id = node.subtree!;
    }
  }
  return node;
}

/** The content of the file at `rel` below a tree, or undefined. */
export async function readTreeFile(repo: Repository, tree: BlobId, rel: string): Promise<Buffer | undefined> {
  const node = await nodeAt(repo, tree, rel);
  if (!node || node.type !== 'file') return undefined;
  return Buffer.concat(await Promise.all((node.content ?? []).map((id) => repo.loadBlob(id))));
}

/** The store facts and trees of a snapshot; undefined for a snapshot that is not of a store. */
export async function loadStoreSnapshot(repo: Repository, ref: string): Promise<StoreSnapshot | undefined> {
  const { id, snapshot } = repo.resolveSnapshot(ref);
  const info = storeInfoFromMeta(snapshot.meta);
  if (!info || !snapshot.tree) return undefined;
  if (info.layout === 'root') return { id, snapshot, info, rootTree: snapshot.tree };
  const top = decodeTree(await repo.loadBlob(snapshot.tree), snapshot.tree).nodes;
  const rootNode = top.find((n) => n.name === info.rootEntry && n.type === 'dir');
  const storageNode = top.find((n) => n.name === info.storageEntry && n.type === 'dir');
  if (!rootNode) throw new OcvaultError('CorruptObject', `store snapshot ${id.slice(0, 8)} has no ${info.rootEntry}/ entry for its store root`, { snapshot: id });
  return { id, snapshot, info, rootTree: rootNode.subtree!, ...(storageNode ? { storageTree: storageNode.subtree! } : {}) };
}

/** A config file of the snapshot, parsed as if it stood at `asPath` (for __DIR__). */
export async function snapshotConfig(repo: Repository, s: StoreSnapshot, rel: string, asPath: string): Promise<{ text: string; config: PhpConfig } | undefined> {
  const bytes = await readTreeFile(repo, s.rootTree, rel);
  if (!bytes) return undefined;
  const text = bytes.toString('utf8');
  return { text, config: parsePhpConfig(text, asPath) };
}

/** `/srv/shop` → `/srv/shop-storage`: where a moved storage goes beside a new store root. */
export function siblingStorage(target: string): string {
  const t = path.resolve(target);
  return `${t}-storage`;
}
