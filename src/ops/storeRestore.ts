import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { errnoCode, OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { RestoreListener, RestoreProgress } from '../sources/files/restorer.js';
import { describeTarget, loadDatabase, parseConnectionUrl, redactConnectionUrl, type LoadResult } from '../sources/mysql/index.js';
import { detectStore, type DetectOptions } from '../opencart/detectStore.js';
import { DEFAULT_SOCKETS, storeDatabaseFromConfig, storeDatabaseUrl } from '../opencart/storeDatabase.js';
import { loadDatabaseManifest, rowSource } from './databaseSnapshot.js';
import { backup } from './backup.js';
import { backupDetectedStore } from './storeBackup.js';
import { databaseObjectCount, existingTables } from './storeQueries.js';
import { loadStoreSnapshot, siblingStorage, snapshotConfig, type StoreSnapshot } from './storeSnapshot.js';
import { restoreTree } from './restore.js';

export interface StoreRestoreOptions {
  snapshot: string;
  /** where the store's files go (required unless dbOnly) */
  target?: string;
  /** where a moved storage folder goes (default: its recorded path when restoring in place, else `<target>-storage`) */
  storageTarget?: string;
  /** load the database here instead of the database the restored config names */
  db?: string;
  filesOnly?: boolean;
  dbOnly?: boolean;
  includes: string[];
  tables?: string[];
  /** replace a live store / non-empty database, after a safety snapshot of them */
  force?: boolean;
  parallel?: number;
  detect?: DetectOptions;
  onProgress?: RestoreListener;
  /** entries that could not be recreated (the rest is restored) */
  onUnrestored?: (message: string) => void;
  onTable?: (table: string, rows: number) => void;
  /** told the id of the safety snapshot before anything is replaced */
  onSafetySnapshot?: (id: string) => void;
  /** told when the repository cannot be locked (full or read-only) and the file restore goes on without */
  onWarning?: (message: string) => void;
}

export interface StoreRestoreResult {
  id: string;
  store: string;
  files?: { target: string; storageTarget?: string; progress: RestoreProgress };
  database?: { target: string; load: LoadResult };
  safetySnapshot?: string;
}

async function isNonEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await fsp.readdir(dir)).length > 0;
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT') return false;
    if (code === 'ENOTDIR') return true;
    throw e;
  }
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(() => true, () => false);
}

function sameDatabase(a: string, b: string): boolean {
  const x = parseConnectionUrl(a);
  const y = parseConnectionUrl(b);
  const where = (t: typeof x): string => (t.socket !== undefined ? `socket:${t.socket}` : `${t.host}:${t.port}`);
  return where(x) === where(y) && x.database === y.database;
}

/** The database a store snapshot restores into: `--db`, else what its config.php names. */
export async function storeRestoreDatabaseUrl(repo: Repository, s: StoreSnapshot, configPath: string, sockets: readonly string[] = DEFAULT_SOCKETS): Promise<string> {
  const cfg = await snapshotConfig(repo, s, 'config.php', configPath);
  if (!cfg) throw new OcvaultError('Usage', `store snapshot ${s.id.slice(0, 8)} has no config.php to name its database; give --db URL`);
  return storeDatabaseUrl(storeDatabaseFromConfig(cfg.config, sockets));
}

/**
 * Restores a store snapshot: files into `target` (and a moved storage into its own folder),
 * then the database into the one the restored config names (or `db`). Over a live store or a
 * non-empty database only with `force`, and then after one safety snapshot of everything
 * that is about to be replaced (files and database), whose id `onSafetySnapshot` is told.
 */
