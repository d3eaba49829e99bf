import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { OcvaultError } from '../../errors/OcvaultError.js';
import { describeTarget } from './connectionUrl.js';
import type { DbConnection } from './dbConnection.js';
import { quoteIdent } from './identifiers.js';
import type { TableManifest } from './manifest.js';
import { insertStatements } from './sqlInserts.js';
import { isTransactionalEngine } from './tablePlan.js';

/**
 * `load-data`: the row bytes go unchanged into `LOAD DATA LOCAL INFILE` (fast);
 * `insert`: rows become multi-row INSERTs, for servers with local_infile off.
 */
export type LoadMode = 'load-data' | 'insert';

/**
 * Creates one table in the connection's (empty) database, ready for its rows: MyISAM/Aria
 * indexes are switched off until finishTableLoad rebuilds them once.
 */
export async function createTableForLoad(conn: DbConnection, table: TableManifest): Promise<void> {
  await conn.run(table.createStatement, [], 'create table', table.name);
  if (!isTransactionalEngine(table.engine)) await conn.run(`ALTER TABLE ${quoteIdent(table.name)} DISABLE KEYS`, [], 'load', table.name);
}

/**
 * Loads row lines into a created table (the whole stream or one part of it, see rowParts.ts)
 * with keys and checks off; returns the rows the server took. `rows` gives the lines from their
 * start each time it is called: a statement the server chose as a deadlock's victim runs again.
 */
export async function loadRows(conn: DbConnection, table: TableManifest, rows: () => AsyncIterable<Buffer>, mode: LoadMode, maxStatementBytes: number): Promise<number> {
  if (mode === 'insert') return insertRows(conn, table, rows(), maxStatementBytes);
  const sql =
    `LOAD DATA LOCAL INFILE ${conn.core.escape(`ocvault:${table.name}`)} INTO TABLE ${quoteIdent(table.name)} CHARACTER SET binary ` +
    "FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' LINES STARTING BY '' TERMINATED BY '\\n' " +
    loadDataColumns(table);
  const r = await retryingDeadlocks(() => conn.run(sql, [], 'load', table.name, () => Readable.from(rows(), { objectMode: false })));
  return r.affectedRows;
}

/** Times a statement that was a deadlock's victim runs again before its failure is the load's. */
const DEADLOCK_RETRIES = 5;

/**
 * Runs a load statement, again when the server rolled it back as a deadlock's victim. The parts
 * of one big InnoDB table load over several connections at once, and their locks (the table's
 * AUTO-INC lock, gap locks at the parts' edges) can deadlock: the server then rolls one
 * statement back whole (each runs in a transaction of its own) and asks for it to be restarted.
 */
export async function retryingDeadlocks<T>(run: () => Promise<T>, retries = DEADLOCK_RETRIES, pause = (attempt: number) => sleep(10 * attempt + Math.random() * 20)): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (e) {
      if (attempt > retries || !isDeadlock(e)) throw e;
      await pause(attempt);
    }
  }
}

function isDeadlock(e: unknown): boolean {
  return e instanceof OcvaultError && (e.data.driverCode === 'ER_LOCK_DEADLOCK' || e.data.errno === 1213);
}

/** Rebuilds MyISAM/Aria indexes and checks the server took as many rows as the snapshot holds. */
export async function finishTableLoad(conn: DbConnection, table: TableManifest, loaded: number): Promise<void> {
  if (!isTransactionalEngine(table.engine)) await conn.run(`ALTER TABLE ${quoteIdent(table.name)} ENABLE KEYS`, [], 'load', table.name);
  if (loaded !== table.rowCount) {
    throw new OcvaultError('DatabaseError', `table \`${table.name}\` of ${describeTarget(conn.target)} took ${loaded} rows, the snapshot holds ${table.rowCount}`, { database: conn.target.database, table: table.name });
  }
}

/**
 * The column list of LOAD DATA. The file is read as binary (no conversion), which types
 * like INET6 and UUID take for their 16-byte binary form; their text goes through a
 * variable and is converted as text instead. (Once one column uses SET, every column goes
 * through a variable: MariaDB 10.11 ignores NO_AUTO_VALUE_ON_ZERO for columns listed
 * directly next to a SET clause, turning an id of 0 into a new id.)
 */
function loadDataColumns(table: TableManifest): string {
  if (!table.columns.some((c) => c.kind === 'other')) return `(${table.columns.map((c) => quoteIdent(c.name)).join(', ')})`;
  const vars = table.columns.map((_, i) => `@ocvault_${i}`);
  const sets = table.columns.map((c, i) => `${quoteIdent(c.name)} = ${c.kind === 'other' ? `CONVERT(@ocvault_${i} USING utf8mb4)` : `@ocvault_${i}`}`);
  return `(${vars.join(', ')}) SET ${sets.join(', ')}`;
}

async function insertRows(conn: DbConnection, table: TableManifest, rows: AsyncIterable<Buffer>, maxStatementBytes: number): Promise<number> {
  let loaded = 0;
  for await (const statement of insertStatements(table, rows, maxStatementBytes)) {
    const text = statement.toString('utf8');
    const r = await retryingDeadlocks(() => conn.run(text, [], 'load', table.name));
    loaded += r.affectedRows;
  }
  return loaded;
}
