import { OcvaultError } from '../../errors/OcvaultError.js';
import { isBlobId, type BlobId } from '../../repo/blobId.js';
import { ROW_FORMAT } from './rowFormat.js';

/**
 * The database manifest: everything a restore needs, as plain data. Row bytes are not in
 * here; each table lists the blob ids holding its row stream (see rowFormat.ts), in order.
 */

/**
 * How a column's value is written in a row line, decided by its type:
 * integer/decimal/temporal/other: ASCII text as the server prints it;
 * float: the server's shortest round-trip text of CAST(col AS DOUBLE);
 * text: bytes in the column's character set (`charset`); binary/bit/geometry: raw bytes.
 */
export type ColumnKind = 'integer' | 'decimal' | 'float' | 'temporal' | 'text' | 'binary' | 'bit' | 'geometry' | 'other';

export const COLUMN_KINDS: readonly ColumnKind[] = ['integer', 'decimal', 'float', 'temporal', 'text', 'binary', 'bit', 'geometry', 'other'];

export interface ColumnManifest {
  name: string;
  /** the full column type, e.g. `int(11) unsigned`, `varchar(64)`, `decimal(15,4)` */
  type: string;
  kind: ColumnKind;
  /** character set of a text column (`utf8mb4`, `latin1`, ...) */
  charset?: string;
  nullable: boolean;
}

export interface TableManifest {
  name: string;
  /** `InnoDB`, `MyISAM`, `Aria`, ... */
  engine: string;
  /** SHOW CREATE TABLE, with its AUTO_INCREMENT */
  createStatement: string;
  /** the columns in a row line, in order (generated columns are left out: the server recomputes them) */
  columns: ColumnManifest[];
  /** the columns rows are ordered by (the primary key, a unique NOT NULL key, or every column) */
  orderBy: string[];
  /** which key gave the order: `PRIMARY`, a unique index name, or `` for every column */
  orderKey: string;
  rowCount: number;
  /** bytes of the row stream */
  rowBytes: number;
  /** BLAKE3-256 (hex) of the row stream; a restore recomputes it by reading the table back */
  checksum: string;
  /** the blob ids holding the row stream, in order (filled in by the engine) */
  rowData: BlobId[];
}

/**
 * A table manifest as stored in its own blob: the row ids inline (small tables, and every
 * manifest written before row groups existed) or, for a big table, the ids of its row-group
 * blobs (rowGroups.ts), whose concatenated lists are `rowData`.
 */
export type StoredTableManifest = Omit<TableManifest, 'rowData'> & ({ rowData: BlobId[]; rowGroups?: never } | { rowGroups: BlobId[]; rowData?: never });

export interface ViewManifest {
  name: string;
  createStatement: string;
  characterSetClient: string;
  collationConnection: string;
}

export interface TriggerManifest {
  name: string;
  table: string;
  createStatement: string;
  sqlMode: string;
  characterSetClient: string;
  collationConnection: string;
  databaseCollation: string;
}

export interface RoutineManifest {
  name: string;
  type: 'PROCEDURE' | 'FUNCTION';
  createStatement: string;
  sqlMode: string;
  characterSetClient: string;
  collationConnection: string;
  databaseCollation: string;
}

export interface EventManifest {
  name: string;
  createStatement: string;
  sqlMode: string;
  timeZone: string;
  characterSetClient: string;
  collationConnection: string;
  databaseCollation: string;
}

/** The binary log position matching the dump, when the server logs one. */
export interface BinlogPosition {
  file: string;
  position: number;
  /** MariaDB @@gtid_binlog_pos (or MySQL @@gtid_executed) at the dump */
  gtid?: string;
}

/** What was locked to make the dump consistent, and for how long. */
export interface LockStats {
  /**
   * `snapshot`: one connection, one consistent-snapshot transaction, no lock;
   * `lock-tables`: every dumped table read-locked briefly while the worker connections
   *   opened their snapshots, non-transactional tables kept read-locked until dumped;
   * `unlocked`: no lock could be taken (see warnings): InnoDB tables are consistent per
   *   connection only, MyISAM/Aria tables were read as they changed.
   */
  strategy: 'snapshot' | 'lock-tables' | 'unlocked';
  /** time spent waiting to get the lock */
  lockWaitMs: number;
  /** how long every dumped table was read-locked (writers to them waited) */
  allTablesLockedMs: number;
  /** non-transactional tables kept read-locked for their part of the dump */
  nonTransactionalTables: string[];
  /** how long those stayed locked */
  nonTransactionalLockedMs: number;
  warnings: string[];
}