export async function restoreStore(repo: Repository, opts: StoreRestoreOptions): Promise<StoreRestoreResult> {
  const s = await loadStoreSnapshot(repo, opts.snapshot);
  if (!s) throw new OcvaultError('Usage', `snapshot ${opts.snapshot} is not a store snapshot`);
  const { id, snapshot, info } = s;
  const wantFiles = !opts.dbOnly;
  const wantDb = !opts.filesOnly && snapshot.database !== undefined;
  if (opts.dbOnly && !snapshot.database) throw new OcvaultError('Usage', `snapshot ${id.slice(0, 8)} holds no database`);
  if (wantFiles && !opts.target) throw new OcvaultError('Usage', `snapshot ${id.slice(0, 8)} holds a store: give --target DIR (or --db-only)`);
  const target = opts.target ? path.resolve(opts.target) : undefined;
  const inPlace = target !== undefined && target === info.root;
  const storageTarget = wantFiles && s.storageTree ? path.resolve(opts.storageTarget ?? (inPlace ? info.storage : siblingStorage(target!))) : undefined;
  if (storageTarget && target && (storageTarget === target || storageTarget.startsWith(target + '/') || target.startsWith(storageTarget + '/'))) {
    throw new OcvaultError('Usage', `the storage folder ${storageTarget} and the store folder ${target} must not contain each other`);
  }
  const sockets = opts.detect?.sockets ?? DEFAULT_SOCKETS;
  const dbUrl = wantDb ? opts.db ?? (await storeRestoreDatabaseUrl(repo, s, path.join(target ?? info.root, 'config.php'), sockets)) : undefined;

  // What would be replaced?
  const liveStore = target !== undefined && (await exists(path.join(target, 'config.php')));
  const filesThere = target !== undefined && (await isNonEmptyDir(target));
  const storageThere = storageTarget !== undefined && (await isNonEmptyDir(storageTarget));
  let dbLive = false;
  if (dbUrl) {
    dbLive = opts.tables?.length
      ? (await existingTables(dbUrl, opts.tables)).length > 0
      : (await databaseObjectCount(dbUrl)) > 0;
  }
  const live: string[] = [];
  if (liveStore) live.push(`${target} holds a store`);
  if (storageThere) live.push(`the storage folder ${storageTarget} is not empty`);
  if (dbLive) live.push(`${describeTarget(parseConnectionUrl(dbUrl!))}${opts.db ? '' : ', which the restored config.php names,'} is not empty`);
  if (live.length && !opts.force) {
    const elsewhere = dbLive && !opts.db ? ' (or load the database elsewhere with --db URL)' : '';
    throw new OcvaultError('TargetNotEmpty', `${live.join('; ')}: restore somewhere empty${elsewhere}, or use --force (a snapshot of what is replaced is taken first)`, { snapshot: id });
  }

  let safetySnapshot: string | undefined;
  if (live.length || (opts.force && (filesThere || storageThere || dbLive))) {
    const reason = `before restoring snapshot ${id.slice(0, 8)}`;
    const current = liveStore ? await detectStore(target!, opts.detect).catch(() => undefined) : undefined;
    const currentStorage = current?.storage?.external ? current.storage.path : undefined;
    const sameThings = current !== undefined && (!dbLive || sameDatabase(storeDatabaseUrl(current.db), dbUrl!)) && (storageThere ? currentStorage === storageTarget : true) && !opts.tables?.length;
    if (sameThings && dbLive) {
      // the live store is exactly what is replaced: a store snapshot, restorable in one step
      const r = await backupDetectedStore(repo, current!, { kind: 'full', tags: ['pre-restore'], excludes: [], defaultExcludes: false });
      safetySnapshot = r.id;
    } else {
      const paths = [...(filesThere ? [target!] : []), ...(storageThere ? [storageTarget!] : [])];
      const r = await backup(repo, {
        paths,
        ...(dbLive ? { database: { url: dbUrl!, ...(opts.tables?.length ? { tables: opts.tables } : {}) } } : {}),
        kind: 'full',
        tags: ['pre-restore'],
        excludes: [],
        meta: { reason },
      });
      safetySnapshot = r.id;
    }
    opts.onSafetySnapshot?.(safetySnapshot);
  }

  const result: StoreRestoreResult = { id, store: info.store, ...(safetySnapshot ? { safetySnapshot } : {}) };
  if (wantFiles) {
    await repo.lockForReading(opts.onWarning);
    const total = { files: 0, dirs: 0, symlinks: 0, specials: 0, bytes: 0 };
    const add = (p: RestoreProgress): void => {
      total.files += p.files;
      total.dirs += p.dirs;
      total.symlinks += p.symlinks;
      total.specials += p.specials;
      total.bytes += p.bytes;
    };
    add(await restoreTree(repo, s.rootTree, target!, opts.includes, opts.onProgress, opts.onUnrestored));
    if (s.storageTree && storageTarget) add(await restoreTree(repo, s.storageTree, storageTarget, opts.includes, opts.onProgress, opts.onUnrestored));
    result.files = { target: target!, ...(storageTarget ? { storageTarget } : {}), progress: total };
  }
  if (wantDb && dbUrl) {
    await repo.lockShared();
    repo.startWorkers();
    const manifest = await loadDatabaseManifest(repo, snapshot.database!);
    const load = await loadDatabase(dbUrl, manifest, rowSource(repo), { force: dbLive, tables: opts.tables, parallel: opts.parallel, onTable: opts.onTable });
    result.database = { target: redactConnectionUrl(parseConnectionUrl(dbUrl)), load };
  }
  return result;
}
