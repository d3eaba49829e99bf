import * as path from 'node:path';
import { hasDefine, type PhpConfig } from './phpConfig.js';
import { dbHostnameFor, type StoreDatabase } from './storeDatabase.js';
import { isInside, stripSlash } from './storePaths.js';

/** Where a staging copy comes from, as its config files name it. */
export interface CloneSource {
  /** the store root the configs were written for */
  configRoot: string;
  /** a DIR_STORAGE outside that root, as configured */
  externalStorage?: string;
  /** the catalog URLs the configs use (HTTP_SERVER, HTTPS_SERVER), to move URLs built on them */
  urls: string[];
  /** the admin folder's name */
  admin: string;
  /** DB_HOSTNAME had mysqli's `p:` prefix; the config defines DB_PORT */
  db: Pick<StoreDatabase, 'persistent' | 'hasPortDefine'>;
}

/** Where it goes. */
export interface CloneDestination {
  root: string;
  /** the new storage folder, when the source's storage was moved outside its root */
  storage?: string;
  /** the new catalog URL, ending in `/` */
  url: string;
  db: { host: string; port: number; socket?: string; user: string; password: string; database: string };
}

/** `https://x/shop` → `https://x/shop/`. */
export function withTrailingSlash(url: string): string {
  return url.endsWith('/') ? url : url + '/';
}

/** A path inside `from` moved to the same place inside `to` (keeping a trailing slash). */
function movePath(value: string, from: string, to: string): string {
  return stripSlash(to) + path.posix.normalize(value).slice(stripSlash(from).length);
}

/**
 * The new values of a config file for a staging copy (only keys the file defines):
 * - every literal DIR_* path inside the old root (or the moved storage) moves to the new one;
 *   paths built from other constants or `__DIR__` follow by themselves and are left alone;
 * - every literal HTTP_* / HTTPS_* URL built on an old catalog URL moves to the new URL, then
 *   HTTP_SERVER / HTTPS_SERVER are the new URL (the admin's: new URL + admin folder + `/`) and
 *   HTTP_CATALOG / HTTPS_CATALOG the new URL;
 * - DB_HOSTNAME, DB_PORT, DB_USERNAME, DB_PASSWORD, DB_DATABASE name the new database.
 */
export function cloneConfigValues(cfg: PhpConfig, role: 'catalog' | 'admin', src: CloneSource, dst: CloneDestination): Record<string, string> {
  const out: Record<string, string> = {};
  const url = withTrailingSlash(dst.url);
  const oldUrls = [...new Set(src.urls.filter((u) => u !== '').map(withTrailingSlash))].sort((a, b) => b.length - a.length);
  for (const d of cfg.defines) {
    if (!d.literal || d.value === undefined || d.key in out) continue;
    const v = d.value;
    if (d.key.startsWith('DIR_') && path.posix.isAbsolute(v)) {
      const norm = path.posix.normalize(v);
      if (src.externalStorage && dst.storage && isInside(norm, src.externalStorage)) out[d.key] = movePath(v, src.externalStorage, dst.storage);
      else if (isInside(norm, src.configRoot)) out[d.key] = movePath(v, src.configRoot, dst.root);
    } else if (/^HTTPS?_/.test(d.key)) {
      const from = oldUrls.find((u) => v === u.slice(0, -1) || v.startsWith(u));
      if (from) out[d.key] = url + v.slice(from.length);
    }
  }
  const set = (k: string, v: string): void => {
    if (hasDefine(cfg, k)) out[k] = v;
  };
  const serverUrl = role === 'admin' ? `${url}${src.admin}/` : url;
  set('HTTP_SERVER', serverUrl);
  set('HTTPS_SERVER', serverUrl);
  if (role === 'admin') {
    set('HTTP_CATALOG', url);
    set('HTTPS_CATALOG', url);
  }
  const host = dbHostnameFor(dst.db, src.db);
  set('DB_HOSTNAME', host.DB_HOSTNAME);
  if (host.DB_PORT !== undefined) set('DB_PORT', host.DB_PORT);
  set('DB_USERNAME', dst.db.user);
  set('DB_PASSWORD', dst.db.password);
  set('DB_DATABASE', dst.db.database);
  return out;
}
