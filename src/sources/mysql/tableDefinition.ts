import { str, type DbConnection, type Row } from './dbConnection.js';

/** A table's columns and index parts as information_schema describes them. */
export interface TableDefinition {
  columns: ColumnInfo[];
  /** index parts in definition order */
  keys: KeyPart[];
}

export interface ColumnInfo {
  name: string;
  dataType: string;
  columnType: string;
  charset: string;
  nullable: boolean;
  generated: boolean;
}

export interface KeyPart {
  index: string;
  seq: number;
  column: string;
  unique: boolean;
  btree: boolean;
  subPart: string;
}

const COLUMNS = 'TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, CHARACTER_SET_NAME, IS_NULLABLE, EXTRA, ORDINAL_POSITION';
const KEYS = 'TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE, INDEX_TYPE, SUB_PART';

function column(r: Row): ColumnInfo {
  const extra = str(r, 'EXTRA').toUpperCase();
  return {
    name: str(r, 'COLUMN_NAME'), dataType: str(r, 'DATA_TYPE'), columnType: str(r, 'COLUMN_TYPE'), charset: str(r, 'CHARACTER_SET_NAME'),
    nullable: str(r, 'IS_NULLABLE') !== 'NO',
    // MariaDB and MySQL both say `VIRTUAL GENERATED` / `STORED GENERATED` (older MariaDB: `PERSISTENT`)
    generated: /GENERATED|VIRTUAL|PERSISTENT|STORED/.test(extra),
  };
}

function keyPart(r: Row): KeyPart {
  return {
    index: str(r, 'INDEX_NAME'), seq: Number(str(r, 'SEQ_IN_INDEX')), column: str(r, 'COLUMN_NAME'),
    unique: str(r, 'NON_UNIQUE') === '0', btree: str(r, 'INDEX_TYPE') === 'BTREE', subPart: str(r, 'SUB_PART'),
  };
}

function byPosition(a: Row, b: Row): number {
  return Number(str(a, 'ORDINAL_POSITION')) - Number(str(b, 'ORDINAL_POSITION'));
}

/** One table's definition (the connection's database). */
export async function readTableDefinition(conn: DbConnection, table: string): Promise<TableDefinition> {
  const cols = await conn.query(`SELECT ${COLUMNS} FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, [table], 'read columns', table);
  const keys = await conn.query(`SELECT ${KEYS} FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?`, [table], 'read keys', table);
  return { columns: cols.sort(byPosition).map(column), keys: keys.map(keyPart) };
}

/** Every table's definition in two queries (to notice DDL between listing and dumping). */
export async function readAllDefinitions(conn: DbConnection): Promise<Map<string, TableDefinition>> {
  const cols = await conn.query(`SELECT ${COLUMNS} FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()`, [], 'read columns');
  const keys = await conn.query(`SELECT ${KEYS} FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()`, [], 'read keys');
  const out = new Map<string, TableDefinition>();
  const get = (name: string): TableDefinition => {
    let d = out.get(name);
    if (!d) out.set(name, (d = { columns: [], keys: [] }));
    return d;
  };
  for (const r of cols.sort(byPosition)) get(str(r, 'TABLE_NAME')).columns.push(column(r));
  for (const r of keys) get(str(r, 'TABLE_NAME')).keys.push(keyPart(r));
  return out;
}

/** A string that changes whenever a column or an index of the table changes. */
export function definitionFingerprint(d: TableDefinition): string {
  const keys = [...d.keys].sort((a, b) => (a.index < b.index ? -1 : a.index > b.index ? 1 : a.seq - b.seq));
  return JSON.stringify([d.columns, keys]);
}
