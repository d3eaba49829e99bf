/**
 * The MySQL/MariaDB source: consistent dumps into row streams, fast loads back, checksum
 * verification, and standard SQL export. What the engine (src/ops) calls.
 */
export { parseConnectionUrl, formatConnectionUrl, redactConnectionUrl, describeTarget, withDatabase, type ConnectionTarget } from './connectionUrl.js';
export { dumpDatabase, type TableSink, type DumpDatabaseOptions } from './dumpDatabase.js';
export { openDumpSession, EMPTY_CHECKSUM, type DumpSession, type DumpOptions, type TableDump, type DatabaseDumpInfo } from './dumper.js';
export type { TablePlan } from './tablePlan.js';
export type { RowSink } from './tableRows.js';
export { loadDatabase, type LoadOptions, type LoadResult, type RowSource } from './loader.js';
export type { DefinerPolicy } from './createObjects.js';
export { verifyTables, type TableCheck, type VerifyOptions } from './verify.js';
export { writeSqlDump, type SqlSink, type SqlWriterOptions, type SqlWriterResult } from './sqlWriter.js';
export {
  encodeDatabaseManifest, decodeDatabaseManifest, encodeTableManifest, decodeTableManifest,
  type DatabaseManifest, type TableManifest, type StoredTableManifest, type ColumnManifest, type ColumnKind, type ViewManifest,
  type TriggerManifest, type RoutineManifest, type EventManifest, type BinlogPosition, type LockStats,
} from './manifest.js';
export { splitRowGroups, encodeRowGroup, decodeRowGroup, ROW_GROUP_INLINE_MAX } from './rowGroups.js';
export { ROW_FORMAT, RowEncoder, encodeRow, type RawRow } from './rowFormat.js';
export { RowDecoder, RowView, decodeRows } from './rowDecoder.js';
export { startThrowawayServer, type ThrowawayServer, type ThrowawayServerOptions } from './throwawayServer.js';
