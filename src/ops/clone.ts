import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { errnoCode, OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { RestoreListener, RestoreProgress } from '../sources/files/restorer.js';
import { describeTarget, loadDatabase, parseConnectionUrl, redactConnectionUrl, type ConnectionTarget, type LoadResult } from '../sources/mysql/index.js';
import { cloneConfigValues, withTrailingSlash, type CloneDestination, type CloneSource } from '../opencart/cloneConfig.js';
import { configValueOrUndefined, parsePhpConfig, rewritePhpConfig } from '../opencart/phpConfig.js';
import { storeDatabaseFromConfig } from '../opencart/storeDatabase.js';
import { configuredRoot, isInside, stripSlash, volatileFolders } from '../opencart/storePaths.js';
import { stagingStatements, stagingStoreUrls, type StagingFacts } from '../opencart/stagingSql.js';
import { loadDatabaseManifest, rowSource } from './databaseSnapshot.js';
import { databaseObjectCount, columnNames, tableNames, withDatabase } from './storeQueries.js';
import { loadStoreSnapshot, siblingStorage, snapshotConfig } from './storeSnapshot.js';
import { restoreTree } from './restore.js';
import { str } from '../sources/mysql/dbConnection.js';

export interface CloneOptions {
  snapshot: string;
  /** the staging copy's folder (must be empty or not exist) */
  to: string;
  /** the staging database (must be empty or not exist) */
  db: string;
  /** the staging copy's URL */
  url: string;
  /** where a moved storage folder goes (default `<to>-storage`) */
  storage?: string;
  noMail?: boolean;
  maintenance?: boolean;
  /** extra stores' URLs by store_id (default: a subdomain of the staging host, see stagingSql.ts) */
  storeUrls?: Record<number, string>;
  parallel?: number;
  onProgress?: RestoreListener;
  /** entries that could not be recreated (the rest is restored) */
  onUnrestored?: (message: string) => void;
  onTable?: (table: string, rows: number) => void;
}

export interface CloneResult {
  id: string;
  store: string;
  root: string;
  storage?: string;
  url: string;
  adminUrl?: string;
  database: string;
  configs: string[];
  stores: Array<{ id: number; url: string }>;
  emptied: string[];
  files: RestoreProgress;
  load: LoadResult;
  statements: number;
  /** things the user should know about the copy */
  notes: string[];
}

async function emptyOrMissing(dir: string): Promise<boolean> {
  try {
    return (await fsp.readdir(dir)).length === 0;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return true;
    throw e;
  }
}

function overlaps(a: string, b: string): boolean {
  return isInside(a, b) || isInside(b, a);
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '']);

/** Could `a` and `b` be the same database? Same name on the same (or an equally local) server. */
function maybeSameDatabase(a: ConnectionTarget, b: ConnectionTarget): boolean {
  if (a.database !== b.database) return false;
  const local = (t: ConnectionTarget): boolean => t.socket !== undefined || LOCAL_HOSTS.has(t.host);
  if (local(a) && local(b)) return true;
  return a.socket === undefined && b.socket === undefined && a.host === b.host && a.port === b.port;
}

/** Deletes what a folder holds except the guard files OpenCart ships (index.html, .htaccess). */
async function emptyFolder(dir: string): Promise<boolean> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return false;
    throw e;
  }
  for (const n of names) if (n !== 'index.html' && n !== '.htaccess') await fsp.rm(path.join(dir, n), { recursive: true, force: true });
  return true;
}

/**
 * Makes a staging copy of a store snapshot: files at `to` (a moved storage at `storage`),
 * the database loaded into `db`, both config files rewritten for the new place, URL and
 * database, extra stores moved to staging URLs, caches emptied, sessions truncated,
 * optionally mail off and maintenance on. Only `to`, the new storage folder and `db` are
 * written: the source store's folders and database are refused as targets.
 */
