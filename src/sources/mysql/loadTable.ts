import { Readable } from 'node:stream';
import { OcvaultError } from '../../errors/OcvaultError.js';
import { describeTarget } from './connectionUrl.js';
import type { DbConnection } from './dbConnection.js';
import { quoteIdent } from './identifiers.js';
import type { TableManifest } from './manifest.js';
import { decodeRows } from './rowFormat.js';
import { insertPrefix, sqlTuple } from './sqlLiteral.js';
import { isTransactionalEngine } from './tablePlan.js';

/**
 * `load-data`: the row bytes go unchanged into `LOAD DATA LOCAL INFILE` (fast);
 * `insert`: rows become multi-row INSERTs, for servers with local_infile off.
 */
export type LoadMode = 'load-data' | 'insert';

/**
 * Creates one table in the connection's (empty) database and loads its rows with keys and
 * checks off; MyISAM/Aria indexes are rebuilt once at the end. Checks the server took as
 * many rows as the snapshot holds.
 */
export async function loadTable(conn: DbConnection, table: TableManifest, rows: AsyncIterable<Buffer>, mode: LoadMode, maxStatementBytes: number): Promise<void> {
  const q = quoteIdent(table.name);
  await conn.run(table.createStatement, [], 'create table', table.name);
  const disableKeys = !isTransactionalEngine(table.engine);
  if (disableKeys) await conn.run(`ALTER TABLE ${q} DISABLE KEYS`, [], 'load', table.name);
  let loaded: number;
  if (mode === 'load-data') {
    const sql =
      `LOAD DATA LOCAL INFILE ${conn.core.escape(`ocvault:${table.name}`)} INTO TABLE ${q} CHARACTER SET binary ` +
      "FIELDS TERMINATED BY '\\t' ENCLOSED BY '' ESCAPED BY '\\\\' LINES STARTING BY '' TERMINATED BY '\\n' " +
      `(${table.columns.map((c) => quoteIdent(c.name)).join(', ')})`;
    const r = await conn.run(sql, [], 'load', table.name, () => Readable.from(rows, { objectMode: false }));
    loaded = r.affectedRows;
  } else {
    loaded = await insertRows(conn, table, rows, maxStatementBytes);
  }
  if (disableKeys) await conn.run(`ALTER TABLE ${q} ENABLE KEYS`, [], 'load', table.name);
  if (loaded !== table.rowCount) {
    throw new OcvaultError('DatabaseError', `table \`${table.name}\` of ${describeTarget(conn.target)} took ${loaded} rows, the snapshot holds ${table.rowCount}`, { database: conn.target.database, table: table.name });
  }
}

async function insertRows(conn: DbConnection, table: TableManifest, rows: AsyncIterable<Buffer>, maxStatementBytes: number): Promise<number> {
  const prefix = insertPrefix(table.name, table.columns);
  let stmt = '';
  let loaded = 0;
  const flush = async (): Promise<void> => {
    if (stmt === '') return;
    const r = await conn.run(stmt, [], 'load', table.name);
    loaded += r.affectedRows;
    stmt = '';
  };
  for await (const row of decodeRows(rows, `rows of table ${table.name}`)) {
    if (row.length !== table.columns.length) {
      throw new OcvaultError('CorruptObject', `a row of table \`${table.name}\` has ${row.length} fields, expected ${table.columns.length}`, { table: table.name });
    }
    const tuple = sqlTuple(row, table.columns);
    if (stmt !== '' && stmt.length + tuple.length + 1 > maxStatementBytes) await flush();
    stmt = stmt === '' ? prefix + tuple : `${stmt},${tuple}`;
  }
  await flush();
  return loaded;
}
