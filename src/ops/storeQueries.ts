import { OcvaultError } from '../errors/OcvaultError.js';
import { parseConnectionUrl } from '../sources/mysql/index.js';
import { DbConnection, scalar, str } from '../sources/mysql/dbConnection.js';
import { quoteIdent } from '../sources/mysql/identifiers.js';

/** A statement with its parameters (`?`). */
export interface Statement {
  sql: string;
  values?: unknown[];
}

/** Runs `fn` with a connection to the database at `url` (errors never show the password). */
export async function withDatabase<T>(url: string, fn: (conn: DbConnection) => Promise<T>, opts: { noDatabase?: boolean; action?: string; connectTimeoutMs?: number } = {}): Promise<T> {
  const conn = await DbConnection.open(parseConnectionUrl(url), { action: opts.action ?? 'connect', noDatabase: opts.noDatabase, connectTimeoutMs: opts.connectTimeoutMs });
  try {
    return await fn(conn);
  } finally {
    await conn.close();
  }
}

/**
 * The store's name: `config_name` of store 0 in `<prefix>setting`; undefined when the
 * database cannot be reached or has none (the caller falls back to the URL's host).
 */
export async function storeNameFromDatabase(url: string, prefix: string): Promise<string | undefined> {
  try {
    return await withDatabase(url, async (conn) => {
      const rows = await conn.query(`SELECT \`value\` AS v FROM ${quoteIdent(prefix + 'setting')} WHERE store_id = 0 AND \`key\` = 'config_name' ORDER BY setting_id LIMIT 1`, [], 'read the store name');
      const v = scalar(rows);
      return v && v.trim() !== '' ? v.trim() : undefined;
    }, { action: 'read the store name', connectTimeoutMs: 5000 });
  } catch (e) {
    if (e instanceof OcvaultError) return undefined;
    throw e;
  }
}

/** How many tables, views, routines and events the database at `url` holds (0 when it does not exist). */
export async function databaseObjectCount(url: string): Promise<number> {
  const database = parseConnectionUrl(url).database;
  return withDatabase(url, async (conn) => {
    let n = 0;
    for (const sql of [
      'SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?',
      'SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?',
      'SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?',
    ]) n += Number(scalar(await conn.query(sql, [database], 'inspect the target database')) ?? 0);
    return n;
  }, { noDatabase: true, action: 'inspect the target database' });
}

/** Which of `names` exist as tables or views in the database at `url` (none when it does not exist). */
export async function existingTables(url: string, names: readonly string[]): Promise<string[]> {
  const database = parseConnectionUrl(url).database;
  return withDatabase(url, async (conn) => {
    const rows = await conn.query('SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?', [database], 'inspect the target database');
    return rows.map((r) => str(r, 'n')).filter((n) => names.includes(n));
  }, { noDatabase: true, action: 'inspect the target database' });
}

/** The base tables of the connection's database. */
export async function tableNames(conn: DbConnection): Promise<string[]> {
  const rows = await conn.query("SELECT TABLE_NAME AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'", [], 'list tables');
  return rows.map((r) => str(r, 'n'));
}

/** The columns of a table (empty when it does not exist). */
export async function columnNames(conn: DbConnection, table: string): Promise<string[]> {
  const rows = await conn.query('SELECT COLUMN_NAME AS n FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION', [table], 'list columns');
  return rows.map((r) => str(r, 'n'));
}
