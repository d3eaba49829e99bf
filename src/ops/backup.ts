import * as path from 'node:path';
import { hostname, userInfo } from 'node:os';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { DatabaseStats, Snapshot, SnapshotKind } from '../repo/snapshot.js';
import type { BlobId } from '../repo/blobId.js';
import { prestartBlobWorkers } from '../repo/blobWorkers.js';
import { Archiver, type ArchiveProgress } from '../sources/files/archiver.js';
import { scanRoots, type ScannedDir } from '../sources/files/scanTree.js';
import { parsePattern } from '../sources/files/glob.js';
import { scanTotals, type ScanTotals } from '../sources/files/scanner.js';
import type { TableDump } from '../sources/mysql/index.js';
import { selectParent } from './selectParent.js';

/** Temporary uploads older than this were left by a process that died. */
const STALE_TEMPORARY_MS = 6 * 60 * 60 * 1000;

export interface DatabaseSource {
  url: string;
  /** tables saved without rows (sessions and the like) */
  schemaOnly?: string[];
  /** connections dumping at once */
  parallel?: number;
  /** only these tables (default: all) */
  tables?: string[];
}

export interface BackupOptions {
  paths: string[];
  database?: DatabaseSource;
  kind: SnapshotKind;
  tags: string[];
  excludes: string[];
  time?: Date;
  host?: string;
  store?: string;
  meta?: Record<string, string>;
  onWarning?: (message: string) => void;
  /** things left out that lose nothing (a socket) */
  onNote?: (message: string) => void;
  /** called about every 100 ms while files are saved; `totals` fill in as a scan proceeds */
  onProgress?: (p: ArchiveProgress, totals: ScanTotals) => void;
  onTable?: (t: TableDump) => void;
  /** told once the database is dumped, with what was locked */
  onDatabase?: (s: DatabaseStats) => void;
  /** what was started for this backup while the repository was opened (same paths and excludes) */
  ahead?: BackupAhead;
}

export interface BackupResult {
  id: string;
  snapshot: Snapshot;
  warnings: string[];
  notes: string[];
}

/**
 * What a backup starts while the repository's key is derived: in a repository without a
 * snapshot there is no parent and every file will be read, so the blob workers load meanwhile
 * (a 20-file first backup: 0.36 s against 0.40).
 */
export function backupWhileUnlocking(listed: { snapshots: number }): void {
  if (listed.snapshots === 0) prestartBlobWorkers();
}

/**
 * backupWhileUnlocking for an incremental backup of `paths` (as BackupOptions has them, with
 * its excludes), which also lists their trees meanwhile when the repository has snapshots: the
 * walk needs every directory's key first (scanTree.ts), and scrypt leaves the main thread idle
 * for ~0.2 s. Given to the backup as BackupOptions.ahead.
 */
export class BackupAhead {
  private scanned?: Promise<Map<string, ScannedDir>>;
  private taken = false;

  constructor(private readonly paths: readonly string[], private readonly excludes: readonly string[]) {}

  readonly whileUnlocking = (listed: { snapshots: number }): void => {
    if (listed.snapshots === 0) prestartBlobWorkers();
    else if (!this.taken) {
      this.scanned = scanRoots(this.paths.map((p) => path.resolve(p)), this.excludes.map(parsePattern));
      // a backup that finds no parent never awaits it
      this.scanned.catch(() => undefined);
    }
  };

  /** The listing, if one started; none starts after this (the walk lists the trees itself). */
  takeScanned(): Promise<Map<string, ScannedDir>> | undefined {
    this.taken = true;
    return this.scanned;
  }
}

/**
 * Backs up a database and/or paths into one new snapshot: the database first (so a failing
 * database costs little), then the files; packs, then index, then the snapshot object. A
 * failure leaves no snapshot, but what was already stored is indexed and reused next time.
 */
