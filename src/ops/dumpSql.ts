import { OcvaultError } from '../errors/OcvaultError.js';
import type { Repository } from '../repo/repository.js';
import { writeSqlDump, type SqlSink, type SqlWriterResult } from '../sources/mysql/index.js';
import { loadDatabaseManifest, rowSource } from './databaseSnapshot.js';

export interface DumpSqlOptions {
  snapshot: string;
  tables?: string[];
  /** begin with CREATE DATABASE + USE of this name */
  database?: string;
  dropTables?: boolean;
}

/** Writes a snapshot's database as standard SQL the stock client loads. */
export async function dumpSql(repo: Repository, opts: DumpSqlOptions, sink: SqlSink): Promise<SqlWriterResult> {
  const { id, snapshot } = repo.resolveSnapshot(opts.snapshot);
  if (!snapshot.database) throw new OcvaultError('Usage', `snapshot ${id.slice(0, 8)} holds no database`);
  const manifest = await loadDatabaseManifest(repo, snapshot.database);
  if (opts.tables?.length) {
    const have = new Set(manifest.tables.map((t) => t.name));
    const missing = opts.tables.filter((t) => !have.has(t));
    if (missing.length) throw new OcvaultError('Usage', `snapshot ${id.slice(0, 8)} has no table ${missing.join(', ')}`);
  }
  await repo.lockShared();
  repo.startWorkers();
  return writeSqlDump(manifest, rowSource(repo), sink, { tables: opts.tables, database: opts.database, dropTables: opts.dropTables });
}