export async function cloneStore(repo: Repository, opts: CloneOptions): Promise<CloneResult> {
  const s = await loadStoreSnapshot(repo, opts.snapshot);
  if (!s) throw new OcvaultError('Usage', `snapshot ${opts.snapshot} is not a store snapshot (back up a store folder to get one)`);
  const { id, snapshot, info } = s;
  if (!snapshot.database) throw new OcvaultError('Usage', `store snapshot ${id.slice(0, 8)} holds no database`);
  let url: string;
  try {
    url = withTrailingSlash(new URL(opts.url).toString());
  } catch {
    throw new OcvaultError('Usage', `--url ${opts.url} is not a URL (e.g. https://staging.example.com/)`);
  }
  const root = stripSlash(path.resolve(opts.to));
  const storage = s.storageTree ? stripSlash(path.resolve(opts.storage ?? siblingStorage(root))) : undefined;
  if (opts.storage && !s.storageTree) throw new OcvaultError('Usage', `store snapshot ${id.slice(0, 8)} keeps its storage inside the store; --storage applies only to a moved storage folder`);

  // Never write over the source.
  const sourceDirs = [info.root, ...(info.storage ? [info.storage] : [])].filter((p) => p !== '');
  for (const [what, dir] of [['--to', root], ...(storage ? [['--storage', storage]] : [])] as Array<[string, string]>) {
    for (const src of sourceDirs) if (overlaps(dir, src)) throw new OcvaultError('Usage', `${what} ${dir} overlaps the source store's folder ${src}; a clone never writes to its source`);
    if (!(await emptyOrMissing(dir))) throw new OcvaultError('TargetNotEmpty', `${dir} is not empty; clone into a new or empty folder`, { path: dir });
  }
  if (storage && overlaps(root, storage)) throw new OcvaultError('Usage', `the storage folder ${storage} and the store folder ${root} must not contain each other`);
  const dbTarget = parseConnectionUrl(opts.db);
  if (snapshot.databaseStats?.source) {
    const source = parseConnectionUrl(snapshot.databaseStats.source);
    if (maybeSameDatabase(source, dbTarget)) throw new OcvaultError('Usage', `--db names the source store's database (${describeTarget(source)}); a clone needs its own database`);
  }
  if ((await databaseObjectCount(opts.db)) > 0) throw new OcvaultError('TargetNotEmpty', `${describeTarget(dbTarget)} is not empty; clone into a new or empty database`, { database: dbTarget.database });

  // The configs, as the source wrote them.
  const catalog = await snapshotConfig(repo, s, 'config.php', path.join(info.root, 'config.php'));
  if (!catalog) throw new OcvaultError('CorruptObject', `store snapshot ${id.slice(0, 8)} has no config.php`, { snapshot: id });
  const admin = info.admin ? await snapshotConfig(repo, s, `${info.admin}/config.php`, path.join(info.root, info.admin, 'config.php')) : undefined;
  const srcDb = storeDatabaseFromConfig(catalog.config, []);
  const source: CloneSource = {
    configRoot: configuredRoot(catalog.config) ?? (admin ? configuredRoot(admin.config, info.admin) : undefined) ?? info.root,
    ...(info.storage && s.storageTree ? { externalStorage: stripSlash(configValueOrUndefined(catalog.config, 'DIR_STORAGE') ?? info.storage) } : {}),
    urls: [configValueOrUndefined(catalog.config, 'HTTP_SERVER'), configValueOrUndefined(catalog.config, 'HTTPS_SERVER'), admin && configValueOrUndefined(admin.config, 'HTTP_CATALOG'), admin && configValueOrUndefined(admin.config, 'HTTPS_CATALOG'), info.url].filter((u): u is string => !!u),
    admin: info.admin,
    db: { persistent: srcDb.persistent, hasPortDefine: srcDb.hasPortDefine },
  };
  const dest: CloneDestination = {
    root,
    ...(storage ? { storage } : {}),
    url,
    db: { host: dbTarget.host, port: dbTarget.port, ...(dbTarget.socket !== undefined ? { socket: dbTarget.socket } : {}), user: dbTarget.user, password: dbTarget.password, database: dbTarget.database },
  };

  // Files.
  await repo.lockShared();
  const files = await restoreTree(repo, s.rootTree, root, [], opts.onProgress, opts.onUnrestored);
  if (s.storageTree && storage) {
    const p = await restoreTree(repo, s.storageTree, storage, [], opts.onProgress, opts.onUnrestored);
    files.files += p.files;
    files.dirs += p.dirs;
    files.symlinks += p.symlinks;
    files.specials += p.specials;
    files.bytes += p.bytes;
  }
  const configs: string[] = [];
  const rewrite = async (rel: string, role: 'catalog' | 'admin', text: string): Promise<void> => {
    const file = path.join(root, rel);
    const cfg = parsePhpConfig(text, file);
    await fsp.writeFile(file, rewritePhpConfig(text, file, cloneConfigValues(cfg, role, source, dest)));
    configs.push(file);
  };
  await rewrite('config.php', 'catalog', catalog.text);
  if (admin) await rewrite(path.join(info.admin, 'config.php'), 'admin', admin.text);

  // Caches and file sessions of the copy, found through its new config.
  const newCatalog = parsePhpConfig(await fsp.readFile(path.join(root, 'config.php'), 'utf8'), path.join(root, 'config.php'));
  const emptied: string[] = [];
  for (const f of volatileFolders(newCatalog, info.family)) {
    if (f.what === 'logs') continue;
    const dir = stripSlash(path.posix.isAbsolute(f.configured) ? path.posix.normalize(f.configured) : path.posix.join(root, f.configured));
    if (!(isInside(dir, root) || (storage && isInside(dir, storage))) || dir === root || dir === storage) continue;
    if (await emptyFolder(dir)) emptied.push(dir);
  }

  // Database.
  repo.startWorkers();
  const manifest = await loadDatabaseManifest(repo, snapshot.database);
  const load = await loadDatabase(opts.db, manifest, rowSource(repo), { force: false, parallel: opts.parallel, onTable: opts.onTable });
  const prefix = info.dbPrefix;
  const { statements, stores } = await withDatabase(opts.db, async (conn) => {
    const tables = await tableNames(conn);
    const storeTable = prefix + 'store';
    const storeRows = tables.includes(storeTable) ? await conn.query(`SELECT store_id AS id FROM \`${storeTable.replace(/`/g, '``')}\` ORDER BY store_id`, [], 'read stores') : [];
    const facts: StagingFacts = {
      prefix,
      family: info.family,
      tables,
      settingColumns: await columnNames(conn, prefix + 'setting'),
      storeColumns: await columnNames(conn, storeTable),
      stores: storeRows.map((r) => ({ id: Number(str(r, 'id')), url: '' })),
    };
    const choices = { url, storeUrls: opts.storeUrls, noMail: opts.noMail, maintenance: opts.maintenance };
    const list = stagingStatements(facts, choices);
    for (const st of list) {
      const r = await conn.run(st.sql, st.values ?? [], 'prepare the staging database');
      if (r.affectedRows === 0 && st.orElse) await conn.run(st.orElse.sql, st.orElse.values ?? [], 'prepare the staging database');
    }
    return { statements: list.length, stores: stagingStoreUrls(facts, choices) };
  }, { action: 'prepare the staging database' });

  const notes: string[] = [];
  if (dbTarget.socket !== undefined) {
    notes.push(srcDb.hasPortDefine
      ? `the configs say DB_HOSTNAME 'localhost': PHP then connects through its default socket (mysqli.default_socket), not ${dbTarget.socket}`
      : `the configs say DB_HOSTNAME 'localhost:${dbTarget.socket}'`);
  }
  return {
    id,
    store: info.store,
    root,
    ...(storage ? { storage } : {}),
    url,
    ...(info.admin ? { adminUrl: `${url}${info.admin}/` } : {}),
    database: redactConnectionUrl(dbTarget),
    configs,
    stores,
    emptied,
    files,
    load,
    statements,
    notes,
  };
}
