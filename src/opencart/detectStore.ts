import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { errnoCode, OcvaultError } from '../errors/OcvaultError.js';
import { configValue, configValueOrUndefined, hasDefine, parsePhpConfig, type PhpConfig } from './phpConfig.js';
import { DEFAULT_SOCKETS, storeDatabaseFromConfig, type StoreDatabase } from './storeDatabase.js';
import { configuredRoot, isInside, placePath, stripSlash, type PathMap } from './storePaths.js';
import { storeFamily, versionFromIndex, type StoreFamily } from './storeVersion.js';

export interface StoreAdmin {
  /** the admin folder's name (renamed admins allowed) */
  folder: string;
  configFile: string;
  config: PhpConfig;
}

/** An OpenCart store found at a path: what its config files say, resolved against the disk. */
export interface DetectedStore {
  /** the store root on disk (absolute, no trailing slash) */
  root: string;
  configFile: string;
  config: PhpConfig;
  /** from index.php (`''` when it names none) */
  version: string;
  family: StoreFamily;
  admin?: StoreAdmin;
  paths: PathMap;
  /** DIR_STORAGE (3.0+), absolute; `external` when it lies outside the store root */
  storage?: { path: string; external: boolean };
  db: StoreDatabase;
  /** HTTPS_SERVER, else HTTP_SERVER */
  url?: string;
  /** DIR_* folders the config puts outside the root and the storage (not backed up) */
  outside: Array<{ key: string; path: string }>;
}

export interface DetectOptions {
  /** unix sockets a bare `localhost` may mean (default: the usual server sockets) */
  sockets?: readonly string[];
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw new OcvaultError('SourceError', `cannot read ${file}: ${code ?? (e as Error).message}`, { path: file });
  }
}

/** Is this parsed config a store's catalog config (it names a database)? */
export function isStoreConfig(cfg: PhpConfig): boolean {
  return hasDefine(cfg, 'DB_DATABASE') && hasDefine(cfg, 'DB_HOSTNAME') && configValueOrUndefined(cfg, 'APPLICATION') !== 'Admin';
}

/**
 * The admin folder: 4.x — the folder whose config.php says APPLICATION = 'Admin'; older — a
 * folder whose config.php defines HTTP_CATALOG or DIR_CATALOG. With several candidates (an old
 * copy left beside the real one), the one whose DIR_APPLICATION names itself wins.
 */
export async function findAdmin(root: string, family: StoreFamily): Promise<StoreAdmin | undefined> {
  let entries: import('node:fs').Dirent[];
  try {
    entries = await fsp.readdir(root, { withFileTypes: true });
  } catch {
    return undefined;
  }
  const found: StoreAdmin[] = [];
  for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const file = path.join(root, e.name, 'config.php');
    const text = await readText(file);
    if (text === undefined) continue;
    const config = parsePhpConfig(text, file);
    const isAdmin = family === '4.x' || hasDefine(config, 'APPLICATION')
      ? configValueOrUndefined(config, 'APPLICATION') === 'Admin'
      : hasDefine(config, 'HTTP_CATALOG') || hasDefine(config, 'DIR_CATALOG');
    if (isAdmin) found.push({ folder: e.name, configFile: file, config });
  }
  const namesItself = found.find((a) => {
    const app = configValueOrUndefined(a.config, 'DIR_APPLICATION');
    return app !== undefined && path.posix.basename(stripSlash(app)) === a.folder;
  });
  return namesItself ?? found.find((a) => a.folder === 'admin') ?? found[0];
}

/**
 * The OpenCart store at `dir`, or undefined when `dir` holds no `config.php` naming a database.
 * A config that cannot be parsed is a BadConfig error (file and line).
 */
export async function detectStore(dir: string, opts: DetectOptions = {}): Promise<DetectedStore | undefined> {
  const root = stripSlash(path.resolve(dir));
  const configFile = path.join(root, 'config.php');
  const text = await readText(configFile);
  if (text === undefined) return undefined;
  const config = parsePhpConfig(text, configFile);
  if (!isStoreConfig(config)) return undefined;

  const indexText = await readText(path.join(root, 'index.php'));
  const version = (indexText !== undefined ? versionFromIndex(indexText, path.join(root, 'index.php')) : undefined) ?? '';
  const family = storeFamily(version || undefined, config);
  const admin = await findAdmin(root, family);
  const configRoot = configuredRoot(config) ?? (admin ? configuredRoot(admin.config, admin.folder) : undefined) ?? root;

  let storage: DetectedStore['storage'];
  let externalStorage: string | undefined;
  const storageValue = configValue(config, 'DIR_STORAGE');
  if (storageValue) {
    const abs = stripSlash(path.posix.isAbsolute(storageValue) ? path.posix.normalize(storageValue) : path.posix.join(root, storageValue));
    const external = !isInside(abs, configRoot) && !isInside(abs, root);
    if (external) externalStorage = abs;
    storage = { path: external ? abs : path.posix.join(root, path.posix.relative(isInside(abs, configRoot) ? configRoot : root, abs)), external };
  }
  const paths: PathMap = { configRoot, root, ...(externalStorage ? { externalStorage } : {}) };
  const outside: DetectedStore['outside'] = [];
  for (const d of config.defines) {
    if (!d.key.startsWith('DIR_') || d.key === 'DIR_OPENCART' || d.value === undefined || d.value === '') continue;
    const placed = placePath(paths, d.value);
    if (placed.area === 'outside' && !outside.some((o) => o.key === d.key)) outside.push({ key: d.key, path: placed.abs });
  }
  const url = configValueOrUndefined(config, 'HTTPS_SERVER') || configValueOrUndefined(config, 'HTTP_SERVER') || undefined;
  return {
    root, configFile, config, version, family,
    ...(admin ? { admin } : {}),
    paths,
    ...(storage ? { storage } : {}),
    db: storeDatabaseFromConfig(config, opts.sockets ?? DEFAULT_SOCKETS),
    ...(url ? { url } : {}),
    outside,
  };
}

/** The host of a store URL (`shop.example.com`), for a name when the database has none. */
export function urlHost(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url).host || undefined;
  } catch {
    return /^[a-z]+:\/\/([^/]+)/i.exec(url)?.[1];
  }
}
