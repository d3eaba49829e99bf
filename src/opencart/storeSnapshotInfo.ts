import type { StoreFamily } from './storeVersion.js';

/**
 * What a store snapshot records about its store, in `Snapshot.meta` (plain strings), and how
 * its file tree is laid out:
 * - `root`: the tree root is the store root itself (the storage folder, if any, is inside);
 * - `split`: DIR_STORAGE was moved outside the store root, so the snapshot saved both folders
 *   and the tree root holds two entries: `rootEntry` (the store root's base name) and
 *   `storageEntry` (the storage folder's base name). A restore puts the first into --target and
 *   the second into --storage-target (default: its recorded path when restoring in place,
 *   else `<target>-storage`).
 */
export type StoreLayout = 'root' | 'split';

export interface StoreSnapshotInfo {
  /** the store's name (config_name of store 0, else the URL's host) */
  store: string;
  /** from index.php; `''` when unknown */
  version: string;
  family: StoreFamily;
  url: string;
  /** the admin folder's name (`''` when none was found) */
  admin: string;
  dbPrefix: string;
  /** the store root the snapshot was taken from */
  root: string;
  /** DIR_STORAGE as an absolute path (`''` for stores without one) */
  storage: string;
  layout: StoreLayout;
  rootEntry?: string;
  storageEntry?: string;
}

export const STORE_SNAPSHOT_KIND = 'opencart-store';

export function storeMeta(info: StoreSnapshotInfo): Record<string, string> {
  return {
    kind: STORE_SNAPSHOT_KIND,
    store: info.store,
    version: info.version,
    family: info.family,
    url: info.url,
    admin: info.admin,
    dbPrefix: info.dbPrefix,
    root: info.root,
    storage: info.storage,
    layout: info.layout,
    ...(info.layout === 'split' ? { rootEntry: info.rootEntry!, storageEntry: info.storageEntry! } : {}),
  };
}

/** The store facts of a snapshot, or undefined when it is not a store snapshot. */
export function storeInfoFromMeta(meta: Record<string, string> | undefined): StoreSnapshotInfo | undefined {
  if (!meta || meta.kind !== STORE_SNAPSHOT_KIND) return undefined;
  const family = (['1.5', '2.x', '3.0', '4.x'] as const).find((f) => f === meta.family) ?? '4.x';
  const layout: StoreLayout = meta.layout === 'split' && meta.rootEntry && meta.storageEntry ? 'split' : 'root';
  return {
    store: meta.store ?? '',
    version: meta.version ?? '',
    family,
    url: meta.url ?? '',
    admin: meta.admin ?? '',
    dbPrefix: meta.dbPrefix ?? '',
    root: meta.root ?? '',
    storage: meta.storage ?? '',
    layout,
    ...(layout === 'split' ? { rootEntry: meta.rootEntry!, storageEntry: meta.storageEntry! } : {}),
  };
}
