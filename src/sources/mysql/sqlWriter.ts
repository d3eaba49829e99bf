import { OcvaultError } from '../../errors/OcvaultError.js';
import type { DefinerPolicy } from './createObjects.js';
import { stripDefiner } from './definer.js';
import { quoteIdent, quoteString } from './identifiers.js';
import type { DatabaseManifest, TableManifest } from './manifest.js';
import type { RowSource } from './loader.js';
import { insertStatements } from './sqlInserts.js';
import { isTransactionalEngine } from './tablePlan.js';
import { orderViews } from './viewOrder.js';

/** Where SQL text goes, in order; a returned promise holds the writer (backpressure). */
export type SqlSink = (bytes: Buffer) => Promise<void> | void;

export interface SqlWriterOptions {
  /** only these tables and their triggers (default: everything) */
  tables?: readonly string[];
  /** add `DROP TABLE IF EXISTS` before each CREATE (default false: the target should be empty) */
  dropTables?: boolean;
  /** start with CREATE DATABASE IF NOT EXISTS + USE of this name (default: none, load into the client's database) */
  database?: string;
  /** `strip` writes views, triggers, routines and events without DEFINER (default `keep`) */
  definers?: Exclude<DefinerPolicy, 'auto'>;
  /** upper bound of one INSERT statement (default 1 MiB) */
  maxStatementBytes?: number;
}

export interface SqlWriterResult {
  bytes: number;
  tables: number;
  rows: number;
}

const FLUSH_BYTES = 1 << 20;

/**
 * Writes a snapshot's database as standard SQL that the stock `mariadb` / `mysql` client
 * loads into an empty database: session setup, CREATE TABLE + multi-row INSERTs (binary as
 * hex literals), then routines and triggers (with DELIMITER), views and events.
 */
