import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import { loadDatabase, type LoadResult } from '../sources/mysql/index.js';
import { rowSource, snapshotDatabase } from './databaseSnapshot.js';
import { backup } from './backup.js';

export interface RestoreDatabaseOptions {
  snapshot: string;
  url: string;
  tables?: string[];
  /** replace what the target database holds, after taking a safety snapshot of it */
  force?: boolean;
  parallel?: number;
  onTable?: (table: string, rows: number) => void;
  /** told the id of the safety snapshot before anything is replaced */
  onSafetySnapshot?: (id: string) => void;
}

export interface RestoreDatabaseResult {
  id: string;
  load: LoadResult;
  safetySnapshot?: string;
}

/**
 * Loads a snapshot's database into the database at `url` (keys off, bulk loading), then reads
 * every table back and compares its checksum with the recorded one. A database that is not
 * empty is only replaced with `force`, and then a snapshot of it is taken first.
 */
export async function restoreDatabase(repo: Repository, opts: RestoreDatabaseOptions): Promise<RestoreDatabaseResult> {
  const { id, manifest } = await snapshotDatabase(repo, opts.snapshot, opts.tables);
  await repo.lockShared();
  repo.startWorkers();
  const load = (force: boolean): Promise<LoadResult> =>
    loadDatabase(opts.url, manifest, rowSource(repo), { force, tables: opts.tables, parallel: opts.parallel, onTable: opts.onTable });
  try {
    return { id, load: await load(false) };
  } catch (e) {
    if (!(e instanceof OcvaultError && e.code === 'TargetNotEmpty') || !opts.force) throw e;
  }
  const safety = await backup(repo, {
    paths: [],
    database: { url: opts.url, ...(opts.tables?.length ? { tables: opts.tables } : {}) },
    kind: 'full',
    tags: ['pre-restore'],
    excludes: [],
    meta: { reason: `before restoring snapshot ${id.slice(0, 8)}` },
  });
  opts.onSafetySnapshot?.(safety.id);
  return { id, load: await load(true), safetySnapshot: safety.id };
}