export interface DatabaseManifest {
  version: 1;
  rowFormat: typeof ROW_FORMAT;
  database: string;
  /** SELECT VERSION() of the source server */
  serverVersion: string;
  charset: string;
  collation: string;
  /** ISO time the consistent snapshot was taken */
  dumpedAt: string;
  binlog?: BinlogPosition;
  locks: LockStats;
  tables: TableManifest[];
  views: ViewManifest[];
  triggers: TriggerManifest[];
  routines: RoutineManifest[];
  events: EventManifest[];
}

export function encodeTableManifest(t: StoredTableManifest): Buffer {
  return Buffer.from(JSON.stringify(t));
}

export function encodeDatabaseManifest(m: DatabaseManifest): Buffer {
  return Buffer.from(JSON.stringify(m));
}

type Bad = (why: string) => OcvaultError;

function isStr(v: unknown): v is string {
  return typeof v === 'string';
}

function need(ok: boolean, bad: Bad, why: string): void {
  if (!ok) throw bad(why);
}

function checkTable(t: StoredTableManifest, bad: Bad, stored = false): void {
  need(typeof t === 'object' && t !== null && isStr(t.name) && t.name !== '', bad, 'table without a name');
  const b: Bad = (why) => bad(`table ${t.name}: ${why}`);
  need(isStr(t.engine) && isStr(t.createStatement) && isStr(t.orderKey), b, 'engine, create statement or order key');
  need(Array.isArray(t.columns) && t.columns.length > 0, b, 'no columns');
  for (const c of t.columns) {
    need(typeof c === 'object' && c !== null && isStr(c.name) && isStr(c.type) && COLUMN_KINDS.includes(c.kind) && typeof c.nullable === 'boolean', b, 'bad column');
    need(c.charset === undefined || isStr(c.charset), b, `bad charset of column ${c.name}`);
  }
  need(Array.isArray(t.orderBy) && t.orderBy.every(isStr), b, 'bad order');
  need(Number.isSafeInteger(t.rowCount) && t.rowCount >= 0 && Number.isSafeInteger(t.rowBytes) && t.rowBytes >= 0, b, 'bad row count');
  need(isStr(t.checksum) && /^[0-9a-f]{64}$/.test(t.checksum), b, 'bad checksum');
  const ids = (v: unknown): boolean => Array.isArray(v) && v.every(isBlobId);
  if (stored && t.rowGroups !== undefined) need(t.rowData === undefined && ids(t.rowGroups), b, 'bad row group ids');
  else need(ids(t.rowData), b, 'bad row data ids');
}

/** Parses a stored table manifest (row ids inline or in groups); `name` names the object in errors. */
export function decodeTableManifest(bytes: Uint8Array, name: string): StoredTableManifest {
  const bad: Bad = (why) => new OcvaultError('CorruptObject', `table manifest ${name.slice(0, 12)} is malformed: ${why}`, { object: name });
  const t = parse(bytes, bad) as StoredTableManifest;
  checkTable(t, bad, true);
  return t;
}

/** Parses a database manifest; `name` names the object in errors. */
export function decodeDatabaseManifest(bytes: Uint8Array, name: string): DatabaseManifest {
  const bad: Bad = (why) => new OcvaultError('CorruptObject', `database manifest ${name.slice(0, 12)} is malformed: ${why}`, { object: name });
  const m = parse(bytes, bad) as DatabaseManifest;
  need(typeof m === 'object' && m !== null && m.version === 1, bad, 'unknown version');
  need(m.rowFormat === ROW_FORMAT, bad, `unknown row format ${String(m.rowFormat)}`);
  need(isStr(m.database) && isStr(m.serverVersion) && isStr(m.charset) && isStr(m.collation) && isStr(m.dumpedAt), bad, 'database, server, charset or time');
  need(Array.isArray(m.tables) && Array.isArray(m.views) && Array.isArray(m.triggers) && Array.isArray(m.routines) && Array.isArray(m.events), bad, 'object lists');
  for (const t of m.tables) checkTable(t, bad);
  for (const o of [...m.views, ...m.triggers, ...m.routines, ...m.events] as Array<{ name?: unknown; createStatement?: unknown }>) {
    need(typeof o === 'object' && o !== null && isStr(o.name) && isStr(o.createStatement), bad, 'view, trigger, routine or event without name or statement');
  }
  need(typeof m.locks === 'object' && m.locks !== null && Array.isArray(m.locks.warnings), bad, 'lock statistics');
  if (m.binlog !== undefined) need(isStr(m.binlog.file) && Number.isSafeInteger(m.binlog.position), bad, 'binlog position');
  return m;
}

function parse(bytes: Uint8Array, bad: Bad): unknown {
  try {
    return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw bad('not JSON');
  }
}
