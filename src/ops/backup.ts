import * as path from 'node:path';
import { hostname, userInfo } from 'node:os';
import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { Snapshot, SnapshotKind } from '../repo/snapshot.js';
import { Archiver, type ArchiveProgress } from '../sources/files/archiver.js';
import { parsePattern } from '../sources/files/glob.js';
import { scanTotals, type ScanTotals } from '../sources/files/scanner.js';
import { selectParent } from './selectParent.js';

export interface BackupOptions {
  paths: string[];
  kind: SnapshotKind;
  tags: string[];
  excludes: string[];
  time?: Date;
  host?: string;
  onWarning?: (message: string) => void;
  /** called about every 100 ms while the backup runs; `totals` fill in as a scan proceeds */
  onProgress?: (p: ArchiveProgress, totals: ScanTotals) => void;
}

export interface BackupResult {
  id: string;
  snapshot: Snapshot;
  warnings: string[];
}

/** Backs up paths into a new snapshot: packs, then index, then the snapshot object. */
export async function backup(repo: Repository, opts: BackupOptions): Promise<BackupResult> {
  if (opts.paths.length === 0) throw new OcvaultError('Usage', 'nothing to back up: give at least one path');
  const started = Date.now();
  const paths = opts.paths.map((p) => path.resolve(p));
  const host = opts.host ?? hostname();
  await repo.lockShared();
  const parent = selectParent(repo.snapshots(), opts.kind, paths, host);
  // A differential with no full to compare with is a full.
  const kind: SnapshotKind = opts.kind === 'differential' && !parent ? 'full' : opts.kind;
  const workers = repo.startWorkers();
  const excludes = opts.excludes.map(parsePattern);
  const totals: ScanTotals = { files: 0, bytes: 0, done: false };
  if (opts.onProgress) void scanTotals(paths, excludes, totals);
  const archiver = new Archiver(repo, workers, {
    excludes,
    readAll: kind === 'full',
    parentTree: parent?.snapshot.tree,
    onWarning: opts.onWarning ?? (() => undefined),
  });
  const ticker = opts.onProgress ? setInterval(() => opts.onProgress!(archiver.progress, totals), 100) : undefined;
  let tree: string;
  try {
    tree = await archiver.saveRoots(paths);
    await repo.flush();
  } finally {
    if (ticker) clearInterval(ticker);
  }
  opts.onProgress?.(archiver.progress, totals);
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
    tree,
    stats: {
      files: p.files,
      dirs: p.dirs,
      bytes: p.bytes,
      newFiles: p.newFiles,
      changedFiles: p.changedFiles,
      unchangedFiles: p.unchangedFiles,
      addedBytes: p.addedBytes,
      addedBlobs: p.addedBlobs,
      durationMs: Date.now() - started,
      errors: p.errors,
    },
    ...(archiver.warnings.length ? { warnings: archiver.warnings } : {}),
  };
  const id = await repo.saveSnapshot(snapshot);
  return { id, snapshot, warnings: archiver.warnings };
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return '';
  }
}
