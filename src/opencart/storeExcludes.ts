import * as path from 'node:path';
import type { DetectedStore } from './detectStore.js';
import { isInside, placePath, stripSlash, volatileFolders } from './storePaths.js';
import type { StoreLayout } from './storeSnapshotInfo.js';

/** Where the store's folders are in the snapshot tree. */
export interface TreeLayout {
  layout: StoreLayout;
  /** split layout: the top-level names of the store root and the moved storage */
  rootEntry?: string;
  storageEntry?: string;
}

function anchored(layout: TreeLayout, area: 'root' | 'storage', rel: string): string {
  const prefix = layout.layout === 'split' ? `${area === 'root' ? layout.rootEntry : layout.storageEntry}/` : '';
  return `/${prefix}${rel}`;
}

/**
 * The default excludes of a store: the *contents* of the image cache, DIR_CACHE, DIR_LOGS and
 * DIR_SESSION (`/image/cache/*`), so the folders themselves are kept and a restored store
 * can write into them at once. Patterns are anchored at the snapshot root.
 */
export function defaultStoreExcludes(store: DetectedStore, layout: TreeLayout): string[] {
  const out: string[] = [];
  for (const f of volatileFolders(store.config, store.family)) {
    const placed = placePath(store.paths, f.configured);
    if (placed.area === 'outside' || placed.rel === '') continue;
    const p = `${anchored(layout, placed.area, placed.rel)}/*`;
    if (!out.includes(p)) out.push(p);
  }
  return out;
}

/**
 * A user's `--exclude` for a store snapshot. Patterns keep their meaning (see glob.ts) relative
 * to the store root; in a split snapshot an anchored pattern is moved under the store root's
 * entry, and an absolute path inside the moved storage folder (or the store root) is
 * translated to where that folder is in the snapshot.
 */
export function storeUserExclude(pattern: string, store: DetectedStore, layout: TreeLayout): string {
  const dirOnly = pattern.endsWith('/');
  const body = dirOnly ? stripSlash(pattern) : pattern;
  const suffix = dirOnly ? '/' : '';
  const storage = store.storage?.external ? store.storage.path : undefined;
  if (storage && isInside(body, storage)) {
    const rel = path.posix.relative(storage, body);
    return layout.layout === 'split' ? `/${layout.storageEntry}${rel ? '/' + rel : ''}${suffix}` : pattern;
  }
  if (path.posix.isAbsolute(body) && (isInside(body, store.root) || isInside(body, store.paths.configRoot))) {
    const base = isInside(body, store.root) ? store.root : store.paths.configRoot;
    const rel = path.posix.relative(base, body);
    if (rel === '') return pattern;
    return `${anchored(layout, 'root', rel)}${suffix}`;
  }
  if (layout.layout !== 'split' || !body.includes('/')) return pattern;
  return `/${layout.rootEntry}/${body.replace(/^\/+/, '')}${suffix}`;
}
