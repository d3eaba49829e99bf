import type { Repository } from '../repo/repository.js';
import { writeSqlDump, type SqlSink, type SqlWriterResult } from '../sources/mysql/index.js';
import { rowSource, snapshotDatabase } from './databaseSnapshot.js';

export interface DumpSqlOptions {
  snapshot: string;
  tables?: string[];
  /** begin with CREATE DATABASE + USE of this name */
  database?: string;
  dropTables?: boolean;
}

/** Writes a snapshot's database as standard SQL the stock client loads. */
export async function dumpSql(repo: Repository, opts: DumpSqlOptions, sink: SqlSink): Promise<SqlWriterResult> {
  const { id, manifest } = await snapshotDatabase(repo, opts.snapshot, opts.tables);
  await repo.lockShared();
  repo.startWorkers();
  return writeSqlDump(manifest, rowSource(repo), sink, { tables: opts.tables, database: opts.database, dropTables: opts.dropTables });
}
