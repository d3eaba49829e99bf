import * as path from 'node:path';
import { configValueOrUndefined, type PhpConfig } from './phpConfig.js';
import type { StoreFamily } from './storeVersion.js';

/** `/a/b/` → `/a/b` (but `/` stays). */
export function stripSlash(p: string): string {
  return p.length > 1 ? p.replace(/\/+$/, '') : p;
}

/** Is `p` the folder `dir` or inside it (both absolute, normalised)? */
export function isInside(p: string, dir: string): boolean {
  const a = stripSlash(p);
  const b = stripSlash(dir);
  return a === b || a.startsWith(b === '/' ? '/' : b + '/');
}

/**
 * The store root a config was written for (its DIR_* paths start with it): DIR_OPENCART (4.x),
 * else DIR_APPLICATION without `catalog/` (or the admin folder), DIR_SYSTEM without `system/`,
 * DIR_IMAGE without `image/`. Undefined when the config names none of them.
 */
export function configuredRoot(cfg: PhpConfig, appFolder = 'catalog'): string | undefined {
  const v = (k: string): string | undefined => {
    const x = configValueOrUndefined(cfg, k);
    return x && path.posix.isAbsolute(x) ? stripSlash(path.posix.normalize(x)) : undefined;
  };
  const opencart = v('DIR_OPENCART');
  if (opencart) return opencart;
  for (const [key, tail] of [['DIR_APPLICATION', appFolder], ['DIR_SYSTEM', 'system'], ['DIR_IMAGE', 'image']] as const) {
    const p = v(key);
    if (p && path.posix.basename(p) === tail) return path.posix.dirname(p);
  }
  return undefined;
}

/** Where a path from the config really is: in the store root (relative) or in a moved storage folder. */
export type PlacedPath = { area: 'root'; rel: string } | { area: 'storage'; rel: string } | { area: 'outside'; abs: string };

export interface PathMap {
  /** the store root as the config names it */
  configRoot: string;
  /** the actual root on disk */
  root: string;
  /** a DIR_STORAGE outside the configured root (absolute, as configured) */
  externalStorage?: string;
}

/** Maps a config path (absolute, or relative to the root) to where it is. */
export function placePath(map: PathMap, configured: string): PlacedPath {
  const abs = stripSlash(path.posix.isAbsolute(configured) ? path.posix.normalize(configured) : path.posix.join(map.root, configured));
  if (map.externalStorage && isInside(abs, map.externalStorage)) return { area: 'storage', rel: path.posix.relative(stripSlash(map.externalStorage), abs) };
  if (isInside(abs, map.configRoot)) return { area: 'root', rel: path.posix.relative(map.configRoot, abs) };
  if (isInside(abs, map.root)) return { area: 'root', rel: path.posix.relative(map.root, abs) };
  return { area: 'outside', abs };
}

/** The actual absolute path of a placed path. */
export function actualPath(map: PathMap, placed: PlacedPath): string {
  if (placed.area === 'outside') return placed.abs;
  if (placed.area === 'storage') return placed.rel ? path.posix.join(map.externalStorage!, placed.rel) : stripSlash(map.externalStorage!);
  return placed.rel ? path.posix.join(map.root, placed.rel) : map.root;
}

/**
 * The folders a store fills with things it rebuilds by itself, by config key: the resized
 * image cache, DIR_CACHE, DIR_LOGS, DIR_SESSION (3.0+). (DIR_MODIFICATION is regenerated
 * only when an admin refreshes modifications, so it stays in the backup.)
 */
export function volatileFolders(cfg: PhpConfig, family: StoreFamily): Array<{ what: string; configured: string }> {
  const out: Array<{ what: string; configured: string }> = [];
  const image = configValueOrUndefined(cfg, 'DIR_IMAGE');
  out.push({ what: 'image cache', configured: image ? path.posix.join(image, 'cache') : 'image/cache' });
  for (const [key, what] of [['DIR_CACHE', 'cache'], ['DIR_LOGS', 'logs'], ['DIR_SESSION', 'sessions']] as const) {
    const v = configValueOrUndefined(cfg, key);
    if (v) out.push({ what, configured: v });
    else if (key === 'DIR_CACHE') out.push({ what, configured: family === '1.5' || family === '2.x' ? 'system/cache' : 'system/storage/cache' });
  }
  return out;
}
