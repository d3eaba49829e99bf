import { OcvaultError } from '../../errors/OcvaultError.js';
import { describeTarget, parseConnectionUrl, type ConnectionTarget } from './connectionUrl.js';
import { openConsistentSnapshot, type ConsistentSnapshot } from './consistentSnapshot.js';
import { str, type DbConnection } from './dbConnection.js';
import { quoteIdent } from './identifiers.js';
import { ROW_FORMAT } from './rowFormat.js';
import type { DatabaseManifest, TableManifest } from './manifest.js';
import { readSchemaObjects, type SchemaObjects } from './schemaObjects.js';
import { ConnectionPool } from './connectionPool.js';
import { DEFAULT_CHUNK_BYTES, streamTableRows, type RowSink } from './tableRows.js';
import { tableShape } from './tableShape.js';
import { definitionFingerprint, readTableDefinition } from './tableDefinition.js';
import type { TablePlan } from './tablePlan.js';

export interface DumpOptions {
  /** connections reading tables at once, all sharing one snapshot (default 2) */
  parallel?: number;
  /** only these tables (default: every base table) */
  tables?: readonly string[];
  /** tables dumped without their rows (e.g. sessions): structure only, row count 0 */
  schemaOnly?: readonly string[];
  /** size of the byte chunks handed to a sink (default 1 MiB) */
  chunkBytes?: number;
  /** how long to wait for writers before giving up on the lock (default 60 s) */
  lockWaitTimeoutSeconds?: number;
}

/** What a dump produced for one table: its manifest without the blob ids. */
export type TableDump = Omit<TableManifest, 'rowData'>;

/** The database manifest without its tables (they come from dumpTable). */
export type DatabaseDumpInfo = Omit<DatabaseManifest, 'tables'>;

/**
 * A consistent dump in progress. Call `dumpTable` for every table in `tables`, in that order
 * (non-transactional tables come first, so their read lock ends early), up to `parallel`
 * calls at once; then `finish`. After any error the session is aborted: call nothing more.
 */
export interface DumpSession {
  readonly database: string;
  readonly tables: readonly TablePlan[];
  readonly parallel: number;
  dumpTable(name: string, sink: RowSink): Promise<TableDump>;
  /** Ends the snapshot; throws when a planned table was not dumped. */
  finish(): Promise<DatabaseDumpInfo>;
  abort(): Promise<void>;
}

/**
 * Opens a consistent dump of one database: takes the snapshot (see consistentSnapshot.ts),
 * records the binary log position and reads views, triggers, routines and events.
 */
export async function openDumpSession(target: ConnectionTarget | string, options: DumpOptions = {}): Promise<DumpSession> {
  const t = typeof target === 'string' ? parseConnectionUrl(target) : target;
  const snap = await openConsistentSnapshot(t, {
    parallel: Math.max(1, Math.floor(options.parallel ?? 2)),
    tables: options.tables,
    lockWaitTimeoutSeconds: options.lockWaitTimeoutSeconds ?? 60,
  });
  try {
    const objects = await readSchemaObjects(snap.workers[0] as DbConnection);
    return new Session(t, snap, objects, options);
  } catch (e) {
    snap.abort();
    throw e;
  }
}

class Session implements DumpSession {
  readonly database: string;
  readonly tables: readonly TablePlan[];
  readonly parallel: number;
  private readonly workers: ConnectionPool;
  /** the connections holding the read locks: they read the non-transactional tables */
  private readonly holders: ConnectionPool;
  private nonTxLeft: number;
  private readonly done = new Set<string>();
  private readonly started = new Set<string>();
  private failed: unknown;
  private closed = false;

  constructor(
    private readonly target: ConnectionTarget,
    private readonly snap: ConsistentSnapshot,
    private readonly objects: SchemaObjects,
    private readonly options: DumpOptions,
  ) {
    this.database = target.database;
    this.tables = snap.tables;
    this.parallel = Math.max(snap.workers.length, snap.holders.length);
    this.workers = new ConnectionPool(snap.workers);
    this.holders = new ConnectionPool(snap.holders);
    this.nonTxLeft = snap.holders.length > 0 ? snap.tables.filter((t) => !t.transactional).length : 0;
  }

