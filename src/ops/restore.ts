import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import type { BlobId } from '../repo/blobId.js';
import { Restorer, type RestoreListener, type RestoreProgress } from '../sources/files/restorer.js';
import { parsePattern } from '../sources/files/glob.js';

export interface RestoreOptions {
  snapshot: string;
  target: string;
  includes: string[];
  onProgress?: RestoreListener;
  /** told when the repository cannot be locked (full or read-only) and the restore goes on without */
  onWarning?: (message: string) => void;
}

export interface RestoreResult {
  id: string;
  progress: RestoreProgress;
  /** entries that could not be recreated; everything else was restored */
  warnings: string[];
}

/** Restores a snapshot's files under the target directory. */
export async function restore(repo: Repository, opts: RestoreOptions): Promise<RestoreResult> {
  const { id, snapshot } = repo.resolveSnapshot(opts.snapshot);
  if (!snapshot.tree) throw new OcvaultError('Usage', `snapshot ${id.slice(0, 8)} holds no files`);
  await repo.lockForReading(opts.onWarning);
  const warnings: string[] = [];
  const progress = await restoreTree(repo, snapshot.tree, opts.target, opts.includes, opts.onProgress, (w) => warnings.push(w));
  return { id, progress, warnings };
}

/** Restores a tree (all of it, or what `includes` select) into `target`; `onUnrestored` hears what could not be recreated. */
export async function restoreTree(repo: Repository, tree: BlobId, target: string, includes: string[], onProgress?: RestoreListener, onUnrestored?: (message: string) => void): Promise<RestoreProgress> {
  repo.startWorkers();
  const restorer = new Restorer(repo, { includes: includes.map(parsePattern), owners: process.getuid?.() === 0 });
  await restorer.restore(tree, target, onProgress);
  for (const w of restorer.warnings) onUnrestored?.(w);
  return restorer.progress;
}
