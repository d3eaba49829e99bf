import * as path from 'node:path';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import { detectStore, urlHost, type DetectedStore, type DetectOptions } from '../opencart/detectStore.js';
import { storeDatabaseUrl } from '../opencart/storeDatabase.js';
import { defaultStoreExcludes, storeUserExclude, type TreeLayout } from '../opencart/storeExcludes.js';
import { storeMeta, type StoreSnapshotInfo } from '../opencart/storeSnapshotInfo.js';
import { volatileTableNames } from '../opencart/volatileTables.js';
import { backup, type BackupOptions, type BackupResult } from './backup.js';

export interface StoreBackupOptions extends Omit<BackupOptions, 'paths' | 'database' | 'store' | 'meta'> {
  /** leave out the caches, logs and sessions (default true) */
  defaultExcludes?: boolean;
  /** save session-type tables without their rows */
  skipVolatile?: boolean;
  /** dump this database instead of the one the config names */
  databaseUrl?: string;
  /** database connections dumping at once */
  parallel?: number;
  /** more tables saved without rows */
  schemaOnly?: string[];
  /** save the store's files only, not its database */
  filesOnly?: boolean;
}

export interface StorePlan {
  store: DetectedStore;
  info: StoreSnapshotInfo;
  options: BackupOptions;
  /** the patterns the store's defaults added */
  defaultExcludes: string[];
  /** things worth telling the user (folders left out because they are outside the store) */
  notes: string[];
}

/**
 * How a detected store is saved in one snapshot: the store root, plus a DIR_STORAGE moved
 * outside it (split layout, see storeSnapshotInfo.ts), the database the config names, the
 * default excludes, tags (store name, `opencart-<version>`, URL) and the store facts in `meta`.
 */
export async function planStoreBackup(store: DetectedStore, opts: StoreBackupOptions): Promise<StorePlan> {
  const url = opts.databaseUrl ?? storeDatabaseUrl(store.db);
  const external = store.storage?.external === true;
  const rootEntry = path.basename(store.root);
  const storageEntry = external ? path.basename(store.storage!.path) : undefined;
  if (external && rootEntry === storageEntry) {
    throw new OcvaultError('Usage', `the store ${store.root} and its moved storage ${store.storage!.path} have the same folder name; ocvault saves both in one snapshot by name, so rename one of them`);
  }
  const layout: TreeLayout = external ? { layout: 'split', rootEntry, storageEntry } : { layout: 'root' };
  // loaded here, not with the module: the database code is not needed for a files-only backup
  const { storeNameFromDatabase } = await import('./storeQueries.js');
  const name = (await storeNameFromDatabase(url, store.db.prefix)) ?? urlHost(store.url) ?? rootEntry;
  const info: StoreSnapshotInfo = {
    store: name,
    version: store.version,
    family: store.family,
    url: store.url ?? '',
    admin: store.admin?.folder ?? '',
    dbPrefix: store.db.prefix,
    root: store.root,
    storage: store.storage?.path ?? '',
    layout: layout.layout,
    ...(external ? { rootEntry, storageEntry } : {}),
  };
  const defaults = opts.defaultExcludes === false ? [] : defaultStoreExcludes(store, layout);
  const tags = [name, `opencart-${store.version || store.family}`, ...(store.url ? [store.url] : [])];
  for (const t of opts.tags) if (!tags.includes(t)) tags.push(t);
  const notes = store.outside.map((o) => `${o.key} (${o.path}) is outside the store and its storage folder: it is not in this snapshot`);
  const { defaultExcludes: _d, skipVolatile: _s, databaseUrl: _u, parallel: _p, schemaOnly: _o, ...common } = opts;
  const schemaOnly = [...(opts.skipVolatile ? volatileTableNames(store.db.prefix) : []), ...(opts.schemaOnly ?? [])];
  return {
    store,
    info,
    defaultExcludes: defaults,
    notes,
    options: {
      ...common,
      paths: external ? [store.root, store.storage!.path] : [store.root],
      database: { url, ...(schemaOnly.length ? { schemaOnly } : {}), ...(opts.parallel ? { parallel: opts.parallel } : {}) },
      store: name,
      meta: storeMeta(info),
      tags,
      excludes: [...defaults, ...opts.excludes.map((e) => storeUserExclude(e, store, layout))],
    },
  };
}

/** Backs up the store at `dir` in one snapshot (files, moved storage, database). */
export async function storeBackup(repo: Repository, dir: string, opts: StoreBackupOptions & { detect?: DetectOptions }): Promise<BackupResult & { plan: StorePlan }> {
  const store = await detectStore(dir, opts.detect);
  if (!store) throw new OcvaultError('Usage', `${dir} is not an OpenCart store (no config.php naming a database)`);
  return backupDetectedStore(repo, store, opts);
}

export async function backupDetectedStore(repo: Repository, store: DetectedStore, opts: StoreBackupOptions): Promise<BackupResult & { plan: StorePlan }> {
  const { detect: _detect, ...rest } = opts as StoreBackupOptions & { detect?: DetectOptions };
  const plan = await planStoreBackup(store, rest);
  for (const n of plan.notes) opts.onWarning?.(n);
  const result = await backup(repo, opts.filesOnly ? { ...plan.options, database: undefined } : plan.options);
  return { ...result, plan };
}