  async dumpTable(name: string, sink: RowSink): Promise<TableDump> {
    if (this.failed !== undefined || this.closed) throw new OcvaultError('DatabaseError', `dump of ${describeTarget(this.target)} was already ended`, { database: this.database, table: name });
    const plan = this.tables.find((p) => p.name === name);
    if (!plan) throw new OcvaultError('DatabaseError', `table \`${name}\` is not part of the dump of ${describeTarget(this.target)}`, { database: this.database, table: name });
    if (this.started.has(name)) throw new OcvaultError('DatabaseError', `table \`${name}\` was already dumped`, { database: this.database, table: name });
    this.started.add(name);
    const locked = !plan.transactional && this.snap.holders.length > 0;
    const pool = locked ? this.holders : this.workers;
    const conn = await pool.acquire();
    try {
      const result = await this.readTable(conn, plan, sink);
      this.done.add(name);
      pool.release(conn);
      if (locked && --this.nonTxLeft === 0) await this.snap.releaseNonTransactional();
      return result;
    } catch (e) {
      this.failed ??= e;
      await this.abort();
      throw e;
    }
  }

  private async readTable(conn: DbConnection, plan: TablePlan, sink: RowSink): Promise<TableDump> {
    const q = quoteIdent(plan.name);
    // Holds the table's metadata lock until the snapshot ends: no DDL on it from here on; a
    // DDL between the snapshot and now makes the row read fail with ER_TABLE_DEF_CHANGED.
    await conn.run(`SELECT 1 FROM ${q} LIMIT 0`, [], 'dump', plan.name);
    const [created] = await conn.query(`SHOW CREATE TABLE ${q}`, [], 'dump', plan.name);
    const createStatement = str(created ?? {}, 'Create Table');
    const definition = await readTableDefinition(conn, plan.name);
    if (definitionFingerprint(definition) !== this.snap.definitions.get(plan.name)) {
      throw new OcvaultError('DatabaseError', `table \`${plan.name}\` of ${describeTarget(this.target)} was altered while it was being dumped; run the backup again`, { database: this.database, table: plan.name });
    }
    const shape = tableShape(definition);
    const schemaOnly = this.options.schemaOnly?.includes(plan.name) ?? false;
    const rows = schemaOnly
      ? { rows: 0, bytes: 0, checksum: EMPTY_CHECKSUM }
      : await streamTableRows(conn, plan.name, shape, sink, this.options.chunkBytes ?? DEFAULT_CHUNK_BYTES, 'dump');
    return {
      name: plan.name, engine: plan.engine, createStatement,
      columns: shape.columns, orderBy: shape.orderBy, orderKey: shape.orderKey,
      rowCount: rows.rows, rowBytes: rows.bytes, checksum: rows.checksum,
    };
  }

  async finish(): Promise<DatabaseDumpInfo> {
    if (this.failed !== undefined) throw this.failed;
    const missing = this.tables.filter((p) => !this.done.has(p.name)).map((p) => p.name);
    if (missing.length > 0) {
      await this.abort();
      throw new OcvaultError('DatabaseError', `dump of ${describeTarget(this.target)} is incomplete: table ${missing.map((n) => `\`${n}\``).join(', ')} not dumped`, { database: this.database, table: missing[0] });
    }
    this.closed = true;
    await this.snap.close();
    const { charset, collation, views, triggers, routines, events } = this.objects;
    return {
      version: 1, rowFormat: ROW_FORMAT, database: this.database, serverVersion: this.snap.serverVersion,
      charset, collation, dumpedAt: this.snap.dumpedAt,
      ...(this.snap.binlog ? { binlog: this.snap.binlog } : {}),
      locks: this.snap.locks, views, triggers, routines, events,
    };
  }

  async abort(): Promise<void> {
    this.closed = true;
    this.snap.abort();
    const why = this.failed ?? new OcvaultError('DatabaseError', `dump of ${describeTarget(this.target)} was aborted`, { database: this.database });
    this.workers.close(why);
    this.holders.close(why);
  }
}

/** BLAKE3-256 of no bytes: the checksum of an empty table. */
export const EMPTY_CHECKSUM = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262';