export async function backup(repo: Repository, opts: BackupOptions): Promise<BackupResult> {
  if (opts.paths.length === 0 && !opts.database) throw new OcvaultError('Usage', 'nothing to back up: give at least one path or --db');
  const started = Date.now();
  const paths = opts.paths.map((p) => path.resolve(p));
  const host = opts.host ?? hostname();
  // The database code (~30 modules) loads only for a backup that has a database: a files-only
  // backup started ~40 ms sooner without it (an unchanged one takes under a second).
  const mysql = opts.database ? await import('../sources/mysql/index.js') : undefined;
  const target = mysql && opts.database ? mysql.parseConnectionUrl(opts.database.url) : undefined;
  await repo.lockShared();
  await repo.adoptUnindexedPacks();
  await repo.backend.removeStaleTemporaries?.(STALE_TEMPORARY_MS);
  const parent = selectParent(repo.snapshots(), opts.kind, paths, host, opts.store);
  // A differential with no full to compare with is a full.
  const kind: SnapshotKind = opts.kind === 'differential' && !parent ? 'full' : opts.kind;
  const workers = repo.startWorkers();

  let database: BlobId | undefined;
  let databaseStats: DatabaseStats | undefined;
  if (mysql && opts.database && target) {
    try {
      const { backupDatabase } = await import('./databaseSnapshot.js');
      const db = await backupDatabase(repo, workers, opts.database.url, { schemaOnly: opts.database.schemaOnly, parallel: opts.database.parallel, tables: opts.database.tables, onTable: opts.onTable });
      const m = db.manifest;
      database = db.id;
      databaseStats = {
        source: mysql.redactConnectionUrl(target),
        database: m.database,
        tables: m.tables.length,
        rows: m.tables.reduce((n, t) => n + t.rowCount, 0),
        rowBytes: m.tables.reduce((n, t) => n + t.rowBytes, 0),
        addedBytes: db.addedBytes,
        durationMs: db.durationMs,
        lockStrategy: m.locks.strategy,
        lockedMs: Math.round(m.locks.allTablesLockedMs + m.locks.nonTransactionalLockedMs),
        ...(m.binlog ? { binlog: m.binlog } : {}),
      };
      opts.onDatabase?.(databaseStats);
    } catch (e) {
      await repo.flush().catch(() => undefined);
      if (e instanceof OcvaultError) throw new OcvaultError(e.code, `${e.message}; no snapshot was saved`, e.data);
      throw e;
    }
  }

  const excludes = opts.excludes.map(parsePattern);
  const totals: ScanTotals = { files: 0, bytes: 0, done: false };
  const archiver = new Archiver(repo, workers, {
    excludes,
    readAll: kind === 'full',
    parentTree: parent?.snapshot.tree,
    reuseDirTrees: kind === 'incremental' && parent !== undefined,
    scanned: opts.ahead?.takeScanned(),
    onWarning: opts.onWarning ?? (() => undefined),
    onNote: opts.onNote,
  });
  let tree: BlobId | undefined;
  if (paths.length) {
    if (opts.onProgress) void scanTotals(paths, excludes, totals);
    const ticker = opts.onProgress ? setInterval(() => opts.onProgress!(archiver.progress, totals), 100) : undefined;
    try {
      tree = await archiver.saveRoots(paths);
    } finally {
      if (ticker) clearInterval(ticker);
    }
    opts.onProgress?.(archiver.progress, totals);
  }
  await repo.flush();
  const p = archiver.progress;
  const snapshot: Snapshot = {
    version: 1,
    time: (opts.time ?? new Date()).toISOString(),
    host,
    user: safeUser(),
    kind,
    ...(parent ? { parent: parent.id } : {}),
    tags: opts.tags,
    paths,
    ...(opts.store ? { store: opts.store } : {}),
    ...(tree ? { tree } : {}),
    ...(database ? { database, databaseStats } : {}),
    ...(opts.meta ? { meta: opts.meta } : {}),
    stats: {
      files: p.files,
      dirs: p.dirs,
      bytes: p.bytes,
      newFiles: p.newFiles,
      changedFiles: p.changedFiles,
      unchangedFiles: p.unchangedFiles,
      addedBytes: p.addedBytes + (databaseStats?.addedBytes ?? 0),
      addedBlobs: p.addedBlobs,
      durationMs: Date.now() - started,
      errors: p.errors,
    },
    ...(archiver.warnings.length ? { warnings: archiver.warnings } : {}),
  };
  const id = await repo.saveSnapshot(snapshot);
  // Only now is every blob the trees name indexed. A cache that cannot be written costs the
  // next backup a full walk, not this snapshot.
  try {
    archiver.recordDirTrees();
  } catch (e) {
    if (!(e instanceof OcvaultError)) throw e;
  }
  return { id, snapshot, warnings: archiver.warnings, notes: archiver.notes };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}