export async function writeSqlDump(manifest: DatabaseManifest, rows: RowSource, sink: SqlSink, options: SqlWriterOptions = {}): Promise<SqlWriterResult> {
  const wanted = options.tables ? new Set(options.tables) : undefined;
  if (wanted) {
    const missing = [...wanted].filter((n) => !manifest.tables.some((t) => t.name === n));
    if (missing.length > 0) throw new OcvaultError('Usage', `table ${missing.map((n) => `\`${n}\``).join(', ')} is not in the snapshot of database "${manifest.database}"`, { table: missing[0] });
  }
  const whole = wanted === undefined;
  const tables = manifest.tables.filter((t) => !wanted || wanted.has(t.name));
  const definer = (s: string): string => (options.definers === 'strip' ? stripDefiner(s) : s);
  const maxStatement = options.maxStatementBytes ?? 1 << 20;

  let pending: Buffer[] = [];
  let pendingLength = 0;
  let bytes = 0;
  const out = async (data: string | Buffer): Promise<void> => {
    const b = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    pending.push(b);
    pendingLength += b.length;
    if (pendingLength >= FLUSH_BYTES) await flush();
  };
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const b = pending.length === 1 ? (pending[0] as Buffer) : Buffer.concat(pending, pendingLength);
    pending = [];
    pendingLength = 0;
    bytes += b.length;
    await sink(b);
  };

  await out(
    `-- ocvault SQL dump of database ${quoteIdent(manifest.database)}, snapshot of ${manifest.dumpedAt}, server ${manifest.serverVersion}\n` +
      (manifest.binlog ? `-- binary log position: ${manifest.binlog.file}:${manifest.binlog.position}${manifest.binlog.gtid ? ` (GTID ${manifest.binlog.gtid})` : ''}\n` : '') +
      '\n/*!40101 SET NAMES utf8mb4 */;\n' +
      "SET @OCVAULT_OLD_TZ = @@time_zone, @OCVAULT_OLD_MODE = @@sql_mode, @OCVAULT_OLD_FK = @@foreign_key_checks, @OCVAULT_OLD_UC = @@unique_checks;\n" +
      "SET time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO', foreign_key_checks = 0, unique_checks = 0, sql_notes = 0;\n\n",
  );
  if (options.database !== undefined) {
    const cs = manifest.charset ? ` CHARACTER SET ${manifest.charset}${manifest.collation ? ` COLLATE ${manifest.collation}` : ''}` : '';
    await out(`CREATE DATABASE IF NOT EXISTS ${quoteIdent(options.database)}${cs};\nUSE ${quoteIdent(options.database)};\n\n`);
  }

  let rowTotal = 0;
  for (const table of tables) {
    rowTotal += await writeTable(table, rows(table), out, options.dropTables === true, maxStatement);
  }

  if (whole && manifest.routines.length > 0) {
    await out('--\n-- Routines\n--\n\n');
    for (const r of manifest.routines) await out(compound(definer(r.createStatement), r.sqlMode, r.collationConnection));
  }
  if (whole && manifest.views.length > 0) {
    await out('--\n-- Views\n--\n\n');
    for (const v of orderViews(manifest.views)) {
      await out(`SET collation_connection = ${quoteString(v.collationConnection || 'utf8mb4_general_ci')};\n${definer(v.createStatement)};\nSET collation_connection = 'utf8mb4_general_ci';\n\n`);
    }
  }
  const triggers = manifest.triggers.filter((t) => whole || wanted.has(t.table));
  if (triggers.length > 0) {
    await out('--\n-- Triggers\n--\n\n');
    for (const t of triggers) await out(compound(definer(t.createStatement), t.sqlMode, t.collationConnection));
  }
  if (whole && manifest.events.length > 0) {
    await out('--\n-- Events\n--\n\n');
    for (const e of manifest.events) {
      await out(`SET time_zone = ${quoteString(e.timeZone || '+00:00')};\n${compound(definer(e.createStatement), e.sqlMode, e.collationConnection)}SET time_zone = '+00:00';\n\n`);
    }
  }
  await out('SET time_zone = @OCVAULT_OLD_TZ, sql_mode = @OCVAULT_OLD_MODE, foreign_key_checks = @OCVAULT_OLD_FK, unique_checks = @OCVAULT_OLD_UC;\n-- dump complete\n');
  await flush();
  return { bytes, tables: tables.length, rows: rowTotal };
}

async function writeTable(table: TableManifest, rows: AsyncIterable<Buffer>, out: (s: string | Buffer) => Promise<void>, drop: boolean, maxStatement: number): Promise<number> {
  const q = quoteIdent(table.name);
  const keys = !isTransactionalEngine(table.engine);
  await out(`--\n-- Table ${q}\n--\n\n${drop ? `DROP TABLE IF EXISTS ${q};\n` : ''}${table.createStatement};\n\n`);
  if (keys) await out(`/*!40000 ALTER TABLE ${q} DISABLE KEYS */;\n`);
  for await (const statement of insertStatements(table, rows, maxStatement)) {
    await out(statement);
    await out(';\n');
  }
  if (keys) await out(`/*!40000 ALTER TABLE ${q} ENABLE KEYS */;\n`);
  await out('\n');
  return table.rowCount;
}

/** A routine/trigger/event body between DELIMITER lines, in its own sql_mode. */
function compound(statement: string, sqlMode: string, collation: string): string {
  const delimiter = [';;', '$$', '//', '@@', '##'].find((d) => !statement.includes(d)) ?? '$$ocvault$$';
  return (
    `SET @OCVAULT_SAVED_MODE = @@sql_mode;\nSET sql_mode = ${quoteString(sqlMode)}, collation_connection = ${quoteString(collation || 'utf8mb4_general_ci')};\n` +
    `DELIMITER ${delimiter}\n${statement} ${delimiter}\nDELIMITER ;\n` +
    "SET sql_mode = @OCVAULT_SAVED_MODE, collation_connection = 'utf8mb4_general_ci';\n\n"
  );
}
